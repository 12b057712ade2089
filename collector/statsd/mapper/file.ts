/**
 * statsd_exporter's mapping file, read unchanged into rules: `defaults` and `mappings` with
 * glob or regex matches, names and label templates, metric-type filters, observer options, TTL,
 * scale, help and drop. As statsd_exporter reads it: unknown keys are errors
 * (yaml.UnmarshalStrict); YAML 1.1 scalars (`yes`, `on`) as yaml.v2 reads them.
 *
 * Differences, each on purpose:
 * - observers are histograms unless the file (or MapperOptions) asks for summaries: summaries
 *   cannot be aggregated across instances. A mapping with only `summary_options` is a summary.
 * - label names of one character are accepted; names starting with `__` are refused.
 * - `action: drop` rules need no `name`.
 *
 * Anchors, aliases and merge keys (`<<: *base`) as yaml.v2 applies them to statsd_exporter's
 * structs: keys are applied in file order, a later one replacing an earlier one, except that a
 * mapping-valued key set twice (histogram_options, summary_options, defaults, labels) is merged
 * into, and a label set twice is an error. Only the first YAML document of the file is read, as
 * yaml.v2's Unmarshal does; later ones are ignored with a warning.
 *
 * Errors name the file, the line and what is wrong (MappingConfigError).
 */
import type { RE2JS } from 're2js';
import { parseAllDocuments, LineCounter, isAlias, isMap, isSeq, isScalar, Pair, YAMLMap, type Node as YamlNode, type Scalar } from 'yaml';
import { DEFAULT_BUCKETS } from '../../../core/store.js';
import { DEFAULT_SUMMARY_OPTIONS, type SummaryOptions } from '../../../core/summary.js';
import { compileLinear, compileRe2, enableLinearFallback, Re2SyntaxError } from './re2.js';
import { Template } from './template.js';
import { DEFAULT_NATIVE_OPTIONS, type NativeHistogramOptions } from '../../../core/native.js';
import { MappingConfigError, unmatchedResult, type MapResult, type MapperOptions, type ObserverType, type Rule } from './rule.js';

/** client_golang's DefBuckets, statsd_exporter's default histogram buckets (seconds). */
export const STATSD_EXPORTER_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A mapping file once read: what the matcher is built from. */
export interface MappingFile {
  rules: Rule[];
  orderingDisabled: boolean;
  unmatched: Omit<MapResult, 'name'>;
  /** Problems that do not stop loading, as `file:line: message`. */
  warnings: string[];
}

/** statsd_exporter's `metricNameRE`: letters, digits, `_` and `$n` / `${n}`. */
const NAME_RE = /^([a-zA-Z_]|\$\{?\d+\}?)([a-zA-Z0-9_]|\$\{?\d+\}?)*$/;
/** Regex rules may also name groups: `${host}`. */
const NAME_RE_NAMED = /^([a-zA-Z_]|\$\{?[a-zA-Z0-9_]+\}?)([a-zA-Z0-9_]|\$\{?[a-zA-Z0-9_]+\}?)*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const GLOB_SEGMENT = /^[a-zA-Z0-9_*-]+$/;

const MAPPING_KEYS = [
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
];
const DEFAULT_KEYS = ['observer_type', 'match_type', 'glob_disable_ordering', 'ttl', 'summary_options', 'histogram_options'];
const HISTOGRAM_KEYS = ['buckets', 'native_histogram_bucket_factor', 'native_histogram_max_buckets'];
const SUMMARY_KEYS = ['quantiles', 'max_age', 'age_buckets', 'buf_cap'];
const QUANTILE_KEYS = ['quantile', 'error'];

/** Keys older statsd_exporter versions had, with what replaced them. */
const REMOVED: Record<string, string> = {
  timer_type: 'timer_type was removed from statsd_exporter; use observer_type (histogram or summary)',
  buckets: 'buckets moved under histogram_options: use histogram_options.buckets',
  quantiles: 'quantiles moved under summary_options: use summary_options.quantiles',
  match_timer_type: 'match_timer_type was removed from statsd_exporter; use match_metric_type',
};

