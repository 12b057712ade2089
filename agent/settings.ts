/**
 * Agent settings: one table of flags (statsd_exporter's names where both have the setting) that
 * also generates `--help`; values come from the command line, the environment (`REDLINE_…`) and
 * one YAML file (`--config`), in that order of precedence, and are parsed once into a typed,
 * frozen `Settings`. Every bad value refuses to start with where it came from: the flag, the
 * environment variable, or the file and line.
 *
 * No CLI library: node:util's parseArgs has no `--no-flag` negation on Node 20 (it came in 22.4)
 * and commander/yargs would replace the table-driven help below without removing any of it.
 * The `yaml` package (already used for mapping files) gives every node its line.
 */
import fs from 'node:fs';
import { parseDocument, LineCounter, isMap, isScalar, isSeq, type Node as YamlNode, type YAMLMap } from 'yaml';
import type { Level } from '../core/log.js';
import { parseListenAddress, type ListenAddress } from '../collector/statsd/listeners.js';
import { parseHttpTargetFlag, type HttpTarget } from '../collector/probe/http.js';
import { parseGroupFlag, GROUP_NAME, ROLES, type GroupSpec, type Role } from '../collector/host/groups.js';
import { parseResources, type DeclaredResource } from '../analysis/resources.js';
import { presetFile, otlpPresetFile } from './package.js';

export type FlagKind = 'string' | 'bool' | 'int' | 'bytes' | 'duration' | 'list' | 'float-list';

export interface FlagSpec {
  readonly name: string;
  readonly kind: FlagKind;
  /** As a user would write it (`10s`, `32MiB`); repeatable flags default to none. */
  readonly default: string;
  readonly help: string;
  /** Shown in --help under this heading. */
  readonly section: 'statsd' | 'otlp' | 'web' | 'host' | 'probe' | 'analysis' | 'general';
  /** Accepted for statsd_exporter compatibility; has no effect in Redline. */
  readonly compatOnly?: boolean;
  /** Only on the command line (not from the environment or the file). */
  readonly cliOnly?: boolean;
  readonly metavar?: string;
}

