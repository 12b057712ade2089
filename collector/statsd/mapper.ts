/**
 * statsd_exporter's mapping file, read unchanged: glob and regex rules turn a statsd name into a
 * Prometheus name and labels, choose the observer type and its options, a TTL, a scale, or drop.
 *
 * Glob rules are tried before regex rules whatever their order in the file (as there). A glob
 * `*` matches within one dot-separated segment; unlike statsd_exporter, a `*` may also sit inside
 * a segment (`api_*`, statsd_exporter#481) and `$0` names the whole metric (#444).
 * Errors name the file, the line and what is wrong. `map` never throws.
 */
import fs from 'node:fs';
import { parseDocument, LineCounter, isMap, isSeq, isScalar, type Node as YamlNode, type Pair } from 'yaml';
import { escapeMetricName } from '../../core/labels.js';
import { DEFAULT_BUCKETS } from '../../core/store.js';
import { DEFAULT_SUMMARY_OPTIONS, type SummaryOptions } from '../../core/summary.js';
import { parseDuration } from '../config.js';

export type StatsdKind = 'counter' | 'gauge' | 'observer';
export type ObserverType = 'histogram' | 'summary';

export interface MapResult {
  action: 'map' | 'drop';
  name: string;
  labels: Record<string, string>;
  honorLabels: boolean;
  observerType: ObserverType;
  buckets: readonly number[];
  summary: SummaryOptions;
  ttlMs: number;
  scale: number;
  help: string | undefined;
  matched: boolean;
}