/** Parses mapping YAML; `file` is only used in messages. Throws MappingConfigError. */
export function readMappingYaml(text: string, file: string, opts: MapperOptions = {}): MappingFile {
  const lc = new LineCounter();
  // yaml.v2 (statsd_exporter's reader) is YAML 1.1: `yes`/`on` are booleans, `<<` merges.
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, version: '1.1' });
  const doc = docs[0];
  const b = new Builder(file, lc, opts);
  if (doc === undefined) return { rules: [], orderingDisabled: false, unmatched: b.unmatched, warnings: [] };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const reason = e.code === 'DUPLICATE_KEY' ? 'duplicate key (each key may appear once per mapping)' : e.message.split('\n')[0]!;
    throw new MappingConfigError(file, lc.linePos(e.pos[0]).line, reason);
  }
  if (docs.length > 1) {
    const second = docs[1]!.range[0];
    b.warnings.push(`${file}:${lc.linePos(second).line}: only the first YAML document of the file is read (as statsd_exporter); ${docs.length - 1} more ignored`);
  }
  b.build(resolveAliases(doc.contents as YamlNode | null, b));
  return { rules: b.rules, orderingDisabled: b.orderingDisabled, unmatched: b.unmatched, warnings: b.warnings };
}

/** yaml.v2's guard against alias bombs, in merged keys (it fails with "excessive aliasing"). */
const MAX_MERGED_KEYS = 100_000;

/**
 * Replaces every alias (`*name`) by the node it names: the latest anchor of that name before it,
 * in document order. One pass; an aliased node is not walked again (it already was).
 */
function resolveAliases(root: YamlNode | null, b: Builder): YamlNode | null {
  const anchors = new Map<string, unknown>();
  const resolve = (n: unknown): unknown => {
    if (!isAlias(n)) {
      walk(n);
      return n;
    }
    const target = anchors.get(n.source);
    if (target === undefined) b.failAt(n, `unknown anchor ${JSON.stringify(n.source)} referenced`);
    return target;
  };
  const walk = (n: unknown): void => {
    if (isMap(n)) {
      for (const pair of n.items) {
        pair.key = resolve(pair.key);
        pair.value = resolve(pair.value);
      }
    } else if (isSeq(n)) {
      n.items = n.items.map(resolve);
    }
    // Set once the node is complete: a node cannot contain itself.
    const anchor = (n as { anchor?: string } | null)?.anchor;
    if (anchor !== undefined) anchors.set(anchor, n);
  };
  return resolve(root) as YamlNode | null;
}

/** A plain `<<` key (YAML 1.1's merge key; a quoted "<<" is an ordinary key, as in yaml.v2). */
function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === 'symbol' && key.value.description === '<<';
}

/** Go's time.ParseDuration, in milliseconds. */
export function parseGoDuration(s: string): number | null {
  const v = s.trim();
  if (v === '0' || v === '+0' || v === '-0') return 0;
  const m = /^([-+]?)((?:\d*\.?\d*(?:ns|us|µs|μs|ms|s|m|h))+)$/.exec(v);
  if (m === null) return null;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const part of m[2]!.matchAll(/(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)/g)) {
    if (part[1] === '' || part[1] === '.') return null;
    total += Number(part[1]) * unit[part[2]!]!;
  }
  return m[1] === '-' ? -total : total;
}

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

type P = Pair<YamlNode | null, YamlNode | null>;

class Builder {
  rules: Rule[] = [];
  orderingDisabled = false;
  unmatched: Omit<MapResult, 'name'>;
  warnings: string[] = [];
  private defaultObserver: ObserverType | undefined;
  private defaultMatchType: 'glob' | 'regex' = 'glob';
  private defaultTtl = 0;
  private defaultBuckets: readonly number[];
  /** Buckets came from the file's defaults or from MapperOptions, not Redline's built-in list. */
  private bucketsChosen = false;
  private defaultSummary: SummaryOptions = DEFAULT_SUMMARY_OPTIONS;
  private defaultNative: NativeHistogramOptions = DEFAULT_NATIVE_OPTIONS;

  constructor(
    private readonly file: string,
    private readonly lc: LineCounter,
    private readonly opts: MapperOptions,
  ) {
    this.defaultBuckets = opts.defaultBuckets ?? DEFAULT_BUCKETS;
    this.bucketsChosen = opts.defaultBuckets !== undefined;
    this.unmatched = unmatchedResult(opts.defaultObserverType ?? 'histogram', this.defaultBuckets, DEFAULT_SUMMARY_OPTIONS, 0);
  }

  private line(node: unknown): number | undefined {
    const r = (node as YamlNode | null)?.range;
    return r ? this.lc.linePos(r[0]).line : undefined;
  }

