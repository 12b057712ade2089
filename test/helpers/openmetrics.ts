/**
 * A strict OpenMetrics 1.0 text parser for tests: it throws on the first thing the
 * specification forbids, with the line number, instead of skipping it. It checks the grammar
 * (metadata, sample lines, label sets, escapes, numbers, `# EOF`) and the semantics a strict
 * ingester relies on:
 *
 * - a family's name appears once; its metadata comes before its samples; families and the
 *   label sets (metric points) inside them are not interleaved;
 * - every sample name belongs to its family's type (counter `_total`/`_created`, histogram
 *   `_bucket`/`_count`/`_sum`/`_created`, summary bare/`_count`/`_sum`/`_created`, ...);
 * - no duplicate label name, no `__` label names, no duplicate sample;
 * - histograms: an `le` on every bucket and nowhere else, buckets ascending and cumulative,
 *   a `+Inf` bucket equal to `_count`, no `_sum` when a bucket threshold is negative, counter-like
 *   values never negative or NaN; summaries: `quantile` in [0, 1] on quantile samples only,
 *   `_count`/`_sum` never negative or NaN; counters never negative or NaN.
 *
 * Exemplars and timestamps are accepted (grammar-checked) but not interpreted.
 */

export interface OmSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface OmFamily {
  name: string;
  type: string;
  help: string | undefined;
  unit: string | undefined;
  samples: OmSample[];
}

export class OpenMetricsError extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
    readonly text: string,
  ) {
    super(`OpenMetrics line ${line}: ${reason}: ${JSON.stringify(text.length > 200 ? text.slice(0, 200) + '…' : text)}`);
    this.name = 'OpenMetricsError';
  }
}

const TYPES = new Set(['counter', 'gauge', 'histogram', 'gaugehistogram', 'stateset', 'info', 'summary', 'unknown']);
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const REAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INF = /^[+-]?(?:inf|infinity)$/i;
const NAN = /^nan$/i;

/** The sample-name suffixes each type allows (`''` is the family name itself). */
const SUFFIXES: Record<string, readonly string[]> = {
  counter: ['_total', '_created'],
  gauge: [''],
  unknown: [''],
  stateset: [''],
  info: ['_info'],
  histogram: ['_bucket', '_count', '_sum', '_created'],
  gaugehistogram: ['_bucket', '_gcount', '_gsum'],
  summary: ['', '_count', '_sum', '_created'],
};

function parseNumber(s: string): number | null {
  if (REAL.test(s)) return Number(s);
  if (INF.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (NAN.test(s)) return NaN;
  return null;
}

/** Reads an escaped string body up to the closing quote; returns [value, index after the quote]. */
function readEscaped(line: string, i: number, fail: (r: string) => never): [string, number] {
  let out = '';
  for (; i < line.length; i++) {
    const c = line[i]!;
    if (c === '"') return [out, i + 1];
    if (c === '\\') {
      const n = line[i + 1];
      if (n === '\\') out += '\\';
      else if (n === '"') out += '"';
      else if (n === 'n') out += '\n';
      else fail(`invalid escape \\${n ?? ''}`);
      i++;
    } else out += c;
  }
  return fail('unterminated string');
}

/** `{a="b",c="d"}` starting at `i` (which holds `{`); returns [labels, index after `}`]. */
function readLabels(line: string, i: number, fail: (r: string) => never): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  i++;
  if (line[i] === '}') return [labels, i + 1];
  for (;;) {
    let j = i;
    while (j < line.length && /[a-zA-Z0-9_]/.test(line[j]!)) j++;
    const name = line.slice(i, j);
    if (!LABEL_NAME.test(name)) fail(`invalid label name ${JSON.stringify(name)}`);
    if (name.startsWith('__')) fail(`reserved label name ${name}`);
    if (Object.hasOwn(labels, name)) fail(`duplicate label ${name}`);
    if (line[j] !== '=' || line[j + 1] !== '"') fail(`expected ="…" after label ${name}`);
    const [value, k] = readEscaped(line, j + 2, fail);
    labels[name] = value;
    if (line[k] === '}') return [labels, k + 1];
    if (line[k] !== ',') fail('expected , or } after a label value');
    i = k + 1;
  }
}

interface Point {
  key: string;
  buckets: [number, number][];
  count: number | undefined;
  sum: boolean;
  negativeBucket: boolean;
}