export const FLAGS: readonly FlagSpec[] = [
  { name: 'config', kind: 'string', default: '', section: 'general', metavar: 'FILE', help: 'YAML file with any of these settings (same names, nested or dotted), plus the host.process_groups list (docs/host-metrics.md) and the resources list (docs/analysis.md). Flags and the environment win over the file.' },
  { name: 'statsd.listen-udp', kind: 'string', default: ':8125', section: 'statsd', metavar: 'ADDR', help: 'UDP address to receive statsd on; empty to disable.' },
  { name: 'statsd.listen-tcp', kind: 'string', default: ':8125', section: 'statsd', metavar: 'ADDR', help: 'TCP address to receive newline-framed statsd on; empty to disable.' },
  { name: 'statsd.tcp-max-connections', kind: 'int', default: '0', section: 'statsd', metavar: 'N', help: 'Open statsd TCP connections at most; a new one past it is closed at once and counted (redline_statsd_tcp_connections_refused_total). 0: half the open-files limit, between 64 and 4096.' },
  { name: 'statsd.tcp-idle-timeout', kind: 'duration', default: '5m', section: 'statsd', metavar: 'DURATION', help: 'A statsd TCP connection that sends nothing for this long is closed and counted (redline_statsd_tcp_idle_timeouts_total); 0 keeps idle connections.' },
  { name: 'statsd.listen-unixgram', kind: 'string', default: '', section: 'statsd', metavar: 'PATH', help: 'Unix datagram socket to receive statsd on; empty to disable.' },
  { name: 'statsd.unixsocket-mode', kind: 'string', default: '755', section: 'statsd', metavar: 'MODE', help: 'Permission bits (octal) of the unix datagram socket.' },
  { name: 'statsd.mapping-config', kind: 'string', default: '', section: 'statsd', metavar: 'FILE', help: 'statsd_exporter mapping file (YAML), read unchanged. Reloaded on SIGHUP (and POST /-/reload with --web.enable-lifecycle).' },
  { name: 'preset', kind: 'list', default: '', section: 'statsd', metavar: 'NAME', help: 'Built-in mapping preset for a load tool (k6, locust, artillery, gevent, loadtest), tried after --statsd.mapping-config. Repeatable.' },
  { name: 'statsd.read-buffer', kind: 'bytes', default: '32MiB', section: 'statsd', metavar: 'BYTES', help: 'UDP receive buffer to ask the kernel for (capped by net.core.rmem_max).' },
  { name: 'statsd.cache-size', kind: 'int', default: '100000', section: 'statsd', metavar: 'N', help: 'Raw statsd keys whose mapping result is cached; the cache is emptied when it grows past this.' },
  { name: 'statsd.cache-type', kind: 'string', default: 'lru', section: 'statsd', compatOnly: true, help: 'Accepted for statsd_exporter compatibility.' },
  { name: 'statsd.max-series', kind: 'int', default: '100000', section: 'statsd', metavar: 'N', help: 'Cap on statsd series; new series above it are dropped and counted (redline_statsd_dropped_total{reason="series_limit"}) while existing ones keep updating.' },
  { name: 'statsd.set-interval', kind: 'duration', default: '10s', section: 'statsd', metavar: 'DURATION', help: 'Statsd sets are served as the number of distinct members seen over this interval.' },
  { name: 'statsd.set-max-members', kind: 'int', default: '100000', section: 'statsd', metavar: 'N', help: 'Distinct members one statsd set series counts per interval (8 bytes each); new ones past it are dropped and counted (redline_statsd_set_members_dropped_total).' },
  { name: 'statsd.regex-max-name-length', kind: 'int', default: '4096', section: 'statsd', metavar: 'N', help: 'Longest name (characters) a regex mapping rule computes captures for; a longer name that matches a rule whose name or labels use captures is dropped and counted (redline_statsd_dropped_total{reason="regex_name_too_long"}). Matching itself is linear-time at any length. 0: no limit.' },
  { name: 'statsd.default-observer-type', kind: 'string', default: 'histogram', section: 'statsd', metavar: 'TYPE', help: 'histogram or summary, for timers/histograms/distributions no mapping decides for.' },
  { name: 'statsd.default-buckets', kind: 'float-list', default: '', section: 'statsd', metavar: 'LIST', help: 'Comma-separated histogram buckets (seconds for timers) when no mapping sets them; default 1 ms to 60 s.' },
  { name: 'statsd.parse-dogstatsd-tags', kind: 'bool', default: 'true', section: 'statsd', help: 'Parse DogStatsD tags (|#k:v,k2:v2). --no-statsd.parse-dogstatsd-tags to disable.' },
  { name: 'statsd.parse-influxdb-tags', kind: 'bool', default: 'true', section: 'statsd', help: 'Parse InfluxDB/Telegraf tags (name,k=v:…).' },
  { name: 'statsd.parse-librato-tags', kind: 'bool', default: 'true', section: 'statsd', help: 'Parse Librato tags (name#k=v:…).' },
  { name: 'statsd.parse-signalfx-tags', kind: 'bool', default: 'true', section: 'statsd', help: 'Parse SignalFx tags (name[k=v]:…).' },
  { name: 'statsd.relay.address', kind: 'string', default: '', section: 'statsd', metavar: 'ADDR', help: 'Forward every line received (UDP, TCP, unixgram) unchanged to this statsd server over UDP, as statsd_exporter does.' },
  { name: 'statsd.udp-packet-queue-size', kind: 'int', default: '10000', section: 'statsd', compatOnly: true, help: 'Accepted for statsd_exporter compatibility (Redline parses in the receive callback).' },
  { name: 'statsd.event-queue-size', kind: 'int', default: '10000', section: 'statsd', compatOnly: true, help: 'Accepted for statsd_exporter compatibility.' },
  { name: 'statsd.event-flush-threshold', kind: 'int', default: '1000', section: 'statsd', compatOnly: true, help: 'Accepted for statsd_exporter compatibility.' },
  { name: 'statsd.event-flush-interval', kind: 'duration', default: '200ms', section: 'statsd', compatOnly: true, help: 'Accepted for statsd_exporter compatibility.' },
  { name: 'statsd.relay.packet-length', kind: 'int', default: '1400', section: 'statsd', metavar: 'BYTES', help: 'Largest datagram sent to the relay; lines are packed up to it, longer lines are not relayed (counted).' },
  { name: 'otlp.listen-address', kind: 'string', default: ':4318', section: 'otlp', metavar: 'ADDR', help: 'Address to receive OTLP/HTTP metrics on (POST /v1/metrics, protobuf or JSON, gzip); empty to disable. When the default address is taken (an OpenTelemetry Collector on this host), the agent warns and runs without it.' },
  { name: 'otlp.max-request-size', kind: 'bytes', default: '16MiB', section: 'otlp', metavar: 'BYTES', help: 'Largest OTLP request body accepted, compressed and decompressed; larger ones get 413.' },
  { name: 'otlp.series-ttl', kind: 'duration', default: '0s', section: 'otlp', metavar: 'DURATION', help: 'OTLP series not updated for this long are removed; 0 keeps them.' },
  { name: 'otlp.mapping-config', kind: 'string', default: '', section: 'otlp', metavar: 'FILE', help: 'OTLP mapping rules (YAML, otlp_mappings), tried before the OTLP rules of each --preset. Reloaded with the statsd mapping.' },
  { name: 'otlp.endpoint', kind: 'string', default: '', section: 'otlp', metavar: 'URL', help: 'Push every series the agent holds to this OTLP/HTTP metrics URL (e.g. http://collector:4318/v1/metrics); empty: no push.' },
  { name: 'otlp.header', kind: 'list', default: '', section: 'otlp', metavar: 'NAME=VALUE', help: 'HTTP header sent with every push (authentication). Repeatable.' },
  { name: 'otlp.protocol', kind: 'string', default: 'http/protobuf', section: 'otlp', metavar: 'PROTOCOL', help: 'Encoding of the push: http/protobuf or http/json.' },
  { name: 'otlp.interval', kind: 'duration', default: '15s', section: 'otlp', metavar: 'DURATION', help: 'How often the push exports.' },
  { name: 'otlp.timeout', kind: 'duration', default: '10s', section: 'otlp', metavar: 'DURATION', help: 'Timeout of one push request.' },
  { name: 'otlp.temporality', kind: 'string', default: 'cumulative', section: 'otlp', metavar: 'TEMPORALITY', help: 'cumulative or delta: how counters and histograms are pushed.' },
  { name: 'otlp.max-queue', kind: 'int', default: '4', section: 'otlp', metavar: 'N', help: 'Exports waiting while the endpoint is slow or down; past this the oldest is dropped and counted (redline_otlp_export_dropped_total).' },
  { name: 'web.listen-address', kind: 'string', default: ':9102', section: 'web', metavar: 'ADDR', help: 'Address for /metrics, /-/healthy, /-/ready and, with --web.enable-lifecycle, /-/reload and /-/quit.' },
  { name: 'web.telemetry-path', kind: 'string', default: '/metrics', section: 'web', metavar: 'PATH', help: 'Path under which metrics are served.' },
  { name: 'web.max-scrapes', kind: 'int', default: '16', section: 'web', metavar: 'N', help: 'Telemetry responses in flight at once; more are answered 503 (concurrent scrapers share one render).' },
  { name: 'web.max-exposition-size', kind: 'bytes', default: '256MiB', section: 'web', metavar: 'BYTES', help: 'Byte budget of one /metrics response (before gzip): once a render reaches it, the remaining statsd and OTLP series are left out of that response and counted (redline_exposition_omitted_series); Redline\'s own series are always served. 0: no budget.' },
  { name: 'web.max-label-value-length', kind: 'bytes', default: '4KiB', section: 'web', metavar: 'BYTES', help: 'Label values of statsd and OTLP series are cut to this many bytes (at a character boundary) and counted (redline_label_values_truncated_total). 0: no limit.' },
  { name: 'web.write-timeout', kind: 'duration', default: '30s', section: 'web', metavar: 'DURATION', help: 'A connection that reads nothing of its response, or sends nothing of its request, for this long is closed.' },
  { name: 'web.config.file', kind: 'string', default: '', section: 'web', metavar: 'FILE', help: "exporter-toolkit web configuration (YAML): TLS (tls_server_config), basic auth with bcrypt hashes (basic_auth_users), response headers and rate_limit, for every endpoint. Reloaded on SIGHUP; a bad file keeps the previous one (docs/web.md)." },
  { name: 'web.enable-lifecycle', kind: 'bool', default: 'false', section: 'web', help: 'Allow POST /-/reload and POST /-/quit (SIGHUP always reloads).' },
  { name: 'sut', kind: 'list', default: '', section: 'host', metavar: 'NAME=REGEX', help: 'A process group of the system under test: processes whose command line matches REGEX. Repeatable.' },
  { name: 'injector', kind: 'list', default: '', section: 'host', metavar: 'NAME=REGEX', help: 'A process group of load injectors (counted in redline_injector_processes). Repeatable.' },
  { name: 'host.enabled', kind: 'bool', default: 'true', section: 'host', help: 'Read the host and process groups from /proc.' },
  { name: 'host.interval', kind: 'duration', default: '1s', section: 'host', metavar: 'DURATION', help: 'How often the host collector reads /proc.' },
  { name: 'host.per-process', kind: 'bool', default: 'false', section: 'host', help: 'Also publish per-process series (label pid); they churn, so off by default.' },
  { name: 'probe.http', kind: 'list', default: '', section: 'probe', metavar: 'NAME=URL', help: 'Request URL every --probe.http-interval and record latency and outcome, as a load balancer health check sees it. Repeatable.' },
  { name: 'probe.http-interval', kind: 'duration', default: '1s', section: 'probe', metavar: 'DURATION', help: 'Interval of the HTTP probe.' },
  { name: 'probe.http-timeout', kind: 'duration', default: '2s', section: 'probe', metavar: 'DURATION', help: 'Timeout of one HTTP probe request.' },
  { name: 'analysis.interval', kind: 'duration', default: '1s', section: 'analysis', metavar: 'DURATION', help: 'How often the analysis stage computes saturation ratios and the verdict (one history row each).' },
  { name: 'analysis.history', kind: 'duration', default: '2h', section: 'analysis', metavar: 'DURATION', help: 'How much analysis history the agent keeps in memory for redline report and the live view.' },
  { name: 'log.level', kind: 'string', default: 'info', section: 'general', metavar: 'LEVEL', help: 'debug, info, warn or error.' },
  { name: 'log.format', kind: 'string', default: 'logfmt', section: 'general', compatOnly: true, help: 'Accepted for statsd_exporter compatibility (logs are logfmt).' },
  { name: 'check-config', kind: 'bool', default: 'false', section: 'general', cliOnly: true, help: 'Check the configuration and mapping files, then exit: 0 when valid, 1 when not (as statsd_exporter).' },
  { name: 'debug.dump-fsm', kind: 'string', default: '', section: 'general', cliOnly: true, metavar: 'FILE', help: 'Write the glob rules of --statsd.mapping-config as a Graphviz dot file when it is loaded (also with --check-config), as statsd_exporter does; render with dot -Tpng FILE.' },
  { name: 'help', kind: 'bool', default: 'false', section: 'general', cliOnly: true, help: 'Show this help.' },
  { name: 'version', kind: 'bool', default: 'false', section: 'general', cliOnly: true, help: 'Show the version.' },
];

