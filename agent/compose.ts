/**
 * The composition root: the one place that builds every source (statsd listeners, host
 * collector, HTTP probe), the series store and every sink (the web server) from `Settings`, and
 * owns start-up order, reload and shutdown. Nothing else wires anything.
 *
 * Sources never call each other: the statsd path learns a probe's `group` from the `PidGroups`
 * lookup the host collector publishes.
 */
import fs from 'node:fs';
import { Store } from '../core/store.js';
import { Logger } from '../core/log.js';
import { groupLabeller, type PidGroups } from '../core/pid-groups.js';
import { StatsdIngest } from '../collector/statsd/ingest.js';
import { listenUdp, listenTcp, listenUnixgram, TransportStats, type Listener } from '../collector/statsd/listeners.js';
import { StatsdRelay } from '../collector/statsd/relay.js';
import { Mapper } from '../collector/statsd/mapper.js';
import { ChainMapper } from '../collector/statsd/mapper/chain.js';
import { HttpProbe } from '../collector/probe/http.js';
import { registerProcessMetrics } from '../collector/self.js';
import { registerStatsdMetrics } from '../collector/statsd/metrics.js';
import { startOtlpReceiver, type OtlpSource } from '../collector/otlp/index.js';
import { startOtlpPush } from '../exporters/otlp/index.js';
import { WebServer } from '../exporters/http.js';
import { readWebConfig, OPEN_WEB_CONFIG, type WebConfig } from '../exporters/web-config.js';
import { Analysis } from '../analysis/stage.js';
import { ANALYSIS_API_PATH, analysisHandler } from '../exporters/analysis-api.js';
import { startLiveView } from '../exporters/live/index.js';
import { packageVersion } from './package.js';
import type { Settings, StatsdSettings } from './settings.js';

/** A source with a life of its own (a timer): started after the listeners, stopped before the store goes. */
interface Source {
  readonly description: string;
  start(): void;
  stop(): Promise<void>;
}