/** Parses and validates a whole exposition; throws OpenMetricsError on the first violation. */
export function parseOpenMetrics(text: string): OmFamily[] {
  if (!text.endsWith('# EOF\n') && !text.endsWith('# EOF')) throw new OpenMetricsError(0, 'missing # EOF at the end', text.slice(-40));
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const families: OmFamily[] = [];
  const seenFamilies = new Set<string>();
  const typed = new Set<OmFamily>();
  let fam: OmFamily | null = null;
  let famHasSamples = false;
  const seenSamples = new Set<string>();
  const seenPoints = new Set<string>();
  let point: Point | null = null;
  let lineNo = 0;
  let raw = '';
  const fail = (reason: string): never => {
    throw new OpenMetricsError(lineNo, reason, raw);
  };

  const closePoint = (): void => {
    if (point === null || fam === null) return;
    if (fam.type === 'histogram' || fam.type === 'gaugehistogram') {
      const b = point.buckets;
      if (b.length === 0) fail(`histogram ${fam.name}${point.key} has no buckets`);
      if (b[b.length - 1]![0] !== Infinity) fail(`histogram ${fam.name}${point.key} has no le="+Inf" bucket`);
      if (point.count !== undefined && point.count !== b[b.length - 1]![1]) fail(`histogram ${fam.name}${point.key}: _count ${point.count} is not the +Inf bucket ${b[b.length - 1]![1]}`);
      if (point.sum && point.negativeBucket) fail(`histogram ${fam.name}${point.key} has negative buckets and a _sum`);
    }
    point = null;
  };
  const openFamily = (name: string): OmFamily => {
    closePoint();
    if (!METRIC_NAME.test(name)) fail(`invalid metric family name ${JSON.stringify(name)}`);
    if (seenFamilies.has(name)) fail(`family ${name} appears twice (or is interleaved)`);
    seenFamilies.add(name);
    const f: OmFamily = { name, type: 'unknown', help: undefined, unit: undefined, samples: [] };
    families.push(f);
    famHasSamples = false;
    seenPoints.clear();
    return f;
  };

  for (const l of lines) {
    lineNo++;
    raw = l;
    if (l === '# EOF') {
      if (lineNo !== lines.length) fail('content after # EOF');
      closePoint();
      return families;
    }
    if (l.startsWith('#')) {
      const m = /^# (TYPE|HELP|UNIT) ([^ ]+)(?: (.*))?$/.exec(l);
      if (m === null) fail('a comment other than # TYPE, # HELP, # UNIT or # EOF');
      const [, kind, name, rest] = m!;
      if (fam === null || fam.name !== name || famHasSamples) fam = openFamily(name!);
      const f: OmFamily = fam;
      if (kind === 'TYPE') {
        if (typed.has(f)) fail(`second TYPE for ${name}`);
        if (rest === undefined || !TYPES.has(rest)) fail(`unknown type ${JSON.stringify(rest)}`);
        f.type = rest!;
        typed.add(f);
      } else if (kind === 'HELP') {
        if (f.help !== undefined) fail(`second HELP for ${name}`);
        const body = rest ?? '';
        const [help, end] = readEscaped(body + '"', 0, fail);
        if (end !== body.length + 1) fail('unescaped " in HELP');
        f.help = help;
      } else {
        if (f.unit !== undefined) fail(`second UNIT for ${name}`);
        f.unit = rest ?? '';
        if (f.unit !== '' && !name!.endsWith(`_${f.unit}`)) fail(`family ${name} does not end in its unit _${f.unit}`);
      }
      continue;
    }
    if (l === '') fail('empty line');
    // metricname [labels] SP value [SP timestamp] [SP # exemplar]
    let i = 0;
    while (i < l.length && l[i] !== '{' && l[i] !== ' ') i++;
    const name = l.slice(0, i);
    if (!METRIC_NAME.test(name)) fail(`invalid metric name ${JSON.stringify(name)}`);
    let labels: Record<string, string> = {};
    if (l[i] === '{') [labels, i] = readLabels(l, i, fail);
    if (l[i] !== ' ') fail('expected a single space before the value');
    const tail = l.slice(i + 1);
    const hash = tail.indexOf(' # ');
    const main = hash === -1 ? tail : tail.slice(0, hash);
    const parts = main.split(' ');
    if (parts.length > 2 || parts.some((p) => p === '')) fail('expected value [timestamp]');
    const value = parseNumber(parts[0]!);
    if (value === null) fail(`invalid value ${JSON.stringify(parts[0])}`);
    if (parts[1] !== undefined && (parseNumber(parts[1]) === null || !Number.isFinite(parseNumber(parts[1])!))) fail('invalid timestamp');
    if (hash !== -1) {
      const ex = tail.slice(hash + 3);
      if (!ex.startsWith('{')) fail('exemplar without labels');
      const [, k] = readLabels(ex, 0, fail);
      const ev = ex.slice(k).trim().split(' ');
      if (ev.length < 1 || ev.length > 2 || parseNumber(ev[0]!) === null) fail('invalid exemplar value');
    }

    // Which family does this sample belong to?
    let suffix: string | null = null;
    if (fam !== null) {
      for (const s of SUFFIXES[fam.type]!) if (name === fam.name + s) suffix = s;
    }
    if (suffix === null) {
      // A sample outside the current family starts a family of its own, of unknown type.
      fam = openFamily(name);
      suffix = '';
    }
    const f = fam!;
    famHasSamples = true;
    const sampleKey = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seenSamples.has(sampleKey)) fail(`duplicate sample ${name}${JSON.stringify(labels)}`);
    seenSamples.add(sampleKey);
    f.samples.push({ name, labels, value: value! });

    // The metric point: the labels without the type's own label.
    const own = f.type === 'histogram' || f.type === 'gaugehistogram' ? 'le' : f.type === 'summary' ? 'quantile' : null;
    const pointLabels = Object.entries(labels)
      .filter(([k]) => k !== own)
      .sort();
    const key = JSON.stringify(pointLabels);
    if (point === null || point.key !== key) {
      closePoint();
      if (seenPoints.has(key)) fail(`metric point ${f.name}${key} is interleaved with another`);
      seenPoints.add(key);
      point = { key, buckets: [], count: undefined, sum: false, negativeBucket: false };
    }
    const p: Point = point;
    const v = value!;
    const counterLike = (what: string): void => {
      if (Number.isNaN(v) || v < 0) fail(`${what} must not be negative or NaN (${v})`);
    };
    switch (f.type) {
      case 'counter':
        if (suffix === '_total') counterLike('a counter');
        break;
      case 'histogram':
      case 'gaugehistogram':
        if (suffix === '_bucket') {
          if (labels.le === undefined) fail('a bucket without le');
          const le = parseNumber(labels.le!);
          if (le === null || Number.isNaN(le)) fail(`le=${JSON.stringify(labels.le)} is not a number`);
          const prev = p.buckets[p.buckets.length - 1];
          if (prev !== undefined && le! <= prev[0]) fail('buckets not in ascending order of le');
          if (f.type === 'histogram') counterLike('a bucket');
          if (prev !== undefined && v < prev[1]) fail('bucket values are not cumulative');
          if (le! < 0) p.negativeBucket = true;
          if (p.count !== undefined) fail('a bucket after _count');
          p.buckets.push([le!, v]);
        } else {
          if (labels.le !== undefined) fail(`le on ${name}`);
          if (suffix === '_count' || suffix === '_gcount') {
            if (f.type === 'histogram') counterLike('_count');
            p.count = v;
          }
          if (suffix === '_sum') {
            counterLike('_sum');
            p.sum = true;
          }
        }
        break;
      case 'summary':
        if (suffix === '') {
          if (labels.quantile === undefined) fail('a summary quantile sample without quantile');
          const q = parseNumber(labels.quantile!);
          if (q === null || !(q >= 0 && q <= 1)) fail(`quantile=${JSON.stringify(labels.quantile)} is not in [0, 1]`);
        } else {
          if (labels.quantile !== undefined) fail(`quantile on ${name}`);
          if (suffix === '_count' || suffix === '_sum') counterLike(suffix);
        }
        break;
      case 'stateset':
        if (labels[f.name] === undefined) fail(`a stateset sample without the ${f.name} label`);
        if (v !== 0 && v !== 1) fail('a stateset value other than 0 or 1');
        break;
      default:
        break;
    }
  }
  lineNo++;
  raw = '';
  return fail('missing # EOF');
}