export type ObserverType = 'histogram' | 'summary';

export interface StatsdSettings {
  /** null: the listener is off. */
  readonly listenUdp: ListenAddress | null;
  readonly listenTcp: ListenAddress | null;
  /** 0: from the open-files limit (listeners.ts defaultTcpMaxConnections). */
  readonly tcpMaxConnections: number;
  /** 0: idle connections stay. */
  readonly tcpIdleTimeoutMs: number;
  /** Socket path; '' when off. */
  readonly listenUnixgram: string;
  readonly unixsocketMode: number;
  /** The user's mapping file; '' when none. */
  readonly mappingConfig: string;
  /** Presets in the order given, each with the file it loads. */
  readonly presets: readonly { readonly name: string; readonly file: string }[];
  readonly readBufferBytes: number;
  readonly cacheSize: number;
  readonly maxSeries: number;
  readonly setIntervalMs: number;
  readonly setMaxMembers: number;
  readonly defaultObserverType: ObserverType;
  /** Longest name a regex rule computes captures for; 0: no limit. */
  readonly regexNameMaxLength: number;
  /** Empty: the mapper's default buckets. */
  readonly defaultBuckets: readonly number[];
  readonly tags: { readonly dogstatsd: boolean; readonly influx: boolean; readonly librato: boolean; readonly signalfx: boolean };
  readonly relayAddress: ListenAddress | null;
  /** Largest relayed datagram, in bytes. */
  readonly relayPacketLength: number;
}