export interface RunningAgent {
  readonly store: Store;
  readonly ingest: StatsdIngest;
  readonly udpPort: number | null;
  readonly tcpPort: number | null;
  readonly httpPort: number;
  readonly analysis: Analysis;
  reload(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The user's mapping file, then each preset; reads the files again on every call (reload).
 * With `dumpFsmPath`, the user file's glob rules are written there as a Graphviz graph
 * (statsd_exporter's `--debug.dump-fsm`); a failure to write is logged, not fatal, as there.
 */
export function buildMapper(statsd: StatsdSettings, dump?: { path: string; logger: Logger }): ChainMapper {
  const opts = {
    defaultObserverType: statsd.defaultObserverType,
    regexNameMaxLength: statsd.regexNameMaxLength,
    ...(statsd.defaultBuckets.length > 0 ? { defaultBuckets: [...statsd.defaultBuckets] } : {}),
  };
  const files = [...(statsd.mappingConfig ? [statsd.mappingConfig] : []), ...statsd.presets.map((p) => p.file)];
  const mappers = files.length > 0 ? files.map((f) => Mapper.fromFile(f, opts)) : [Mapper.empty(opts)];
  if (dump && dump.path !== '' && statsd.mappingConfig) {
    try {
      fs.writeFileSync(dump.path, mappers[0]!.globGraph());
      dump.logger.info('dumped the glob rules of the mapping file as a Graphviz graph', { file: dump.path });
    } catch (err) {
      dump.logger.error('error dumping FSM', { file: dump.path, error: (err as Error).message });
    }
  }
  return new ChainMapper(mappers);
}

/** The --web.config.file configuration (read again on every call: reload), or the open one. */
export function buildWebConfig(web: Settings['web']): WebConfig {
  return web.configFile ? readWebConfig(web.configFile) : OPEN_WEB_CONFIG;
}

/** The host collector and the lookup it publishes, or nothing when it is off. */
async function buildHost(settings: Settings, store: Store, logger: Logger): Promise<{ source: Source; groups: PidGroups; emptyGroups: () => string[] } | null> {
  const { host } = settings;
  if (!host.enabled) return null;
  // Loaded on demand: an agent that only serves statsd never loads the /proc readers.
  const { createHostCollector } = await import('../collector/host/index.js');
  const collector = createHostCollector(store, { intervalMs: host.intervalMs, perProcess: host.perProcess, groups: [...host.groups], warn: (msg, fields) => logger.warn(msg, fields) });
  return {
    source: {
      description: `host collector every ${host.intervalMs} ms (${collector.reads}), groups: ${host.groups.map((g) => `${g.name} (${g.role})`).join(', ') || 'none'}`,
      start: () => collector.start(),
      stop: () => collector.stop(),
    },
    groups: collector,
    // Declared groups that have matched no process yet, for the live view's banner (the /proc
    // collector knows; the fallback collector does not say, and then none is shown).
    emptyGroups: () => collector.emptyGroups(),
  };
}

/** The OTLP receiver; a default address already taken (a Collector on this host) is a warning. */
async function startOtlp(settings: Settings, store: Store, logger: Logger): Promise<OtlpSource | null> {
  const { otlp } = settings;
  if (!otlp.listenAddress) return null;
  const opts = { listenAddress: otlp.listenAddress, maxRequestBytes: otlp.maxRequestBytes, ttlMs: otlp.seriesTtlMs, mappingFiles: otlp.mappingFiles };
  try {
    return await startOtlpReceiver(store, opts, logger);
  } catch (err) {
    if (!otlp.listenAddressIsDefault || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    logger.warn('OTLP receiver not started: its default address is taken (set --otlp.listen-address)', { error: (err as Error).message });
    return null;
  }
}

export async function startAgent(settings: Settings): Promise<RunningAgent> {
  const { statsd, web: webSettings } = settings;
  const logger = new Logger(settings.logLevel);
  const version = packageVersion();
  logger.info('redline agent starting', { version });
  const store = new Store({ maxSeries: statsd.maxSeries, setIntervalMs: statsd.setIntervalMs, setMaxMembers: statsd.setMaxMembers, maxLabelValueBytes: webSettings.maxLabelValueBytes });
  const mapper = buildMapper(statsd, { path: settings.dumpFsmPath, logger });
  for (const w of mapper.warnings) logger.warn(`mapping: ${w}`);
  const webConfig = buildWebConfig(webSettings);

  const host = await buildHost(settings, store, logger);
  const sources: Source[] = host ? [host.source] : [];
  if (settings.probe.http.length > 0) {
    const { probe } = settings;
    const p = new HttpProbe(store, [...probe.http], { intervalMs: probe.intervalMs, timeoutMs: probe.timeoutMs });
    sources.push({ description: `HTTP probe of ${probe.http.map((t) => `${t.name}=${t.url}`).join(', ')}`, start: () => p.start(), stop: () => p.stop() });
  }

  // The probe's own names skip the user's mapping. They expire after a minute of silence, so a
  // probed process that exited leaves no flat line behind.
  const passthrough = Mapper.fromYaml('defaults:\n  ttl: 60s\nmappings: []\n', '<redline probe>');
  const ingest = new StatsdIngest(store, mapper, {
    tags: { ...statsd.tags },
    cacheSize: statsd.cacheSize,
    logger,
    // Decided here, once: without a host collector no pid is in a group and nothing is looked up.
    enrich: host ? groupLabeller(host.groups) : undefined,
    passthrough,
  });
  const transport = new TransportStats();
  registerStatsdMetrics(store, () => ingest, transport);
  const stopProcessMetrics = registerProcessMetrics(store, version);
  const reloads = store.counter('redline_config_reloads_total', 'Reloads of the mapping configuration, by outcome (success, failure).', ['outcome']);
  const loadedAt = store.gauge('redline_config_last_reload_success_timestamp_seconds', 'When the mapping configuration was last loaded successfully, in seconds since the epoch.');
  reloads.inc(['success'], 0);
  reloads.inc(['failure'], 0);
  loadedAt.set([], Date.now() / 1000);

  const listeners: Listener[] = [];
  const closers: (() => Promise<void> | void)[] = [stopProcessMetrics];
  const stopAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch {
        // Best effort: shutdown goes on.
      }
    }
  };
  let udpPort: number | null = null;
  let tcpPort: number | null = null;
  let otlp: OtlpSource | null = null;
  try {
    if (statsd.relayAddress) {
      const relay = new StatsdRelay(statsd.relayAddress, statsd.relayPacketLength, transport, logger);
      ingest.relay = relay;
      closers.push(() => relay.close());
    }
    if (statsd.listenUdp) {
      const l = await listenUdp(statsd.listenUdp, ingest, transport, statsd.readBufferBytes, logger);
      udpPort = l.port;
      listeners.push(l);
      closers.push(() => l.close());
    }
    if (statsd.listenTcp) {
      const l = await listenTcp(statsd.listenTcp, ingest, transport, logger, { maxConnections: statsd.tcpMaxConnections, idleTimeoutMs: statsd.tcpIdleTimeoutMs });
      tcpPort = l.port;
      listeners.push(l);
      closers.push(() => l.close());
    }
    if (statsd.listenUnixgram) {
      const l = await listenUnixgram(statsd.listenUnixgram, statsd.unixsocketMode, ingest, transport, logger);
      listeners.push(l);
      closers.push(() => l.close());
    }
    otlp = await startOtlp(settings, store, logger);
    if (otlp) closers.push(otlp.stop);
  } catch (err) {
    await stopAll();
    throw err;
  }

  // Housekeeping: TTL expiry every second, set intervals. Unref'd: they never keep the process alive.
  const ttlTimer = setInterval(() => store.expire(), 1000);
  ttlTimer.unref();
  const setTimer = setInterval(() => store.rotateSets(), statsd.setIntervalMs);
  setTimer.unref();
  closers.push(() => {
    clearInterval(ttlTimer);
    clearInterval(setTimer);
  });
  for (const s of sources) {
    s.start();
    closers.push(() => s.stop());
  }
  if (settings.otlp.export.endpoint) {
    const push = startOtlpPush(store, { ...settings.otlp.export, version }, logger);
    sources.push({ description: push.description, start: () => push.start(), stop: () => push.stop() });
    closers.push(() => push.stop());
  }
  // The analysis stage reads what the sources wrote and writes the derived series back.
  const { analysis: a } = settings;
  const analysis = new Analysis(store, { intervalMs: a.intervalMs, historyRows: Math.ceil((a.historySeconds * 1000) / a.intervalMs), resources: a.resources });
  analysis.start();
  closers.push(() => analysis.stop());

  const reload = async (): Promise<string> => {
    let next: ChainMapper;
    let nextWeb: WebConfig;
    try {
      // Every file is read before anything changes: one bad file keeps all the previous ones.
      nextWeb = buildWebConfig(webSettings);
      next = buildMapper(statsd);
    } catch (err) {
      reloads.inc(['failure']);
      logger.error('configuration reload failed; keeping the previous configuration', { error: (err as Error).message });
      throw err;
    }
    try {
      otlp?.reload();
    } catch (err) {
      reloads.inc(['failure']);
      logger.error('configuration reload failed; keeping the previous configuration', { error: (err as Error).message });
      throw err;
    }
    for (const w of next.warnings) logger.warn(`mapping: ${w}`);
    ingest.setMapper(next);
    web.setWebConfig(nextWeb);
    reloads.inc(['success']);
    loadedAt.set([], Date.now() / 1000);
    logger.info('configuration reloaded');
    return 'configuration reloaded';
  };

  let quit: () => void = () => {};
  const describe = (): string[] => [
    ...listeners.map((l) => `statsd ${l.description}`),
    ...(otlp ? [otlp.description] : []),
    ...sources.map((s) => s.description),
    `${store.statsdSeriesCount} statsd series (cap ${store.maxSeries})`,
  ];
  const live = startLiveView({
    store,
    analysis,
    intake: () => ({ lines: ingest.lines, rejected: ingest.lineErrors, dropped: ingest.dropped }),
    ...(host ? { emptyGroups: host.emptyGroups } : {}),
    about: () => ({ version, telemetryPath: webSettings.telemetryPath, lines: describe() }),
    telemetryPath: webSettings.telemetryPath,
  });
  const web = new WebServer(
    store,
    {
      host: webSettings.listenAddress.host,
      port: webSettings.listenAddress.port,
      telemetryPath: webSettings.telemetryPath,
      reload,
      describe,
      app: live.app,
      enableLifecycle: webSettings.enableLifecycle,
      maxScrapes: webSettings.maxScrapes,
      maxExpositionBytes: webSettings.maxExpositionBytes,
      writeTimeoutMs: webSettings.writeTimeoutMs,
      webConfig,
      quit: () => quit(),
      version,
      routes: new Map([[ANALYSIS_API_PATH, analysisHandler(analysis)]]),
    },
    logger,
  );
  let httpPort: number;
  try {
    httpPort = await web.listen();
  } catch (err) {
    await stopAll();
    throw err;
  }
  closers.push(() => web.close());
  live.start();
  closers.push(() => live.stop());
  web.setReady(true);
  const { host: httpHost } = webSettings.listenAddress;
  const scheme = web.tls ? 'https' : 'http';
  const bracket = (h: string): string => (h.includes(':') ? `[${h}]` : h);
  // Where a person on this host opens the live view: the port bound, localhost for every interface.
  const viewHost = httpHost === '' || httpHost === '0.0.0.0' || httpHost === '::' ? 'localhost' : bracket(httpHost);
  logger.info('redline agent started', {
    version,
    listeners: listeners.map((l) => l.description).join(', ') || 'none',
    ...(sources.length > 0 ? { sources: sources.map((s) => s.description).join('; ') } : {}),
    http: `${scheme}://${bracket(httpHost)}:${httpPort}${webSettings.telemetryPath}`,
    live_view: `${scheme}://${viewHost}:${httpPort}/`,
    web_config: webSettings.configFile || 'none',
    http_port: httpPort,
    udp_port: udpPort ?? '',
    tcp_port: tcpPort ?? '',
    otlp_port: otlp?.port ?? '',
  });

  let stopped: Promise<void> | null = null;
  const agent: RunningAgent = {
    store,
    ingest,
    udpPort,
    tcpPort,
    httpPort,
    analysis,
    reload,
    stop: () =>
      (stopped ??= (async () => {
        web.setReady(false);
        await stopAll();
      })()),
  };
  quit = () => {
    void agent.stop().then(() => process.exit(0));
  };
  return agent;
}
