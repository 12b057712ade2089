/**
 * The one Prometheus text-exposition reader of the test suite (text 0.0.4 and OpenMetrics text:
 * escaped label values, optional timestamps, exemplars after `#`). Lines that do not parse are
 * skipped; tests that need validity use promtool.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** The line as served, up to the value: `name{a="b"}`. */
  series: string;
}

/** Samples by metric name, in the order served. */
export type Scrape = Map<string, Sample[]>;

const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;

function unescapeLabel(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseNumber(s: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  return s === '' ? NaN : Number(s);
}

/** One sample line, or null for comments, blank and unparsable lines. */
export function parseLine(raw: string): Sample | null {
  const line = raw.trim();
  if (line === '' || line.startsWith('#')) return null;
  const brace = line.indexOf('{');
  const space = line.indexOf(' ');
  const labels: Record<string, string> = {};
  let name: string;
  let series: string;
  let rest: string;
  if (brace > 0 && (space < 0 || brace < space)) {
    name = line.slice(0, brace);
    // The closing brace is the first `}` outside a quoted label value.
    let i = brace + 1;
    let inQuote = false;
    for (; i < line.length; i++) {
      const c = line[i];
      if (inQuote) {
        if (c === '\\') i++;
        else if (c === '"') inQuote = false;
      } else if (c === '"') inQuote = true;
      else if (c === '}') break;
    }
    if (i >= line.length) return null;
    const body = line.slice(brace + 1, i);
    LABEL.lastIndex = 0;
    let m: RegExpExecArray | null;
    while (LABEL.lastIndex < body.length && (m = LABEL.exec(body)) !== null) labels[m[1]!] = unescapeLabel(m[2]!);
    if (LABEL.lastIndex < body.length && body.slice(LABEL.lastIndex).trim() !== '') return null;
    series = line.slice(0, i + 1);
    rest = line.slice(i + 1).trim();
  } else {
    if (space < 0) return null;
    name = line.slice(0, space);
    series = name;
    rest = line.slice(space + 1).trim();
  }
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) return null;
  const valueText = rest.split(/\s+/)[0] ?? '';
  const value = parseNumber(valueText);
  if (Number.isNaN(value) && valueText !== 'NaN') return null;
  return { name, labels, value, series };
}

export function parseExposition(text: string): Scrape {
  const out: Scrape = new Map();
  for (const raw of text.split('\n')) {
    const s = parseLine(raw);
    if (s === null) continue;
    let list = out.get(s.name);
    if (!list) out.set(s.name, (list = []));
    list.push(s);
  }
  return out;
}

/** Every sample in served order. */
export function samples(text: string): Sample[] {
  return [...parseExposition(text).values()].flat();
}

/** The value of one series written as served, e.g. `foo{a="b"}` (labels in served order), or undefined. */
export function valueOf(text: string, series: string): number | undefined {
  for (const raw of text.split('\n')) {
    const s = parseLine(raw);
    if (s !== null && s.series === series) return s.value;
  }
  return undefined;
}

/** The value of the series with exactly these labels (in any order), or undefined. */
export function valueWith(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels);
  for (const s of parseExposition(text).get(name) ?? []) {
    const have = Object.keys(s.labels);
    if (have.length === want.length && want.every(([k, v]) => s.labels[k] === v)) return s.value;
  }
  return undefined;
}

// Selecting and summing samples is the demo's own code (the product reads its scrapes the same way).
export { select, sum, type Match } from '../../demo/scrape.js';