  private fail(node: unknown, reason: string): never {
    throw new MappingConfigError(this.file, this.line(node), reason);
  }

  failAt(node: unknown, reason: string): never {
    this.fail(node, reason);
  }

  private mergedKeys = 0;

  /**
   * The maps a merge key's value brings in, in the order yaml.v2 applies them: a sequence is
   * applied from its last map to its first, so the first wins.
   */
  private mergeSources(value: unknown): YAMLMap<unknown, unknown>[] {
    if (isMap(value)) return [value];
    if (isSeq(value) && value.items.every((it) => isMap(it))) return [...(value.items as YAMLMap<unknown, unknown>[])].reverse();
    this.fail(value, 'map merge requires map or sequence of maps as the value');
  }

  /** A mapping's pairs with merge keys expanded: struct semantics, a later key replacing an earlier one. */
  private structPairs(node: YAMLMap<unknown, unknown>, visit: (pair: P) => void, depth: number): void {
    if (depth > 64) this.fail(node, 'merge keys nested too deep');
    for (const pair of node.items as P[]) {
      if (isMergeKey(pair.key)) {
        for (const src of this.mergeSources(pair.value)) this.structPairs(src, visit, depth + 1);
        continue;
      }
      if (depth > 0 && ++this.mergedKeys > MAX_MERGED_KEYS) this.fail(pair.key, 'document contains excessive aliasing');
      visit(pair);
    }
  }

  /** A label map's pairs with merge keys expanded: map semantics, a key set twice is an error (yaml.v2 strict). */
  private mapPairs(node: YAMLMap<unknown, unknown>, out: P[], seen: Set<string>, depth: number): void {
    if (depth > 64) this.fail(node, 'merge keys nested too deep');
    for (const pair of node.items as P[]) {
      if (isMergeKey(pair.key)) {
        for (const src of this.mergeSources(pair.value)) this.mapPairs(src, out, seen, depth + 1);
        continue;
      }
      if (depth > 0 && ++this.mergedKeys > MAX_MERGED_KEYS) this.fail(pair.key, 'document contains excessive aliasing');
      const k = isScalar(pair.key) ? String(pair.key.value) : '';
      if (seen.has(k)) {
        this.fail(pair.key, `label ${JSON.stringify(k)} is set twice, once through a merge key (<<) or a repeated labels key; statsd_exporter's YAML reader refuses this too (key ${JSON.stringify(k)} already set in map)`);
      }
      seen.add(k);
      out.push(pair);
    }
  }

  private warn(node: unknown, message: string): void {
    const line = this.line(node);
    this.warnings.push(`${this.file}${line !== undefined ? `:${line}` : ''}: ${message}`);
  }

  /** The keys of a YAML mapping (merge keys expanded), each checked against `allowed`. */
  private pairs(node: unknown, what: string, allowed: readonly string[], extra = ''): Map<string, P> {
    if (!isMap(node)) this.fail(node, `${what} must be a mapping of keys to values${extra}`);
    const out = new Map<string, P>();
    this.structPairs(node, (pair) => {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (!allowed.includes(key)) {
        let hint = REMOVED[key] ? ` (${REMOVED[key]})` : '';
        if (key === 'glob_disable_ordering') hint = ' (glob_disable_ordering is only allowed under defaults)';
        if (!hint) {
          const near = allowed.find((k) => levenshtein(k, key) <= 2);
          hint = near ? ` (did you mean ${near}?)` : ` (allowed: ${allowed.join(', ')})`;
        }
        this.fail(pair.key, `unknown key ${JSON.stringify(key)} in ${what}${hint}`);
      }
      const prev = out.get(key);
      // yaml.v2 decodes a mapping into the struct or map already there: set twice, they merge.
      if (prev !== undefined && isMap(prev.value) && isMap(pair.value)) {
        const both = new YAMLMap<unknown, unknown>();
        both.items = [...prev.value.items, ...pair.value.items];
        both.range = pair.value.range;
        out.set(key, new Pair(pair.key, both) as P);
      } else {
        out.set(key, pair);
      }
    }, 0);
    return out;
  }