export type OtlpTemporality = 'cumulative' | 'delta';
export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface OtlpSettings {
  /** null: the receiver is off. */
  readonly listenAddress: ListenAddress | null;
  /** True when the address is the default one (a busy default port is a warning, not an error). */
  readonly listenAddressIsDefault: boolean;
  readonly maxRequestBytes: number;
  /** 0: OTLP series never expire. */
  readonly seriesTtlMs: number;
  /** The user's OTLP mapping file, then each preset's OTLP rules where it has some. */
  readonly mappingFiles: readonly string[];
  readonly export: {
    /** '' when the push is off. */
    readonly endpoint: string;
    readonly headers: Readonly<Record<string, string>>;
    readonly protocol: OtlpProtocol;
    readonly intervalMs: number;
    readonly timeoutMs: number;
    readonly temporality: OtlpTemporality;
    readonly maxQueue: number;
  };
}

export interface WebSettings {
  readonly listenAddress: ListenAddress;
  readonly telemetryPath: string;
  readonly enableLifecycle: boolean;
  /** Telemetry responses in flight at once. */
  readonly maxScrapes: number;
  /** Inactivity allowed on a connection (a reader that stopped reading, a request that stalled). */
  readonly writeTimeoutMs: number;
  /** exporter-toolkit web configuration file; '' when none. */
  readonly configFile: string;
  /** Byte budget of one telemetry response; 0: none. */
  readonly maxExpositionBytes: number;
  /** Statsd and OTLP label values are cut to this many UTF-8 bytes; 0: no limit. */
  readonly maxLabelValueBytes: number;
}

export interface HostSettings {
  readonly enabled: boolean;
  readonly intervalMs: number;
  readonly perProcess: boolean;
  /** --sut, then --injector, then the file's host.process_groups; the first that matches wins. */
  readonly groups: readonly GroupSpec[];
}

export interface ProbeSettings {
  readonly http: readonly HttpTarget[];
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export interface AnalysisSettings {
  readonly intervalMs: number;
  readonly historySeconds: number;
  /** The file's `resources:` list: pools declared by an in-use and a limit series. */
  readonly resources: readonly DeclaredResource[];
}

export interface Settings {
  /** The --config file; '' when none. */
  readonly configFile: string;
  readonly help: boolean;
  readonly version: boolean;
  readonly checkConfig: boolean;
  /** --debug.dump-fsm: where to write the glob graph; '' when not asked. */
  readonly dumpFsmPath: string;
  readonly logLevel: Level;
  readonly statsd: StatsdSettings;
  readonly otlp: OtlpSettings;
  readonly web: WebSettings;
  readonly host: HostSettings;
  readonly probe: ProbeSettings;
  readonly analysis: AnalysisSettings;
}

/** A setting that cannot be used; the message says where it came from and what is wrong. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The environment variable of a setting: `statsd.listen-udp` → `REDLINE_STATSD_LISTEN_UDP`. */
export function envName(flag: string): string {
  return 'REDLINE_' + flag.toUpperCase().replace(/[.-]/g, '_');
}

/** Parses a Go-style duration (`1s`, `500ms`, `1m30s`) or a bare number of seconds into ms. */
export function parseDuration(value: string, what: string): number {
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(v)) !== null) {
    total += Number(m[1]) * (unitMs[m[2] ?? ''] ?? NaN);
    pos = re.lastIndex;
  }
  if (pos !== v.length || v.length === 0 || !Number.isFinite(total)) {
    throw new ConfigError(`${what}: invalid duration ${JSON.stringify(value)} (use e.g. 1s, 500ms, 2m)`);
  }
  return total;
}

function parseBytes(value: string, what: string): number {
  const m = /^(\d+)\s*([kmg])?(i?b)?$/i.exec(value.trim());
  if (!m) throw new ConfigError(`${what}: invalid size ${JSON.stringify(value)} (bytes, or e.g. 32MiB)`);
  const unit = (m[2] ?? '').toLowerCase();
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Number(m[1]) * mult;
}

function parseBool(value: string, what: string): boolean {
  if (/^(true|1|yes|on)$/i.test(value.trim())) return true;
  if (/^(false|0|no|off)$/i.test(value.trim())) return false;
  throw new ConfigError(`${what}: expected true or false, got ${JSON.stringify(value)}`);
}

