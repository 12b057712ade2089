/**
 * Agent settings: one table of flags (statsd_exporter's names where both have the setting),
 * which also generates `--help`, plus an optional YAML file (`--config`) using the same names.
 * Flags given on the command line win over the file. Bad values throw with the flag (or the
 * file and line) and what is wrong.
 */
import fs from 'node:fs';
import { parseDocument, LineCounter, isMap, isScalar, isSeq, type Node as YamlNode } from 'yaml';

export type FlagKind = 'string' | 'bool' | 'int' | 'bytes' | 'duration' | 'list' | 'float-list';

export interface FlagSpec {
  name: string;
  kind: FlagKind;
  default: string | boolean | number | string[] | number[];
  help: string;
  /** Shown in --help under this heading. */
  section: 'statsd' | 'web' | 'host' | 'probe' | 'general';
  /** Accepted for statsd_exporter compatibility; has no effect in Redline. */
  compatOnly?: boolean;
  repeatable?: boolean;
  metavar?: string;
}

export const FLAGS: readonly FlagSpec[] = [
  { name: 'config', kind: 'string', default: '', section: 'general', metavar: 'FILE', help: 'YAML file with any of these settings (same names, nested or dotted) and the host.process_groups list. Flags win over the file.' },
  { name: 'statsd.listen-udp', kind: 'string', default: ':8125', section: 'statsd', metavar: 'ADDR', help: 'UDP address to receive statsd on; empty to disable.' },
  { name: 'statsd.listen-tcp', kind: 'string', default: ':8125', section: 'statsd', metavar: 'ADDR', help: 'TCP address to receive newline-framed statsd on; empty to disable.' },
  { name: 'statsd.listen-unixgram', kind: 'string', default: '', section: 'statsd', metavar: 'PATH', help: 'Unix datagram socket to receive statsd on; empty to disable.' },
  { name: 'statsd.unixsocket-mode', kind: 'string', default: '755', section: 'statsd', metavar: 'MODE', help: 'Permission bits (octal) of the unix datagram socket.' },
  { name: 'statsd.mapping-config', kind: 'string', default: '', section: 'statsd', metavar: 'FILE', help: "statsd_exporter mapping file (YAML), read unchanged. Reloaded on SIGHUP and POST /-/reload." },
  { name: 'preset', kind: 'list', default: [], section: 'statsd', repeatable: true, metavar: 'NAME', help: 'Built-in mapping preset for a load tool (k6, locust, artillery, gevent, loadtest), tried after --statsd.mapping-config. Repeatable.' },
  { name: 'statsd.read-buffer', kind: 'bytes', default: 33554432, section: 'statsd', metavar: 'BYTES', help: 'UDP receive buffer to ask the kernel for (capped by net.core.rmem_max).' },
  { name: 'statsd.cache-size', kind: 'int', default: 100000, section: 'statsd', metavar: 'N', help: 'Raw statsd keys whose mapping result is cached; the cache is emptied when it grows past this.' },
  { name: 'statsd.cache-type', kind: 'string', default: 'lru', section: 'statsd', compatOnly: true, help: 'Accepted for statsd_exporter compatibility.' },
  { name: 'statsd.max-series', kind: 'int', default: 100000, section: 'statsd', metavar: 'N', help: 'Cap on statsd series; new series above it are dropped and counted (redline_statsd_dropped_total{reason="series_limit"}) while existing ones keep updating.' },
  { name: 'statsd.set-interval', kind: 'duration', default: 10000, section: 'statsd', metavar: 'DURATION', help: 'Statsd sets are served as the number of distinct members seen over this interval.' },
  { name: 'statsd.default-observer-type', kind: 'string', default: 'histogram', section: 'statsd', metavar: 'TYPE', help: 'histogram or summary, for timers/histograms/distributions no mapping decides for.' },
  { name: 'statsd.default-buckets', kind: 'float-list', default: [], section: 'statsd', metavar: 'LIST', help: 'Comma-separated histogram buckets (seconds for timers) when no mapping sets them; default 1 ms to 60 s.' },
  { name: 'statsd.parse-dogstatsd-tags', kind: 'bool', default: true, section: 'statsd', help: 'Parse DogStatsD tags (|#k:v,k2:v2). --no-statsd.parse-dogstatsd-tags to disable.' },
  { name: 'statsd.parse-influxdb-tags', kind: 'bool', default: true, section: 'statsd', help: 'Parse InfluxDB/Telegraf tags (name,k=v:…).' },
  { name: 'statsd.parse-librato-tags', kind: 'bool', default: true, section: 'statsd', help: 'Parse Librato tags (name#k=v:…).' },
  { name: 'statsd.parse-signalfx-tags', kind: 'bool', default: true, section: 'statsd', help: 'Parse SignalFx tags (name[k=v]:…).' },
  { name: 'statsd.relay.address', kind: 'string', default: '', section: 'statsd', metavar: 'ADDR', help: 'Forward every received UDP packet unchanged to this statsd server.' },
  { name: 'statsd.udp-packet-queue-size', kind: 'int', default: 10000, section: 'statsd', compatOnly: true, help: 'Accepted for statsd_exporter compatibility (Redline parses in the receive callback).' },
  { name: 'statsd.event-queue-size', kind: 'int', default: 10000, section: 'statsd', compatOnly: true, help: 'Accepted for statsd_exporter compatibility.' },
  { name: 'statsd.event-flush-threshold', kind: 'int', default: 1000, section: 'statsd', compatOnly: true, help: 'Accepted for statsd_exporter compatibility.' },
  { name: 'statsd.event-flush-interval', kind: 'duration', default: 200, section: 'statsd', compatOnly: true, help: 'Accepted for statsd_exporter compatibility.' },
  { name: 'statsd.relay.packet-length', kind: 'int', default: 1400, section: 'statsd', compatOnly: true, help: 'Accepted for statsd_exporter compatibility (packets are relayed whole).' },
  { name: 'web.listen-address', kind: 'string', default: ':9102', section: 'web', metavar: 'ADDR', help: 'Address for /metrics, /-/healthy, /-/ready, /-/reload.' },
  { name: 'web.telemetry-path', kind: 'string', default: '/metrics', section: 'web', metavar: 'PATH', help: 'Path under which metrics are served.' },
  { name: 'web.enable-lifecycle', kind: 'bool', default: false, section: 'web', help: 'Allow POST /-/quit (reload is always allowed).' },
  { name: 'sut', kind: 'list', default: [], section: 'host', repeatable: true, metavar: 'NAME=REGEX', help: 'A process group of the system under test: processes whose command line matches REGEX. Repeatable.' },
  { name: 'injector', kind: 'list', default: [], section: 'host', repeatable: true, metavar: 'NAME=REGEX', help: 'A process group of load injectors (counted in redline_injector_processes). Repeatable.' },
  { name: 'host.enabled', kind: 'bool', default: true, section: 'host', help: 'Read the host and process groups from /proc.' },
  { name: 'host.interval', kind: 'duration', default: 1000, section: 'host', metavar: 'DURATION', help: 'How often the host collector reads /proc.' },
  { name: 'host.per-process', kind: 'bool', default: false, section: 'host', help: 'Also publish per-process series (label pid); they churn, so off by default.' },
  { name: 'probe.http', kind: 'list', default: [], section: 'probe', repeatable: true, metavar: 'NAME=URL', help: 'Request URL every --probe.http-interval and record latency and outcome, as a load balancer health check sees it. Repeatable.' },
  { name: 'probe.http-interval', kind: 'duration', default: 1000, section: 'probe', metavar: 'DURATION', help: 'Interval of the HTTP probe.' },
  { name: 'probe.http-timeout', kind: 'duration', default: 2000, section: 'probe', metavar: 'DURATION', help: 'Timeout of one HTTP probe request.' },
  { name: 'log.level', kind: 'string', default: 'info', section: 'general', metavar: 'LEVEL', help: 'debug, info, warn or error.' },
  { name: 'log.format', kind: 'string', default: 'logfmt', section: 'general', compatOnly: true, help: 'Accepted for statsd_exporter compatibility (logs are logfmt).' },
  { name: 'check-config', kind: 'bool', default: false, section: 'general', help: 'Check the configuration and mapping file, then exit (0 when valid).' },
  { name: 'help', kind: 'bool', default: false, section: 'general', help: 'Show this help.' },
  { name: 'version', kind: 'bool', default: false, section: 'general', help: 'Show the version.' },
];