  /** A string field as yaml.v2 fills one: the scalar's text as written (`on`, `0x10`, `200`). */
  private str(pair: P | undefined, what: string): string | undefined {
    if (pair === undefined || pair.value === null) return undefined;
    const v = pair.value;
    if (!isScalar(v)) this.fail(v, `${what} must be a string, not a ${isSeq(v) ? 'list' : 'mapping'}`);
    if (v.value === null) return undefined;
    if (typeof v.value === 'string') return v.value;
    return (v as Scalar & { source?: string }).source ?? String(v.value);
  }

  private num(pair: P | undefined, what: string): number | undefined {
    if (pair === undefined || pair.value === null) return undefined;
    const v = pair.value;
    if (isScalar(v) && v.value === null) return undefined;
    if (!isScalar(v) || typeof v.value !== 'number' || Number.isNaN(v.value)) this.fail(v, `${what} must be a number`);
    return v.value;
  }

  private count(pair: P | undefined, what: string): number | undefined {
    const n = this.num(pair, what);
    if (n !== undefined && (!Number.isInteger(n) || n < 0 || n > 0xffffffff)) this.fail(pair!.value, `${what} must be a whole number, 0 or more`);
    return n;
  }

  private bool(pair: P | undefined, what: string): boolean | undefined {
    if (pair === undefined || pair.value === null) return undefined;
    const v = pair.value;
    if (isScalar(v) && v.value === null) return undefined;
    if (!isScalar(v) || typeof v.value !== 'boolean') this.fail(v, `${what} must be true or false`);
    return v.value;
  }

  private duration(pair: P | undefined, what: string): number | undefined {
    if (pair === undefined || pair.value === null) return undefined;
    const v = pair.value;
    if (isScalar(v) && typeof v.value === 'number') {
      if (v.value === 0) return 0;
      this.fail(v, `${what}: ${String(v.value)} has no unit (write e.g. ${String(v.value)}s; units: ns, us, ms, s, m, h)`);
    }
    const s = this.str(pair, what);
    if (s === undefined) return undefined;
    const ms = parseGoDuration(s);
    if (ms === null) this.fail(v, `${what}: invalid duration ${JSON.stringify(s)} (write e.g. 30s, 5m, 1h30m)`);
    if (ms < 0) this.fail(v, `${what} must not be negative`);
    return ms;
  }

  private enumOf<T extends string>(pair: P | undefined, what: string, values: readonly T[]): T | undefined {
    const s = this.str(pair, what);
    if (s === undefined || s === '') return undefined;
    if (!(values as readonly string[]).includes(s)) this.fail(pair!.value, `${what} must be one of ${values.join(', ')}, not ${JSON.stringify(s)}`);
    return s as T;
  }

  /**
   * Native histogram options over `base`, as statsd_exporter reads them: a factor or a bucket
   * limit of 0 (or absent) keeps the base's; a factor of 1 or less turns native buckets off.
   */
  private native(pair: P, what: string, base: NativeHistogramOptions): NativeHistogramOptions {
    const opts = this.pairs(pair.value, what, HISTOGRAM_KEYS);
    const factor = this.num(opts.get('native_histogram_bucket_factor'), `${what}.native_histogram_bucket_factor`);
    if (factor !== undefined && factor < 0) this.fail(opts.get('native_histogram_bucket_factor')!.value, `${what}.native_histogram_bucket_factor must be 0 or more`);
    const max = this.count(opts.get('native_histogram_max_buckets'), `${what}.native_histogram_max_buckets`);
    if (!factor && !max) return base;
    return Object.freeze({ bucketFactor: factor || base.bucketFactor, maxBuckets: max || base.maxBuckets });
  }

  private buckets(pair: P, what: string): number[] | undefined {
    const opts = this.pairs(pair.value, what, HISTOGRAM_KEYS);
    const b = opts.get('buckets');
    if (b === undefined || b.value === null || (isScalar(b.value) && b.value.value === null)) return undefined;
    if (!isSeq(b.value)) this.fail(b.value, `${what}.buckets must be a list of numbers`);
    const out: number[] = [];
    const items = b.value.items as YamlNode[];
    items.forEach((it, k) => {
      const v = isScalar(it) ? it.value : undefined;
      if (typeof v !== 'number' || Number.isNaN(v)) this.fail(it, `${what}.buckets must be a list of numbers`);
      // client_golang accepts a final +Inf and adds it anyway.
      if (v === Number.POSITIVE_INFINITY && k === items.length - 1) return;
      if (!Number.isFinite(v)) this.fail(it, `${what}.buckets: ${String(v)} is not a valid bucket bound`);
      if (out.length > 0 && v <= out[out.length - 1]!) this.fail(it, `${what}.buckets must be in increasing order (${v} after ${out[out.length - 1]})`);
      out.push(v);
    });
    return out.length > 0 ? out : undefined;
  }