function parseInt10(value: string, what: string): number {
  if (!/^\d+$/.test(value.trim())) throw new ConfigError(`${what}: expected a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

function parseFloats(value: string, what: string): number[] {
  const out = value
    .split(',')
    .filter((s) => s.trim() !== '')
    .map((s) => Number(s));
  if (out.some((n) => !Number.isFinite(n))) throw new ConfigError(`${what}: expected comma-separated numbers, got ${JSON.stringify(value)}`);
  return out;
}

/**
 * One value as given. `what` names it in our own messages (`--host.interval`,
 * `REDLINE_HOST_INTERVAL`, `redline.yaml:4: host.interval`); `origin` prefixes the messages of
 * parsers that name the flag themselves ('' on the command line).
 */
interface Given {
  readonly raw: string;
  readonly what: string;
  readonly origin: string;
}

/** A source's values: one per scalar setting, any number per repeatable one. */
type Layer = Map<string, Given[]>;

const BY_NAME = new Map(FLAGS.map((f) => [f.name, f]));

function flagSpec(name: string): FlagSpec {
  const spec = BY_NAME.get(name);
  if (!spec) throw new Error(`no flag ${name} in FLAGS`);
  return spec;
}

/** `--name=value`, `--name value`, `--name` / `--no-name` for booleans; repeatable flags add up. */
function fromArgs(argv: readonly string[]): Layer {
  const layer: Layer = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h') {
      layer.set('help', [{ raw: 'true', what: '-h', origin: '' }]);
      continue;
    }
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)} (see redline --help)`);
    const eq = arg.indexOf('=');
    let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    let spec = BY_NAME.get(name);
    if (!spec && name.startsWith('no-') && value === undefined) {
      const base = BY_NAME.get(name.slice(3));
      if (base?.kind === 'bool') {
        spec = base;
        name = base.name;
        value = 'false';
      }
    }
    if (!spec) throw new ConfigError(`unknown flag --${name} (see redline --help)`);
    if (value === undefined) {
      if (spec.kind === 'bool') value = 'true';
      else {
        const next = argv[i + 1];
        if (next === undefined) throw new ConfigError(`--${name} needs a value`);
        value = next;
        i++;
      }
    }
    const given: Given = { raw: value, what: `--${name}`, origin: '' };
    const before = layer.get(name);
    if (spec.kind === 'list' && before) before.push(given);
    else layer.set(name, [given]);
  }
  return layer;
}

/** `REDLINE_<NAME>`; a repeatable setting takes one value per line (regexes may hold commas). */
function fromEnv(env: NodeJS.ProcessEnv): Layer {
  const layer: Layer = new Map();
  for (const spec of FLAGS) {
    if (spec.cliOnly) continue;
    const name = envName(spec.name);
    const raw = env[name];
    if (raw === undefined) continue;
    const what = `environment variable ${name}`;
    const values = spec.kind === 'list' ? raw.split('\n').filter((l) => l.trim() !== '') : [raw];
    layer.set(spec.name, values.map((v) => ({ raw: v, what, origin: what })));
  }
  return layer;
}

interface FileLayer {
  layer: Layer;
  groups: GroupSpec[];
  resources: DeclaredResource[];
}

/** Keys of the file are flag names, nested (`statsd: {listen-udp: …}`) or dotted; `_` and `-` are the same. */
function fromFile(file: string): FileLayer {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const first = doc.errors[0];
  if (first) throw new ConfigError(`${file}:${lc.linePos(first.pos[0]).line}: ${first.message.split('\n')[0] ?? ''}`);
  const lineOf = (n: unknown): number => {
    const range = (n as YamlNode | null)?.range;
    return range ? lc.linePos(range[0]).line : 1;
  };
  const at = (n: unknown): string => `${file}:${lineOf(n)}`;
  const scalarText = (n: unknown, what: string): string => {
    if (!isScalar(n)) throw new ConfigError(`${what}: expected a value`);
    return n.value === null ? '' : String(n.value);
  };
  const keyText = (n: unknown): string => (isScalar(n) ? String(n.value) : String(n)).replace(/_/g, '-');

  const layer: Layer = new Map();
  let groups: GroupSpec[] = [];
  let resources: DeclaredResource[] = [];
  const walk = (node: YAMLMap, prefix: string): void => {
    for (const pair of node.items) {
      const full = (prefix ? `${prefix}.` : '') + keyText(pair.key);
      if (full === 'host.process-groups') {
        groups = readProcessGroups(pair.value, at, scalarText, keyText);
        continue;
      }
      if (full === 'resources') {
        try {
          resources = parseResources(pair.value as YamlNode, file, lc);
        } catch (err) {
          throw new ConfigError((err as Error).message);
        }
        continue;
      }
      const spec = BY_NAME.get(full);
      if (!spec || spec.cliOnly) {
        if (!spec && isMap(pair.value)) {
          walk(pair.value, full);
          continue;
        }
        throw new ConfigError(`${at(pair.key)}: unknown setting ${JSON.stringify(full)}${spec ? ' (only on the command line)' : ''}`);
      }
      const what = `${at(pair.value ?? pair.key)}: ${full}`;
      const value = pair.value;
      if (isSeq(value)) {
        if (spec.kind !== 'list' && spec.kind !== 'float-list') throw new ConfigError(`${what}: expected a single value, got a list`);
        const items = value.items.map((it) => ({ raw: scalarText(it, `${at(it)}: ${full}`), what: `${at(it)}: ${full}`, origin: at(it) }));
        layer.set(spec.name, spec.kind === 'list' ? items : [{ raw: items.map((i) => i.raw).join(','), what, origin: at(value) }]);
        continue;
      }
      const raw = scalarText(value, what);
      layer.set(spec.name, spec.kind === 'list' && raw === '' ? [] : [{ raw, what, origin: at(value ?? pair.key) }]);
    }
  };
  if (doc.contents !== null) {
    if (!isMap(doc.contents)) throw new ConfigError(`${at(doc.contents)}: expected a mapping of settings`);
    walk(doc.contents, '');
  }
  return { layer, groups, resources };
}

