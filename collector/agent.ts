/**
 * The agent: wires sources (statsd listeners, host collector, probes) to the series store and
 * the store to the HTTP endpoints. Owns start-up order, reload and shutdown.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Store } from '../core/store.js';
import { Logger, type Level } from '../core/log.js';
import { StatsdIngest, type MapperLike, type MapResultLike } from './statsd/ingest.js';
import {
  listenUdp,
  listenTcp,
  listenUnixgram,
  parseListenAddress,
  createRelay,
  TransportStats,
  type Listener,
} from './statsd/listeners.js';
import { Mapper } from './statsd/mapper.js';
import { WebServer } from '../exporters/http.js';
import { startLiveView } from '../exporters/live/index.js';
import { registerProcessMetrics, registerStatsdMetrics } from './self.js';
import { ConfigError, type Settings } from './config.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Package root (works from dist/collector and from collector/ under vitest). */
export const PACKAGE_ROOT = [path.resolve(here, '..', '..'), path.resolve(here, '..')].find((p) =>
  fs.existsSync(path.join(p, 'package.json')),
)!;

export function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Where `--preset NAME` mapping files live. */
export function presetPath(name: string): string {
  if (!/^[a-z0-9_-]+$/i.test(name)) throw new ConfigError(`--preset: invalid preset name ${JSON.stringify(name)}`);
  const p = path.join(PACKAGE_ROOT, 'examples', 'mappings', `${name}.yml`);
  if (!fs.existsSync(p)) {
    const dir = path.join(PACKAGE_ROOT, 'examples', 'mappings');
    const known = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.yml')).map((f) => f.replace(/\.yml$/, '')) : [];
    throw new ConfigError(`--preset: unknown preset ${JSON.stringify(name)} (known: ${known.join(', ') || 'none'})`);
  }
  return p;
}

/** Tries the user's mapping first, then each preset; the first rule that matches decides. */
class ChainMapper implements MapperLike {
  constructor(private readonly mappers: readonly Mapper[]) {}

  /** Rules that load but cannot do what they say (see Mapper.warnings). */
  get warnings(): string[] {
    return this.mappers.flatMap((m) => [...m.warnings]);
  }

  map(name: string, kind: 'counter' | 'gauge' | 'observer'): MapResultLike {
    let first: MapResultLike | null = null;
    for (const m of this.mappers) {
      const r = m.map(name, kind);
      if (r.matched) return r;
      first ??= r;
    }
    return first!;
  }
}

export interface AgentHooks {
  /** Builds extra sources (host collector, HTTP probe) once the store exists. */
  extraSources?: (store: Store, logger: Logger) => Promise<ExtraSources>;
}

export interface ExtraSources {
  sources: ExtraSource[];
  /** Adds labels to statsd series (the host collector's `group` for a probe's `pid`). */
  enrich?: (labels: Map<string, string>) => void;
}

export interface ExtraSource {
  description: string;
  start(): void;
  stop(): Promise<void>;
}

export interface RunningAgent {
  store: Store;
  ingest: StatsdIngest;
  udpPort: number | null;
  tcpPort: number | null;
  httpPort: number;
  reload(): Promise<string>;
  stop(): Promise<void>;
}

export function buildMapper(settings: Settings): ChainMapper {
  const opts = {
    defaultObserverType: settings.get('statsd.default-observer-type') as 'histogram' | 'summary',
    ...((settings.get('statsd.default-buckets') as number[]).length
      ? { defaultBuckets: settings.get('statsd.default-buckets') as number[] }
      : {}),
  };
  if (opts.defaultObserverType !== 'histogram' && opts.defaultObserverType !== 'summary') {
    throw new ConfigError(`--statsd.default-observer-type: expected histogram or summary, got ${JSON.stringify(opts.defaultObserverType)}`);
  }
  const mappers: Mapper[] = [];
  const file = settings.get('statsd.mapping-config') as string;
  if (file) mappers.push(Mapper.fromFile(file, opts));
  for (const preset of settings.get('preset') as string[]) mappers.push(Mapper.fromFile(presetPath(preset), opts));
  if (mappers.length === 0) mappers.push(Mapper.empty(opts));
  return new ChainMapper(mappers);
}

