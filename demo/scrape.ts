/**
 * Reading the agent's /metrics the way the demo needs it to know that the agent sees its
 * processes: parse the text exposition into samples and pick series by name and labels. (What
 * the ramp measured comes from the agent's analysis stage, not from here.)
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export type Scrape = Map<string, Sample[]>;

const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/y;

function unescape(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** Parses Prometheus text exposition; lines that do not parse are skipped. */
export function parseExposition(text: string): Scrape {
  const out: Scrape = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    let name: string;
    const labels: Record<string, string> = {};
    let rest: string;
    if (brace > 0 && (space < 0 || brace < space)) {
      name = line.slice(0, brace);
      const close = line.lastIndexOf('}');
      if (close < brace) continue;
      const body = line.slice(brace + 1, close);
      LABEL.lastIndex = 0;
      let m: RegExpExecArray | null;
      while (LABEL.lastIndex < body.length && (m = LABEL.exec(body)) !== null) labels[m[1]!] = unescape(m[2]!);
      rest = line.slice(close + 1).trim();
    } else {
      if (space < 0) continue;
      name = line.slice(0, space);
      rest = line.slice(space + 1).trim();
    }
    const value = Number(rest.split(/\s+/)[0]);
    if (Number.isNaN(value) && !/^NaN/.test(rest)) continue;
    let list = out.get(name);
    if (!list) out.set(name, (list = []));
    list.push({ name, labels, value });
  }
  return out;
}

export type Match = Record<string, string | RegExp>;

function matches(labels: Record<string, string>, match: Match): boolean {
  for (const [k, want] of Object.entries(match)) {
    const v = labels[k] ?? '';
    if (typeof want === 'string' ? v !== want : !want.test(v)) return false;
  }
  return true;
}

/** The samples of `name` whose labels include `match` (a string is exact, a RegExp tested). */
export function select<S extends Sample>(s: ReadonlyMap<string, S[]>, name: string, match: Match = {}): S[] {
  return (s.get(name) ?? []).filter((x) => matches(x.labels, match));
}

/** The sum of the finite values `select` picks (0 when none). */
export function sum(s: ReadonlyMap<string, Sample[]>, name: string, match: Match = {}): number {
  return select(s, name, match).reduce((a, x) => a + (Number.isFinite(x.value) ? x.value : 0), 0);
}

/** The largest value, or null when no series matches. */
export function max(s: Scrape, name: string, match: Match = {}): number | null {
  const v = select(s, name, match).map((x) => x.value).filter(Number.isFinite);
  return v.length ? Math.max(...v) : null;
}