  /** Summary options; fields left out come from `base` (mapping over defaults over built-in). */
  private summary(pair: P, what: string, base: SummaryOptions): SummaryOptions {
    const opts = this.pairs(pair.value, what, SUMMARY_KEYS);
    let quantiles = base.quantiles;
    const q = opts.get('quantiles');
    if (q !== undefined && q.value !== null && !(isScalar(q.value) && q.value.value === null)) {
      if (!isSeq(q.value)) this.fail(q.value, `${what}.quantiles must be a list of {quantile, error}`);
      const list = (q.value.items as YamlNode[]).map((it) => {
        const p = this.pairs(it, `an entry of ${what}.quantiles`, QUANTILE_KEYS);
        const quantile = this.num(p.get('quantile'), 'quantile');
        if (quantile === undefined) this.fail(it, `an entry of ${what}.quantiles has no quantile`);
        if (quantile < 0 || quantile > 1) this.fail(p.get('quantile')!.value, `quantile must be between 0 and 1, not ${quantile}`);
        const error = this.num(p.get('error'), 'error') ?? 0;
        if (error < 0 || error > 1) this.fail(p.get('error')!.value, `error must be between 0 and 1, not ${error}`);
        return { quantile, error };
      });
      if (list.length > 0) quantiles = list;
    }
    const maxAge = this.duration(opts.get('max_age'), `${what}.max_age`);
    const ageBuckets = this.count(opts.get('age_buckets'), `${what}.age_buckets`);
    const bufCap = this.count(opts.get('buf_cap'), `${what}.buf_cap`);
    // As statsd_exporter: 0 means "not set".
    return {
      quantiles,
      maxAgeMs: maxAge || base.maxAgeMs,
      ageBuckets: ageBuckets || base.ageBuckets,
      bufCap: bufCap || base.bufCap,
    };
  }

  build(root: YamlNode | null): void {
    if (root === null || (isScalar(root) && root.value === null)) return;
    if (isScalar(root) && typeof root.value === 'string') {
      this.fail(root, 'the mapping file must be YAML with "mappings:" (and optionally "defaults:"); the old line-based format is not supported');
    }
    const top = this.pairs(root, 'the mapping file', ['defaults', 'mappings']);
    const defNode = top.get('defaults');
    if (defNode !== undefined && defNode.value !== null && !(isScalar(defNode.value) && defNode.value.value === null)) this.defaults(defNode.value);
    const unmatchedBuckets = this.defaultObserver === 'histogram' && !this.bucketsChosen ? STATSD_EXPORTER_BUCKETS : this.defaultBuckets;
    this.unmatched = unmatchedResult(this.defaultObserver ?? this.opts.defaultObserverType ?? 'histogram', unmatchedBuckets, this.defaultSummary, this.defaultTtl, this.defaultNative);

    const mappings = top.get('mappings')?.value ?? null;
    if (mappings === null || (isScalar(mappings) && mappings.value === null)) return;
    if (!isSeq(mappings)) this.fail(mappings, 'mappings must be a list (each entry starting with "- match:")');
    (mappings.items as YamlNode[]).forEach((item, index) => this.rules.push(this.rule(item, index)));
    this.checkShadowing();
  }

  private defaults(node: YamlNode): void {
    const d = this.pairs(node, 'defaults', DEFAULT_KEYS);
    this.defaultObserver = this.enumOf(d.get('observer_type'), 'defaults.observer_type', ['histogram', 'summary'] as const);
    this.defaultMatchType = this.enumOf(d.get('match_type'), 'defaults.match_type', ['glob', 'regex'] as const) ?? 'glob';
    this.orderingDisabled = this.bool(d.get('glob_disable_ordering'), 'defaults.glob_disable_ordering') ?? false;
    this.defaultTtl = this.duration(d.get('ttl'), 'defaults.ttl') ?? 0;
    const h = d.get('histogram_options');
    if (h !== undefined && h.value !== null) {
      this.defaultNative = this.native(h, 'defaults.histogram_options', DEFAULT_NATIVE_OPTIONS);
      const b = this.buckets(h, 'defaults.histogram_options');
      if (b !== undefined) {
        this.defaultBuckets = b;
        this.bucketsChosen = true;
      }
    }
    const s = d.get('summary_options');
    if (s !== undefined && s.value !== null) this.defaultSummary = this.summary(s, 'defaults.summary_options', DEFAULT_SUMMARY_OPTIONS);
  }