const GROUP_KEYS = ['name', 'role', 'comm', 'exe', 'cmdline'];

/**
 * `host.process_groups`: process-exporter's matchers (`comm`, `exe`, `cmdline`), each group with
 * a name and a role. Every message names the file and the line of the offending key.
 */
function readProcessGroups(
  node: unknown,
  at: (n: unknown) => string,
  scalarText: (n: unknown, what: string) => string,
  keyText: (n: unknown) => string,
): GroupSpec[] {
  if (node === null || (isScalar(node) && node.value === null)) return [];
  if (!isSeq(node)) throw new ConfigError(`${at(node)}: host.process_groups must be a list`);
  return node.items.map((item, i) => {
    const where = `host.process_groups[${i}]`;
    if (!isMap(item)) throw new ConfigError(`${at(item)}: ${where} must be a mapping (name, role, comm, exe, cmdline)`);
    const byKey = new Map<string, { key: unknown; value: unknown }>();
    for (const p of item.items) {
      const k = keyText(p.key).replace(/-/g, '_');
      if (!GROUP_KEYS.includes(k)) throw new ConfigError(`${at(p.key)}: ${where}: unknown key ${JSON.stringify(k)} (name, role, comm, exe, cmdline)`);
      byKey.set(k, { key: p.key, value: p.value });
    }
    const nameEntry = byKey.get('name');
    if (!nameEntry) throw new ConfigError(`${at(item)}: ${where}: a group needs a name`);
    const name = scalarText(nameEntry.value, `${at(nameEntry.value)}: ${where}.name`);
    if (!GROUP_NAME.test(name)) throw new ConfigError(`${at(nameEntry.value)}: ${where}.name ${JSON.stringify(name)} may only hold letters, digits, _ . : -`);
    const roleEntry = byKey.get('role');
    const roleText = roleEntry ? scalarText(roleEntry.value, `${at(roleEntry.value)}: ${where}.role`) : 'other';
    const role = ROLES.find((r) => r === roleText);
    if (!role) throw new ConfigError(`${at(roleEntry?.value ?? item)}: ${where} (${name}): role must be sut, injector or other, got ${JSON.stringify(roleText)}`);
    const strings = (key: string): { text: string; node: unknown }[] | undefined => {
      const entry = byKey.get(key);
      if (!entry) return undefined;
      const nodes = isSeq(entry.value) ? entry.value.items : [entry.value];
      const what = `${where} (${name}): ${key} must be a string or a list of strings`;
      return nodes.map((n) => {
        if (!isScalar(n) || typeof n.value !== 'string') throw new ConfigError(`${at(n ?? entry.key)}: ${what}`);
        return { text: n.value, node: n };
      });
    };
    const spec: GroupSpec = { name, role };
    const comm = strings('comm');
    const exe = strings('exe');
    const cmdline = strings('cmdline');
    if (comm) spec.comm = comm.map((c) => c.text);
    if (exe) spec.exe = exe.map((e) => e.text);
    if (cmdline) {
      spec.cmdline = cmdline.map((c) => {
        try {
          return new RegExp(c.text);
        } catch (err) {
          throw new ConfigError(`${at(c.node)}: ${where} (${name}): invalid cmdline regex ${JSON.stringify(c.text)}: ${(err as Error).message}`);
        }
      });
    }
    if (!comm && !exe && !cmdline) throw new ConfigError(`${at(item)}: ${where} (${name}): give at least one of comm, exe, cmdline`);
    return spec;
  });
}

/** Runs a parser that names the flag itself, prefixing where the value came from. */
function located<T>(given: Given, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const msg = (err as Error).message;
    throw new ConfigError(given.origin ? `${given.origin}: ${msg}` : msg);
  }
}

/** The winning values: command line, then environment, then file, then the table's default. */
class Resolved {
  constructor(private readonly layers: readonly Layer[]) {}

  private all(name: string): Given[] {
    for (const l of this.layers) {
      const v = l.get(name);
      if (v) return v;
    }
    const spec = flagSpec(name);
    return spec.kind === 'list' ? [] : [{ raw: spec.default, what: `--${name} (default)`, origin: '' }];
  }

  one(name: string): Given {
    const v = this.all(name);
    return v[v.length - 1] ?? { raw: '', what: `--${name}`, origin: '' };
  }

  list(name: string): Given[] {
    return this.all(name);
  }

  string(name: string): string {
    return this.one(name).raw;
  }

  bool(name: string): boolean {
    const g = this.one(name);
    return parseBool(g.raw, g.what);
  }

  int(name: string): number {
    const g = this.one(name);
    return parseInt10(g.raw, g.what);
  }

  bytes(name: string): number {
    const g = this.one(name);
    return parseBytes(g.raw, g.what);
  }