export async function startAgent(settings: Settings, hooks: AgentHooks = {}): Promise<RunningAgent> {
  const logger = new Logger(settings.get('log.level') as Level);
  const version = packageVersion();
  const store = new Store({
    maxSeries: settings.get('statsd.max-series') as number,
    setIntervalMs: settings.get('statsd.set-interval') as number,
  });
  const mapper = buildMapper(settings);
  for (const w of mapper.warnings) logger.warn(`mapping: ${w}`);
  // Filled in once the extra sources exist (the host collector knows which group a pid is in).
  const late: { enrich?: ((labels: Map<string, string>) => void) | undefined } = {};
  // The probe's own names skip the user's mapping. They expire after a minute of silence, so a
  // probed process that exited leaves no flat line behind.
  const passthrough = Mapper.fromYaml('defaults:\n  ttl: 60s\nmappings: []\n', '<redline probe>');
  const ingest = new StatsdIngest(store, mapper, {
    tags: {
      dogstatsd: settings.get('statsd.parse-dogstatsd-tags') as boolean,
      influx: settings.get('statsd.parse-influxdb-tags') as boolean,
      librato: settings.get('statsd.parse-librato-tags') as boolean,
      signalfx: settings.get('statsd.parse-signalfx-tags') as boolean,
    },
    cacheSize: settings.get('statsd.cache-size') as number,
    logger,
    enrich: (labels) => late.enrich?.(labels),
    passthrough,
  });
  const transport = new TransportStats();
  registerStatsdMetrics(store, () => ingest, transport);
  const stopProcessMetrics = registerProcessMetrics(store, version);
  const reloads = store.counter('redline_config_reloads_total', 'Reloads of the mapping configuration, by outcome (success, failure).', ['outcome']);
  const loadedMappings = store.gauge('redline_config_last_reload_success_timestamp_seconds', 'When the mapping configuration was last loaded successfully, in seconds since the epoch.');
  reloads.inc(['success'], 0);
  reloads.inc(['failure'], 0);
  loadedMappings.set([], Date.now() / 1000);

  const listeners: Listener[] = [];
  const closers: (() => Promise<void> | void)[] = [];
  let udpPort: number | null = null;
  let tcpPort: number | null = null;
  const stopAll = async (): Promise<void> => {
    for (const c of closers.reverse()) {
      try {
        await c();
      } catch {
        // Best effort: shutdown goes on.
      }
    }
  };
  try {
    const relayAddr = settings.get('statsd.relay.address') as string;
    const relay = relayAddr ? createRelay(parseListenAddress(relayAddr, '--statsd.relay.address'), transport, logger) : null;
    if (relay) closers.push(() => relay.close());
    const udp = settings.get('statsd.listen-udp') as string;
    if (udp) {
      const l = await listenUdp(parseListenAddress(udp, '--statsd.listen-udp'), ingest, transport, settings.get('statsd.read-buffer') as number, logger, relay ? relay.send : null);
      udpPort = l.port;
      listeners.push(l);
      closers.push(() => l.close());
    }
    const tcp = settings.get('statsd.listen-tcp') as string;
    if (tcp) {
      const l = await listenTcp(parseListenAddress(tcp, '--statsd.listen-tcp'), ingest, transport, logger);
      tcpPort = l.port;
      listeners.push(l);
      closers.push(() => l.close());
    }
    const unixgram = settings.get('statsd.listen-unixgram') as string;
    if (unixgram) {
      const mode = parseInt(settings.get('statsd.unixsocket-mode') as string, 8);
      if (!Number.isInteger(mode)) throw new ConfigError(`--statsd.unixsocket-mode: expected octal permission bits`);
      const l = await listenUnixgram(unixgram, mode, ingest, transport, logger);
      listeners.push(l);
      closers.push(() => l.close());
    }
  } catch (err) {
    await stopAll();
    stopProcessMetrics();
    throw err;
  }

  // Housekeeping: TTL expiry every second, set intervals. Unref'd: they never keep the process alive.
  const ttlTimer = setInterval(() => store.expire(), 1000);
  ttlTimer.unref();
  const setTimer = setInterval(() => store.rotateSets(), settings.get('statsd.set-interval') as number);
  setTimer.unref();
  closers.push(() => {
    clearInterval(ttlTimer);
    clearInterval(setTimer);
  });

  const extra = hooks.extraSources ? await hooks.extraSources(store, logger) : { sources: [] };
  const extras = extra.sources;
  late.enrich = extra.enrich;
  for (const s of extras) {
    s.start();
    closers.push(() => s.stop());
  }

  let current = mapper;
  const reload = async (): Promise<string> => {
    try {
      current = buildMapper(settings);
    } catch (err) {
      reloads.inc(['failure']);
      logger.error('configuration reload failed; keeping the previous configuration', { error: (err as Error).message });
      throw err;
    }
    for (const w of current.warnings) logger.warn(`mapping: ${w}`);
    ingest.setMapper(current);
    reloads.inc(['success']);
    loadedMappings.set([], Date.now() / 1000);
    logger.info('configuration reloaded');
    return 'configuration reloaded';
  };

  let quitRequested: (() => void) | null = null;
  const describe = (): string[] => [
    ...listeners.map((l) => `statsd ${l.description}`),
    ...extras.map((s) => s.description),
    `${store.statsdSeriesCount} statsd series (cap ${store.maxSeries})`,
  ];
  const live = startLiveView({
    store,
    intake: () => ({ lines: ingest.lines, rejected: ingest.lineErrors, dropped: ingest.dropped }),
    about: () => ({ version, telemetryPath: settings.get('web.telemetry-path') as string, lines: describe() }),
    telemetryPath: settings.get('web.telemetry-path') as string,
  });
  const web = new WebServer(
    store,
    {
      ...(() => {
        const a = parseListenAddress(settings.get('web.listen-address') as string, '--web.listen-address');
        return { host: a.host, port: a.port };
      })(),
      telemetryPath: settings.get('web.telemetry-path') as string,
      reload,
      describe,
      app: live.app,
      enableLifecycle: settings.get('web.enable-lifecycle') as boolean,
      quit: () => quitRequested?.(),
      version,
    },
    logger,
  );
  let httpPort: number;
  try {
    httpPort = await web.listen();
  } catch (err) {
    await stopAll();
    stopProcessMetrics();
    throw err;
  }
  closers.push(() => web.close());
  live.start();
  closers.push(() => live.stop());
  closers.push(() => stopProcessMetrics());
  web.setReady(true);
  logger.info('redline agent started', {
    version,
    listeners: listeners.map((l) => l.description).join(', ') || 'none',
    http: `${settings.get('web.listen-address') as string}${settings.get('web.telemetry-path') as string}`,
    http_port: httpPort,
    udp_port: udpPort ?? '',
    tcp_port: tcpPort ?? '',
  });

  let stopped: Promise<void> | null = null;
  const agent: RunningAgent = {
    store,
    ingest,
    udpPort,
    tcpPort,
    httpPort,
    reload,
    stop: () => (stopped ??= (async () => {
      web.setReady(false);
      await stopAll();
    })()),
  };
  quitRequested = () => {
    void agent.stop().then(() => process.exit(0));
  };
  return agent;
}