  private rule(item: YamlNode, index: number): Rule {
    const what = `mapping #${index + 1}`;
    const p = this.pairs(item, what, MAPPING_KEYS, ' (each entry of mappings needs at least match and name)');
    const matchPair = p.get('match');
    const match = this.str(matchPair, 'match');
    if (match === undefined || match === '') this.fail(matchPair?.value ?? item, `${what} has no match`);
    const label = `${what} (match ${JSON.stringify(match)})`;

    const mmt = this.str(p.get('match_metric_type'), 'match_metric_type');
    if (mmt === 'timer') this.fail(p.get('match_metric_type')!.value, 'match_metric_type "timer" was removed from statsd_exporter; use "observer" (it matches ms, h and d samples)');
    const kind = this.enumOf(p.get('match_metric_type'), 'match_metric_type', ['counter', 'gauge', 'observer'] as const) ?? null;
    const matchType = this.enumOf(p.get('match_type'), 'match_type', ['glob', 'regex'] as const) ?? this.defaultMatchType;
    const action = this.enumOf(p.get('action'), 'action', ['map', 'drop'] as const) ?? 'map';

    const namePair = p.get('name');
    const name = this.str(namePair, 'name') ?? '';
    if (name === '' && action !== 'drop') this.fail(namePair?.value ?? item, `${label} didn't set a metric name`);
    const nameRe = matchType === 'regex' ? NAME_RE_NAMED : NAME_RE;
    if (name !== '' && !nameRe.test(name)) {
      this.fail(namePair!.value, `metric name ${JSON.stringify(name)} is not valid: use letters, digits and _ (not starting with a digit), with $1 or \${1} for captures`);
    }

    const hPair = p.get('histogram_options');
    const sPair = p.get('summary_options');
    const hasH = hPair !== undefined && hPair.value !== null;
    const hasS = sPair !== undefined && sPair.value !== null;
    if (hasH && hasS) this.fail(sPair!.key, `${label} sets both histogram_options and summary_options; an observer is one or the other`);
    const explicitObserver = this.enumOf(p.get('observer_type'), 'observer_type', ['histogram', 'summary'] as const);
    if (explicitObserver === 'histogram' && hasS) this.fail(sPair!.key, 'cannot use a histogram observer with summary_options (use histogram_options, or observer_type: summary)');
    if (explicitObserver === 'summary' && hasH) this.fail(hPair!.key, 'cannot use a summary observer with histogram_options (use summary_options, or observer_type: histogram)');
    const observerType: ObserverType =
      explicitObserver ?? (hasS ? 'summary' : hasH ? 'histogram' : (this.defaultObserver ?? this.opts.defaultObserverType ?? 'histogram'));
    // A file that asks for a histogram without buckets gets statsd_exporter's (client_golang's
    // DefBuckets), so queries written for it (`le="0.005"`) still match; Redline's own list is for
    // observers that are histograms only because Redline defaults to them.
    const askedHistogram = explicitObserver === 'histogram' || hasH || (explicitObserver === undefined && !hasS && this.defaultObserver === 'histogram');
    const fallback = askedHistogram && !this.bucketsChosen ? STATSD_EXPORTER_BUCKETS : this.defaultBuckets;
    const buckets = (hasH ? this.buckets(hPair!, 'histogram_options') : undefined) ?? fallback;
    const native = hasH ? this.native(hPair!, 'histogram_options', this.defaultNative) : this.defaultNative;
    const summary = hasS ? this.summary(sPair!, 'summary_options', this.defaultSummary) : this.defaultSummary;

    const labels: [string, Template][] = [];
    const labPair = p.get('labels');
    if (labPair !== undefined && labPair.value !== null && !(isScalar(labPair.value) && labPair.value.value === null)) {
      if (!isMap(labPair.value)) this.fail(labPair.value, 'labels must be a mapping of label names to values');
      const labelPairs: P[] = [];
      this.mapPairs(labPair.value, labelPairs, new Set(), 0);
      for (const pair of labelPairs) {
        const k = isScalar(pair.key) ? String(pair.key.value) : '';
        if (!LABEL_NAME.test(k)) this.fail(pair.key, `invalid label name ${JSON.stringify(k)} (letters, digits and _, not starting with a digit)`);
        if (k.startsWith('__')) this.fail(pair.key, `invalid label name ${JSON.stringify(k)} (names starting with __ are reserved by Prometheus)`);
        labels.push([k, Template.parse(this.str(pair, `label ${k}`) ?? '')]);
      }
    }

    const scale = this.num(p.get('scale'), 'scale');
    if (scale !== undefined && !Number.isFinite(scale)) this.fail(p.get('scale')!.value, 'scale must be a finite number');
    const ttlMs = this.duration(p.get('ttl'), 'ttl') || this.defaultTtl;
    const honorLabels = this.bool(p.get('honor_labels'), 'honor_labels') ?? false;
    const help = this.str(p.get('help'), 'help');

    const nameT = Template.parse(name);
    let regex: RegExp | null = null;
    let linear: RE2JS | null = null;
    let segments: string[] = [];
    let captures: number;
    if (matchType === 'glob') {
      segments = match.split('.');
      for (const seg of segments) {
        if (!GLOB_SEGMENT.test(seg)) {
          this.fail(matchPair!.value, `invalid glob ${JSON.stringify(match)}: each dot-separated part must be letters, digits, _, - and * (use match_type: regex for more)`);
        }
        if (seg.includes('**')) this.fail(matchPair!.value, `invalid glob ${JSON.stringify(match)}: ** is not a pattern here; * already matches any part of one segment`);
      }
      captures = (match.match(/\*/g) ?? []).length;
      for (const t of [nameT, ...labels.map(([, t]) => t)]) {
        if (t.names().length > 0) this.warn(matchPair!.value, `${label}: named references ($${t.names()[0]}) only work with match_type: regex; they expand to ""`);
      }
    } else {
      try {
        regex = compileRe2(match);
        // Both must accept it; re2js refuses exactly what Go refuses.
        linear = compileLinear(match);
      } catch (err) {
        const reason = err instanceof Re2SyntaxError ? err.message : String(err);
        this.fail(matchPair!.value, `invalid regex ${JSON.stringify(match)}: ${reason}`);
      }
      enableLinearFallback();
      // Matching the empty alternative lists every group of the pattern.
      const probe = new RegExp(`${regex.source}|`, regex.flags).exec('')!;
      captures = probe.length - 1;
      const groups = new Set(Object.keys(probe.groups ?? {}));
      for (const t of [nameT, ...labels.map(([, t]) => t)]) {
        for (const n of t.names()) if (!groups.has(n)) this.warn(matchPair!.value, `${label}: $${n} names no group of the regex; it expands to ""`);
      }
    }
    const maxRef = Math.max(nameT.maxCapture(), ...labels.map(([, t]) => t.maxCapture()));
    if (maxRef > captures) this.warn(matchPair!.value, `${label}: $${maxRef} is referenced but the match has ${captures} capture${captures === 1 ? '' : 's'}; it expands to ""`);

    return {
      index,
      kind,
      segments,
      glob: matchType === 'glob',
      regex,
      linear,
      capturePlan: segments.map((seg) => (seg === '*' ? true : seg.includes('*') ? new RegExp(`^${seg.split('*').map(escapeRegex).join('([^.]*)')}$`) : null)),
      needsCaptures: nameT.literal === null || labels.some(([, t]) => t.literal === null),
      name: nameT,
      labels,
      base: {
        action,
        honorLabels,
        observerType,
        buckets,
        native,
        summary,
        ttlMs,
        scale: scale ?? 1,
        help,
        matched: true,
      },
    };
  }

  /** Ordered globs: an identical earlier match (same metric type) means the later rule never applies. */
  private checkShadowing(): void {
    const seen = new Map<string, number>();
    for (const r of this.rules) {
      if (!r.glob) continue;
      const key = `${r.kind ?? '*'}|${r.segments.join('.')}`;
      const anyKey = `*|${r.segments.join('.')}`;
      const earlier = seen.get(key) ?? seen.get(anyKey);
      if (earlier !== undefined) this.warnings.push(`${this.file}: mapping #${r.index + 1} (match ${JSON.stringify(r.segments.join('.'))}) never applies: mapping #${earlier + 1} has the same match`);
      else seen.set(key, r.index);
    }
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