  durationMs(name: string, min = 0): number {
    const g = this.one(name);
    const ms = parseDuration(g.raw, g.what);
    if (ms < min) throw new ConfigError(`${g.what}: must be at least ${min} ms, got ${JSON.stringify(g.raw)}`);
    return ms;
  }

  floats(name: string): number[] {
    const g = this.one(name);
    return parseFloats(g.raw, g.what);
  }

  oneOf<T extends string>(name: string, options: readonly T[]): T {
    const g = this.one(name);
    const v = options.find((o) => o === g.raw.trim());
    if (v === undefined) throw new ConfigError(`${g.what}: expected ${options.join(', ')}; got ${JSON.stringify(g.raw)}`);
    return v;
  }

  /** A listen address, or null when empty (the listener is off). */
  address(name: string): ListenAddress | null {
    const g = this.one(name);
    if (g.raw.trim() === '') return null;
    return located(g, () => parseListenAddress(g.raw, g.what));
  }
}

const LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error'];
const OBSERVER_TYPES: readonly ObserverType[] = ['histogram', 'summary'];

/** Parses the command line, the environment and the --config file into frozen settings. */
export function loadSettings(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Settings {
  const args = fromArgs(argv);
  const envLayer = fromEnv(env);
  const configFile = new Resolved([args, envLayer]).string('config');
  const file = configFile ? fromFile(configFile) : { layer: new Map<string, Given[]>(), groups: [], resources: [] };
  const r = new Resolved([args, envLayer, file.layer]);

  const mode = r.one('statsd.unixsocket-mode');
  if (!/^[0-7]{3,4}$/.test(mode.raw.trim())) throw new ConfigError(`${mode.what}: expected octal permission bits such as 755, got ${JSON.stringify(mode.raw)}`);
  const web = r.address('web.listen-address');
  if (!web) throw new ConfigError(`${r.one('web.listen-address').what}: an address is needed for /metrics`);
  const telemetry = r.one('web.telemetry-path');
  if (!telemetry.raw.startsWith('/')) throw new ConfigError(`${telemetry.what}: must start with /, got ${JSON.stringify(telemetry.raw)}`);
  const groupsOf = (role: Role): GroupSpec[] => r.list(role).map((g) => located(g, () => parseGroupFlag(g.raw, role)));

  const settings: Settings = {
    configFile,
    help: r.bool('help'),
    version: r.bool('version'),
    checkConfig: r.bool('check-config'),
    dumpFsmPath: r.string('debug.dump-fsm'),
    logLevel: r.oneOf('log.level', LEVELS),
    statsd: {
      listenUdp: r.address('statsd.listen-udp'),
      listenTcp: r.address('statsd.listen-tcp'),
      tcpMaxConnections: r.int('statsd.tcp-max-connections'),
      tcpIdleTimeoutMs: r.durationMs('statsd.tcp-idle-timeout'),
      listenUnixgram: r.string('statsd.listen-unixgram'),
      unixsocketMode: parseInt(mode.raw, 8),
      mappingConfig: r.string('statsd.mapping-config'),
      presets: r.list('preset').map((g) => ({ name: g.raw, file: located(g, () => presetFile(g.raw)) })),
      readBufferBytes: r.bytes('statsd.read-buffer'),
      cacheSize: r.int('statsd.cache-size'),
      maxSeries: r.int('statsd.max-series'),
      setIntervalMs: r.durationMs('statsd.set-interval', 1),
      setMaxMembers: Math.max(1, r.int('statsd.set-max-members')),
      defaultObserverType: r.oneOf('statsd.default-observer-type', OBSERVER_TYPES),
      regexNameMaxLength: Math.max(0, r.int('statsd.regex-max-name-length')),
      defaultBuckets: r.floats('statsd.default-buckets'),
      tags: {
        dogstatsd: r.bool('statsd.parse-dogstatsd-tags'),
        influx: r.bool('statsd.parse-influxdb-tags'),
        librato: r.bool('statsd.parse-librato-tags'),
        signalfx: r.bool('statsd.parse-signalfx-tags'),
      },
      relayAddress: r.address('statsd.relay.address'),
      relayPacketLength: relayPacketLength(r.int('statsd.relay.packet-length')),
    },
    otlp: otlpSettings(r),
    web: {
      listenAddress: web,
      telemetryPath: telemetry.raw,
      enableLifecycle: r.bool('web.enable-lifecycle'),
      maxScrapes: Math.max(1, r.int('web.max-scrapes')),
      writeTimeoutMs: r.durationMs('web.write-timeout', 1),
      configFile: r.string('web.config.file'),
      maxExpositionBytes: r.bytes('web.max-exposition-size'),
      maxLabelValueBytes: r.bytes('web.max-label-value-length'),
    },
    host: {
      enabled: r.bool('host.enabled'),
      intervalMs: r.durationMs('host.interval', 1),
      perProcess: r.bool('host.per-process'),
      groups: [...groupsOf('sut'), ...groupsOf('injector'), ...file.groups],
    },
    probe: {
      http: r.list('probe.http').map((g) => located(g, () => parseHttpTargetFlag(g.raw))),
      intervalMs: r.durationMs('probe.http-interval', 1),
      timeoutMs: r.durationMs('probe.http-timeout', 1),
    },
    analysis: {
      intervalMs: r.durationMs('analysis.interval', 100),
      historySeconds: r.durationMs('analysis.history', 60_000) / 1000,
      resources: file.resources,
    },
  };
  // Compatibility-only settings are still checked, so a typo in them is caught as in statsd_exporter.
  for (const f of FLAGS) if (f.compatOnly) checkKind(r, f);
  return deepFreeze(settings);
}

function otlpSettings(r: Resolved): OtlpSettings {
  const endpoint = r.one('otlp.endpoint');
  if (endpoint.raw !== '') {
    let url: URL | null = null;
    try {
      url = new URL(endpoint.raw);
    } catch {
      url = null;
    }
    if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new ConfigError(`${endpoint.what}: expected an http:// or https:// URL, got ${JSON.stringify(endpoint.raw)}`);
    }
  }
  const headers: Record<string, string> = {};
  for (const g of r.list('otlp.header')) {
    const eq = g.raw.indexOf('=');
    const name = eq > 0 ? g.raw.slice(0, eq).trim() : '';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new ConfigError(`${g.what}: expected NAME=VALUE with an HTTP header name, got ${JSON.stringify(g.raw)}`);
    headers[name] = g.raw.slice(eq + 1);
  }
  const mappingConfig = r.string('otlp.mapping-config');
  return {
    listenAddress: r.address('otlp.listen-address'),
    listenAddressIsDefault: r.one('otlp.listen-address').what.endsWith('(default)'),
    maxRequestBytes: r.bytes('otlp.max-request-size'),
    seriesTtlMs: r.durationMs('otlp.series-ttl'),
    mappingFiles: [
      ...(mappingConfig ? [mappingConfig] : []),
      ...r.list('preset').flatMap((g) => {
        const f = otlpPresetFile(g.raw);
        return f ? [f] : [];
      }),
    ],
    export: {
      endpoint: endpoint.raw,
      headers,
      protocol: r.oneOf('otlp.protocol', ['http/protobuf', 'http/json'] as const),
      intervalMs: r.durationMs('otlp.interval', 100),
      timeoutMs: r.durationMs('otlp.timeout', 1),
      temporality: r.oneOf('otlp.temporality', ['cumulative', 'delta'] as const),
      maxQueue: Math.max(1, r.int('otlp.max-queue')),
    },
  };
}