export class MappingConfigError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${reason}`);
  }
}

export interface MapperOptions {
  defaultObserverType?: ObserverType;
  defaultBuckets?: readonly number[];
}

interface Rule {
  index: number;
  glob: boolean;
  regex: RegExp;
  /** Glob only: specificity per segment (2 literal, 1 partial wildcard, 0 `*`), for glob_disable_ordering. */
  specificity: number[];
  segments: number;
  kind: StatsdKind | null;
  nameTemplate: string;
  labelTemplates: [string, string][];
  honorLabels: boolean;
  action: 'map' | 'drop';
  observerType: ObserverType;
  buckets: readonly number[];
  summary: SummaryOptions;
  ttlMs: number;
  scale: number;
  help: string | undefined;
}

const METRIC_NAME_TEMPLATE = /^([a-zA-Z_]|\$\{?[a-zA-Z0-9_]+\}?)([a-zA-Z0-9_]|\$\{?[a-zA-Z0-9_]+\}?)*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const GLOB_SEGMENT = /^[a-zA-Z0-9_*-]+$/;

const MAPPING_KEYS = new Set([
  'match',
  'name',
  'labels',
  'honor_labels',
  'observer_type',
  'match_type',
  'match_metric_type',
  'histogram_options',
  'summary_options',
  'ttl',
  'action',
  'scale',
  'help',
]);
const DEFAULT_KEYS = new Set(['observer_type', 'match_type', 'glob_disable_ordering', 'ttl', 'summary_options', 'histogram_options']);
const HISTOGRAM_KEYS = new Set(['buckets', 'native_histogram_bucket_factor', 'native_histogram_max_buckets']);
const SUMMARY_KEYS = new Set(['quantiles', 'max_age', 'age_buckets', 'buf_cap']);

export class Mapper {
  private readonly globsBySegments = new Map<number, Rule[]>();
  private readonly regexes: Rule[] = [];
  private readonly unmatched: Omit<MapResult, 'name'>;

  /** Use `fromFile`, `fromYaml` or `empty`. */
  constructor(
    private readonly rules: Rule[],
    private readonly orderingDisabled: boolean,
    defaults: { observerType: ObserverType; buckets: readonly number[]; summary: SummaryOptions; ttlMs: number },
  ) {
    for (const r of rules) {
      if (r.glob) {
        const list = this.globsBySegments.get(r.segments) ?? [];
        list.push(r);
        this.globsBySegments.set(r.segments, list);
      } else this.regexes.push(r);
    }
    this.unmatched = {
      action: 'map',
      labels: {},
      honorLabels: false,
      observerType: defaults.observerType,
      buckets: defaults.buckets,
      summary: defaults.summary,
      ttlMs: defaults.ttlMs,
      scale: 1,
      help: undefined,
      matched: false,
    };
  }

  get ruleCount(): number {
    return this.rules.length;
  }

  static empty(opts: MapperOptions = {}): Mapper {
    return new Mapper([], false, {
      observerType: opts.defaultObserverType ?? 'histogram',
      buckets: opts.defaultBuckets ?? DEFAULT_BUCKETS,
      summary: DEFAULT_SUMMARY_OPTIONS,
      ttlMs: 0,
    });
  }

  static fromFile(file: string, opts: MapperOptions = {}): Mapper {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new MappingConfigError(file, undefined, `cannot read the mapping file: ${(err as Error).message}`);
    }
    return Mapper.fromYaml(text, file, opts);
  }

  static fromYaml(text: string, file: string, opts: MapperOptions = {}): Mapper {
    const lc = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      throw new MappingConfigError(file, lc.linePos(e.pos[0]).line, e.message.split('\n')[0]!);
    }
    const p = new Parser(file, lc);
    return p.build(doc.contents as YamlNode | null, opts);
  }

  map(name: string, kind: StatsdKind): MapResult {
    try {
      return this.mapUnsafe(name, kind);
    } catch {
      return { ...this.unmatched, name: escapeMetricName(name) };
    }
  }

  private mapUnsafe(name: string, kind: StatsdKind): MapResult {
    let segments = 1;
    for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) === 46) segments++;
    const globs = this.globsBySegments.get(segments);
    if (globs !== undefined) {
      let best: Rule | null = null;
      let bestMatch: RegExpExecArray | null = null;
      for (const r of globs) {
        if (r.kind !== null && r.kind !== kind) continue;
        const m = r.regex.exec(name);
        if (m === null) continue;
        if (!this.orderingDisabled) {
          best = r;
          bestMatch = m;
          break;
        }
        if (best === null || moreSpecific(r, best)) {
          best = r;
          bestMatch = m;
        }
      }
      if (best !== null) return this.result(best, bestMatch!, expandGlob);
    }
    for (const r of this.regexes) {
      if (r.kind !== null && r.kind !== kind) continue;
      const m = r.regex.exec(name);
      if (m !== null) return this.result(r, m, expandGo);
    }
    return { ...this.unmatched, name: escapeMetricName(name) };
  }

  private result(r: Rule, m: RegExpExecArray, expand: (tpl: string, m: RegExpExecArray) => string): MapResult {
    const labels: Record<string, string> = {};
    for (const [k, tpl] of r.labelTemplates) labels[k] = expand(tpl, m);
    return {
      action: r.action,
      name: escapeMetricName(expand(r.nameTemplate, m)),
      labels,
      honorLabels: r.honorLabels,
      observerType: r.observerType,
      buckets: r.buckets,
      summary: r.summary,
      ttlMs: r.ttlMs,
      scale: r.scale,
      help: r.help,
      matched: true,
    };
  }
}

function moreSpecific(a: Rule, b: Rule): boolean {
  for (let i = 0; i < a.specificity.length; i++) {
    const d = a.specificity[i]! - (b.specificity[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return false;
}

/** statsd_exporter's glob templates: `$n` / `${n}` with 1 ≤ n ≤ captures; `$0` the whole name; anything else empty. */
function expandGlob(tpl: string, m: RegExpExecArray): string {
  if (!tpl.includes('$')) return tpl;
  return tpl.replace(/\$\{?([a-zA-Z0-9_$]+)\}?/g, (_all, ref: string) => {
    if (!/^\d+$/.test(ref)) return '';
    const n = Number(ref);
    return n < m.length ? (m[n] ?? '') : '';
  });
}

/** Go's `Regexp.ExpandString`: `$name`/`${name}` (longest [A-Za-z0-9_]), numbers or named groups, `$$` a dollar. */
function expandGo(tpl: string, m: RegExpExecArray): string {
  if (!tpl.includes('$')) return tpl;
  return tpl.replace(/\$(\$|\{([a-zA-Z0-9_]+)\}|([a-zA-Z0-9_]+))/g, (_all, dollar: string, braced?: string, bare?: string) => {
    if (dollar === '$') return '$';
    const ref = braced ?? bare ?? '';
    if (/^\d+$/.test(ref)) return m[Number(ref)] ?? '';
    return m.groups?.[ref] ?? '';
  });
}

class Parser {
  constructor(
    private readonly file: string,
    private readonly lc: LineCounter,
  ) {}

  private line(node: unknown): number | undefined {
    const r = (node as YamlNode | null)?.range;
    return r ? this.lc.linePos(r[0]).line : undefined;
  }

  private fail(node: unknown, reason: string): never {
    throw new MappingConfigError(this.file, this.line(node), reason);
  }

  private pairs(node: unknown, what: string, allowed: Set<string>): Map<string, Pair<YamlNode, YamlNode>> {
    if (!isMap(node)) this.fail(node, `${what} must be a mapping of keys to values`);
    const out = new Map<string, Pair<YamlNode, YamlNode>>();
    for (const pair of node.items as Pair<YamlNode, YamlNode>[]) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (!allowed.has(key)) this.fail(pair.key, `unknown key ${JSON.stringify(key)} in ${what} (allowed: ${[...allowed].join(', ')})`);
      out.set(key, pair);
    }
    return out;
  }

  private str(pair: Pair<YamlNode, YamlNode> | undefined, what: string): string | undefined {
    if (pair === undefined || pair.value === null) return undefined;
    if (!isScalar(pair.value) || typeof pair.value.value === 'object') this.fail(pair.value ?? pair.key, `${what} must be a string`);
    return String(pair.value.value);
  }

  private num(pair: Pair<YamlNode, YamlNode> | undefined, what: string): number | undefined {
    if (pair === undefined || pair.value === null) return undefined;
    const v = isScalar(pair.value) ? Number(pair.value.value) : Number.NaN;
    if (!Number.isFinite(v)) this.fail(pair.value ?? pair.key, `${what} must be a number`);
    return v;
  }

  private bool(pair: Pair<YamlNode, YamlNode> | undefined, what: string): boolean | undefined {
    if (pair === undefined || pair.value === null) return undefined;
    if (!isScalar(pair.value) || typeof pair.value.value !== 'boolean') this.fail(pair.value ?? pair.key, `${what} must be true or false`);
    return pair.value.value;
  }

  private duration(pair: Pair<YamlNode, YamlNode> | undefined, what: string): number | undefined {
    const s = this.str(pair, what);
    if (s === undefined) return undefined;
    try {
      return s === '0' ? 0 : parseDuration(s, what);
    } catch {
      return this.fail(pair!.value, `${what}: invalid duration ${JSON.stringify(s)} (use e.g. 30s, 5m, 1h)`);
    }
  }

  private enumOf<T extends string>(pair: Pair<YamlNode, YamlNode> | undefined, what: string, values: readonly T[]): T | undefined {
    const s = this.str(pair, what);
    if (s === undefined || s === '') return undefined;
    if (!(values as readonly string[]).includes(s)) this.fail(pair!.value, `${what} must be one of ${values.join(', ')}, not ${JSON.stringify(s)}`);
    return s as T;
  }

  private buckets(node: unknown): number[] | undefined {
    const opts = this.pairs(node, 'histogram_options', HISTOGRAM_KEYS);
    const b = opts.get('buckets');
    if (b === undefined || b.value === null) return undefined;
    if (!isSeq(b.value)) this.fail(b.value, 'histogram_options.buckets must be a list of numbers');
    const out = b.value.items.map((it) => {
      const v = isScalar(it) ? Number(it.value) : Number.NaN;
      if (!Number.isFinite(v)) this.fail(it, 'histogram_options.buckets must be a list of numbers');
      return v;
    });
    for (let i = 1; i < out.length; i++) if (out[i]! <= out[i - 1]!) this.fail(b.value, 'histogram_options.buckets must be in increasing order');
    return out.length ? out : undefined;
  }

  private summary(node: unknown, base: SummaryOptions): SummaryOptions {
    const opts = this.pairs(node, 'summary_options', SUMMARY_KEYS);
    let quantiles = base.quantiles;
    const q = opts.get('quantiles');
    if (q !== undefined && q.value !== null) {
      if (!isSeq(q.value)) this.fail(q.value, 'summary_options.quantiles must be a list of {quantile, error}');
      const list = q.value.items.map((it) => {
        const p = this.pairs(it, 'a summary quantile', new Set(['quantile', 'error']));
        const quantile = this.num(p.get('quantile'), 'quantile');
        if (quantile === undefined || quantile < 0 || quantile > 1) this.fail(it, 'quantile must be between 0 and 1');
        return { quantile, error: this.num(p.get('error'), 'error') ?? 0.01 };
      });
      if (list.length) quantiles = list;
    }
    const maxAge = this.duration(opts.get('max_age'), 'summary_options.max_age');
    const ageBuckets = this.num(opts.get('age_buckets'), 'summary_options.age_buckets');
    const bufCap = this.num(opts.get('buf_cap'), 'summary_options.buf_cap');
    return {
      quantiles,
      maxAgeMs: maxAge || base.maxAgeMs,
      ageBuckets: ageBuckets || base.ageBuckets,
      bufCap: bufCap || base.bufCap,
    };
  }

  build(root: YamlNode | null, opts: MapperOptions): Mapper {
    const top = root === null ? new Map<string, Pair<YamlNode, YamlNode>>() : this.pairs(root, 'the mapping file', new Set(['defaults', 'mappings']));
    const defNode = top.get('defaults')?.value ?? null;
    const defs = defNode === null ? new Map<string, Pair<YamlNode, YamlNode>>() : this.pairs(defNode, 'defaults', DEFAULT_KEYS);
    const defaultObserver = this.enumOf(defs.get('observer_type'), 'defaults.observer_type', ['histogram', 'summary'] as const) ?? opts.defaultObserverType ?? 'histogram';
    const defaultMatchType = this.enumOf(defs.get('match_type'), 'defaults.match_type', ['glob', 'regex'] as const) ?? 'glob';
    const orderingDisabled = this.bool(defs.get('glob_disable_ordering'), 'defaults.glob_disable_ordering') ?? false;
    const defaultTtl = this.duration(defs.get('ttl'), 'defaults.ttl') ?? 0;
    const hdef = defs.get('histogram_options');
    const defaultBuckets = (hdef && hdef.value !== null ? this.buckets(hdef.value) : undefined) ?? opts.defaultBuckets ?? DEFAULT_BUCKETS;
    const sdef = defs.get('summary_options');
    const defaultSummary = sdef && sdef.value !== null ? this.summary(sdef.value, DEFAULT_SUMMARY_OPTIONS) : DEFAULT_SUMMARY_OPTIONS;

    const rules: Rule[] = [];
    const mappings = top.get('mappings')?.value ?? null;
    if (mappings !== null) {
      if (!isSeq(mappings)) this.fail(mappings, 'mappings must be a list');
      mappings.items.forEach((item, index) => rules.push(this.rule(item, index, { defaultObserver, defaultMatchType, defaultTtl, defaultBuckets, defaultSummary })));
    }
    return new Mapper(rules, orderingDisabled, { observerType: defaultObserver, buckets: defaultBuckets, summary: defaultSummary, ttlMs: defaultTtl });
  }

  private rule(
    item: unknown,
    index: number,
    d: { defaultObserver: ObserverType; defaultMatchType: 'glob' | 'regex'; defaultTtl: number; defaultBuckets: readonly number[]; defaultSummary: SummaryOptions },
  ): Rule {
    const p = this.pairs(item, `mapping #${index + 1}`, MAPPING_KEYS);
    const match = this.str(p.get('match'), 'match');
    if (!match) this.fail(item, `mapping #${index + 1} has no match`);
    const name = this.str(p.get('name'), 'name');
    if (!name) this.fail(item, `mapping for ${JSON.stringify(match)} didn't set a metric name`);
    if (!METRIC_NAME_TEMPLATE.test(name)) this.fail(p.get('name')!.value, `metric name ${JSON.stringify(name)} is not a valid Prometheus name (letters, digits, _ and $n captures)`);
    const mmt = this.str(p.get('match_metric_type'), 'match_metric_type');
    if (mmt === 'timer') this.fail(p.get('match_metric_type')!.value, 'match_metric_type "timer" was removed from statsd_exporter; use "observer"');
    const kind = this.enumOf(p.get('match_metric_type'), 'match_metric_type', ['counter', 'gauge', 'observer'] as const) ?? null;
    const matchType = this.enumOf(p.get('match_type'), 'match_type', ['glob', 'regex'] as const) ?? d.defaultMatchType;
    const action = this.enumOf(p.get('action'), 'action', ['map', 'drop'] as const) ?? 'map';
    const observerType = this.enumOf(p.get('observer_type'), 'observer_type', ['histogram', 'summary'] as const) ?? d.defaultObserver;
    const hOpt = p.get('histogram_options');
    const sOpt = p.get('summary_options');
    const hasH = hOpt !== undefined && hOpt.value !== null;
    const hasS = sOpt !== undefined && sOpt.value !== null;
    if (hasH && hasS) this.fail(item, `mapping for ${JSON.stringify(match)} sets both histogram_options and summary_options`);
    if (observerType === 'histogram' && hasS) this.fail(sOpt!.key, 'cannot use a histogram observer with summary_options');
    if (observerType === 'summary' && hasH) this.fail(hOpt!.key, 'cannot use a summary observer with histogram_options');
    const labelTemplates: [string, string][] = [];
    const lab = p.get('labels');
    if (lab !== undefined && lab.value !== null) {
      if (!isMap(lab.value)) this.fail(lab.value, 'labels must be a mapping of label names to values');
      for (const pair of lab.value.items as Pair<YamlNode, YamlNode>[]) {
        const k = isScalar(pair.key) ? String(pair.key.value) : '';
        if (!LABEL_NAME.test(k) || k.startsWith('__')) this.fail(pair.key, `invalid label name ${JSON.stringify(k)}`);
        const v = isScalar(pair.value) ? String(pair.value.value ?? '') : this.fail(pair.value, `label ${k} must be a string`);
        labelTemplates.push([k, v]);
      }
    }
    const scale = this.num(p.get('scale'), 'scale') ?? 1;
    const ttlMs = this.duration(p.get('ttl'), 'ttl') || d.defaultTtl;
    let regex: RegExp;
    let specificity: number[] = [];
    let segments = 0;
    if (matchType === 'glob') {
      const parts = match.split('.');
      for (const seg of parts) {
        if (!GLOB_SEGMENT.test(seg)) this.fail(p.get('match')!.value, `invalid glob ${JSON.stringify(match)}: segments may hold letters, digits, _, - and *`);
      }
      segments = parts.length;
      specificity = parts.map((s) => (s === '*' ? 0 : s.includes('*') ? 1 : 2));
      const body = parts.map((s) => s.split('*').map(escapeRegex).join('([^.]*)')).join('\\.');
      regex = new RegExp(`^${body}$`);
    } else {
      try {
        regex = new RegExp(match.replace(/\(\?P</g, '(?<'));
      } catch (err) {
        this.fail(p.get('match')!.value, `invalid regex ${JSON.stringify(match)}: ${(err as Error).message}`);
      }
    }
    return {
      index,
      glob: matchType === 'glob',
      regex,
      specificity,
      segments,
      kind,
      nameTemplate: name,
      labelTemplates,
      honorLabels: this.bool(p.get('honor_labels'), 'honor_labels') ?? false,
      action,
      observerType,
      buckets: (hasH ? this.buckets(hOpt!.value) : undefined) ?? d.defaultBuckets,
      summary: hasS ? this.summary(sOpt!.value, d.defaultSummary) : d.defaultSummary,
      ttlMs,
      scale,
      help: this.str(p.get('help'), 'help'),
    };
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