export type Settings = Map<string, string | boolean | number | string[] | number[]>;

export class ConfigError extends Error {}

/** Parses a Go-style duration (`1s`, `500ms`, `1m30s`) or a bare number of seconds into ms. */
export function parseDuration(value: string, what: string): number {
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let pos = 0;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  while ((m = re.exec(v)) !== null) {
    total += Number(m[1]) * unit[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos !== v.length || v.length === 0) throw new ConfigError(`${what}: invalid duration ${JSON.stringify(value)} (use e.g. 1s, 500ms, 2m)`);
  return total;
}

function parseBytes(value: string, what: string): number {
  const m = /^(\d+)\s*([kmg]i?b?)?$/i.exec(value.trim());
  if (!m) throw new ConfigError(`${what}: invalid size ${JSON.stringify(value)} (bytes, or e.g. 32MiB)`);
  const mult: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
  return Number(m[1]) * (m[2] ? mult[m[2][0]!.toLowerCase()]! : 1);
}

function convert(spec: FlagSpec, raw: string, what: string): string | boolean | number | string[] | number[] {
  switch (spec.kind) {
    case 'string':
      return raw;
    case 'bool':
      if (/^(true|1|yes|on)$/i.test(raw)) return true;
      if (/^(false|0|no|off)$/i.test(raw)) return false;
      throw new ConfigError(`${what}: expected true or false, got ${JSON.stringify(raw)}`);
    case 'int': {
      if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${what}: expected a whole number, got ${JSON.stringify(raw)}`);
      return Number(raw);
    }
    case 'bytes':
      return parseBytes(raw, what);
    case 'duration':
      return parseDuration(raw, what);
    case 'list':
      return [raw];
    case 'float-list': {
      const out = raw
        .split(',')
        .filter((s) => s.trim() !== '')
        .map((s) => Number(s));
      if (out.some((n) => !Number.isFinite(n))) throw new ConfigError(`${what}: expected comma-separated numbers, got ${JSON.stringify(raw)}`);
      return out;
    }
  }
}

const BY_NAME = new Map(FLAGS.map((f) => [f.name, f]));

export interface ParsedArgs {
  settings: Settings;
  /** Flags given explicitly on the command line. */
  explicit: Set<string>;
  positional: string[];
}

/** Parses `--name=value`, `--name value`, `--name` / `--no-name` for booleans. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const settings: Settings = new Map();
  const explicit = new Set<string>();
  const positional: string[] = [];
  for (const f of FLAGS) settings.set(f.name, Array.isArray(f.default) ? [...f.default] as string[] : f.default);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h') {
      settings.set('help', true);
      continue;
    }
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    let spec = BY_NAME.get(name);
    if (!spec && name.startsWith('no-')) {
      const base = BY_NAME.get(name.slice(3));
      if (base && base.kind === 'bool' && value === undefined) {
        name = base.name;
        spec = base;
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
    const v = convert(spec, value, `--${name}`);
    if (spec.kind === 'list' && explicit.has(name)) {
      (settings.get(name) as string[]).push(...(v as string[]));
    } else settings.set(name, v);
    explicit.add(name);
  }
  return { settings, explicit, positional };
}

export interface FileConfig {
  /** The raw `host:` section, handed to the host collector's own parser. */
  host: unknown;
  file: string;
}

/**
 * Reads the YAML config file into `settings` (flags given explicitly keep their value).
 * Keys are the flag names, nested (`statsd: {listen-udp: …}`) or dotted; `_` and `-` are the same.
 */
export function loadConfigFile(file: string, parsed: ParsedArgs): FileConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line ?? lc.linePos(e.pos[0]).line;
    throw new ConfigError(`${file}:${line}: ${e.message.split('\n')[0]}`);
  }
  const lineOf = (n: YamlNode | null | undefined): number => (n?.range ? lc.linePos(n.range[0]).line : 1);
  let hostSection: unknown = undefined;
  const walk = (node: unknown, prefix: string): void => {
    if (!isMap(node)) throw new ConfigError(`${file}:${lineOf(node as YamlNode)}: expected a mapping of settings`);
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode;
      const key = String(isScalar(keyNode) ? keyNode.value : keyNode).replace(/_/g, '-');
      const full = prefix ? `${prefix}.${key}` : key;
      if (full === 'host' && isMap(pair.value)) {
        const groups = pair.value.items.find((p) => isScalar(p.key) && String(p.key.value).replace(/_/g, '-') === 'process-groups');
        hostSection = pair.value.toJSON();
        // The rest of the host section uses flag names too.
        for (const p of pair.value.items) {
          if (p === groups) continue;
          const k = `host.${String(isScalar(p.key) ? p.key.value : p.key).replace(/_/g, '-')}`;
          setFromYaml(k, p.value as YamlNode);
        }
        continue;
      }
      const spec = BY_NAME.get(full.replace(/_/g, '-'));
      if (!spec) {
        if (isMap(pair.value)) {
          walk(pair.value, full);
          continue;
        }
        throw new ConfigError(`${file}:${lineOf(keyNode)}: unknown setting ${JSON.stringify(full)}`);
      }
      setFromYaml(spec.name, pair.value as YamlNode);
    }
  };
  const setFromYaml = (name: string, valueNode: YamlNode): void => {
    const spec = BY_NAME.get(name);
    const line = lineOf(valueNode);
    if (!spec) throw new ConfigError(`${file}:${line}: unknown setting ${JSON.stringify(name)}`);
    if (parsed.explicit.has(name)) return;
    const where = `${file}:${line}: ${name}`;
    if (isSeq(valueNode)) {
      const items = valueNode.items.map((it) => String(isScalar(it) ? it.value : it));
      if (spec.kind === 'list') parsed.settings.set(name, items);
      else if (spec.kind === 'float-list') parsed.settings.set(name, convert(spec, items.join(','), where));
      else throw new ConfigError(`${where}: expected a single value, got a list`);
      return;
    }
    if (!isScalar(valueNode)) throw new ConfigError(`${where}: expected a value`);
    const raw = valueNode.value === null ? '' : String(valueNode.value);
    parsed.settings.set(name, convert(spec, raw, where));
  };
  if (doc.contents !== null) walk(doc.contents, '');
  return { host: hostSection, file };
}

export function helpText(version: string): string {
  const sections: Record<FlagSpec['section'], string> = {
    general: 'General',
    statsd: 'Statsd (statsd_exporter-compatible flags keep their names)',
    web: 'HTTP',
    host: 'Host collector (/proc)',
    probe: 'Probes',
  };
  const out: string[] = [
    `redline ${version} — observability for load tests`,
    '',
    'Usage:',
    '  redline [flags]                 run the agent (statsd in, Prometheus /metrics out)',
    '  redline demo [flags]            run a short ramp test against a demo service (redline demo --help)',
    '  redline probe-path              print the path to pass to node --require for the event-loop probe',
    '',
    'Example:',
    "  redline --sut api='node server.js' --injector locust=locust --statsd.mapping-config=mapping.yml",
    '',
  ];
  for (const [sec, title] of Object.entries(sections)) {
    out.push(`${title}:`);
    for (const f of FLAGS) {
      if (f.section !== sec || f.compatOnly) continue;
      const lhs = f.kind === 'bool' ? `--[no-]${f.name}` : `--${f.name}=${f.metavar ?? 'VALUE'}`;
      const def = defaultText(f);
      out.push(`  ${lhs}`);
      out.push(`      ${f.help}${def ? ` (default: ${def})` : ''}`);
    }
    out.push('');
  }
  out.push('Accepted for statsd_exporter compatibility, without effect: ' + FLAGS.filter((f) => f.compatOnly).map((f) => `--${f.name}`).join(', '));
  out.push('');
  out.push('Signals: SIGHUP reloads the mapping file (a bad file keeps the old one); SIGINT/SIGTERM stop cleanly.');
  return out.join('\n') + '\n';
}

function defaultText(f: FlagSpec): string {
  if (Array.isArray(f.default)) return f.default.length ? f.default.join(',') : '';
  if (f.kind === 'duration') return `${Number(f.default) / 1000}s`;
  if (f.kind === 'bool') return String(f.default);
  return f.default === '' ? '' : String(f.default);
}