function checkKind(r: Resolved, f: FlagSpec): void {
  if (f.kind === 'int') r.int(f.name);
  else if (f.kind === 'duration') r.durationMs(f.name);
}

/** Freezes plain objects and arrays all the way down; RegExps stay as they are (matching writes lastIndex). */
function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || value instanceof RegExp || Object.isFrozen(value)) return value;
  for (const v of Object.values(value)) deepFreeze(v);
  return Object.freeze(value);
}

export function helpText(version: string): string {
  const sections: Record<FlagSpec['section'], string> = {
    general: 'General',
    statsd: 'Statsd (statsd_exporter-compatible flags keep their names)',
    otlp: 'OpenTelemetry (OTLP receiver and push)',
    web: 'HTTP',
    host: 'Host collector (/proc)',
    probe: 'Probes',
    analysis: 'Analysis (saturation, verdict, history)',
  };
  const out: string[] = [
    `redline ${version} — observability for load tests`,
    '',
    'Usage:',
    '  redline [flags]                 run the agent (statsd in, Prometheus /metrics out)',
    '  redline demo [flags]            run a short ramp test against a demo service (redline demo --help)',
    '  redline report [flags]          the verdict, the knee and the steps of a run, in the terminal, JSON or HTML (redline report --help)',
    '  redline probe-path              print the path to pass to node --require for the event-loop probe',
    '',
    'Example:',
    "  redline --sut api='node .*server\\.js' --injector locust=locust --statsd.mapping-config=mapping.yml",
    '',
  ];
  for (const [sec, title] of Object.entries(sections)) {
    out.push(`${title}:`);
    for (const f of FLAGS) {
      if (f.section !== sec || f.compatOnly) continue;
      const lhs = f.kind === 'bool' ? `--[no-]${f.name}` : `--${f.name}=${f.metavar ?? 'VALUE'}`;
      out.push(`  ${lhs}`);
      out.push(`      ${f.help}${f.default ? ` (default: ${f.default})` : ''}`);
    }
    out.push('');
  }
  out.push('Accepted for statsd_exporter compatibility, without effect: ' + FLAGS.filter((f) => f.compatOnly).map((f) => `--${f.name}`).join(', '));
  out.push('');
  out.push(`Environment: every setting but ${FLAGS.filter((f) => f.cliOnly).map((f) => `--${f.name}`).join(', ')} may also be set as`);
  out.push(`REDLINE_<NAME> (dots and dashes become _, e.g. ${envName('statsd.listen-udp')}); a repeatable one takes one value`);
  out.push('per line. Precedence: command line, then environment, then the --config file, then the defaults.');
  out.push('');
  out.push('Signals: SIGHUP reloads the mapping files (a bad file keeps the old ones); SIGINT/SIGTERM stop cleanly.');
  return out.join('\n') + '\n';
}

/** A relayed datagram holds at least one 1-byte line and its newline, and fits in UDP. */
function relayPacketLength(n: number): number {
  if (n < 2 || n > 65507) throw new ConfigError(`--statsd.relay.packet-length: must be between 2 and 65507 bytes (one UDP datagram), got ${n}`);
  return n;
}
