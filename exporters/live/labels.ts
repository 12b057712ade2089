/**
 * Reads label values back out of a series' serialised label string (`{a="x",b="y"}`), once per
 * series: the result is cached on a WeakMap, so a series that expires takes its entry with it.
 */
import type { Series } from '../../core/store.js';

const cache = new WeakMap<Series, ReadonlyMap<string, string>>();

export function labelsOf(s: Series): ReadonlyMap<string, string> {
  let m = cache.get(s);
  if (m === undefined) {
    m = parseLabels(s.labels);
    cache.set(s, m);
  }
  return m;
}

/** Parses `{a="x",b="y\"z"}` (the store's own serialisation: values escaped, names plain). */
export function parseLabels(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 1;
  const n = text.length - 1;
  while (i < n) {
    const eq = text.indexOf('=', i);
    if (eq < 0) break;
    const name = text.slice(i, eq);
    let j = eq + 2;
    let value = '';
    while (j < n && text[j] !== '"') {
      if (text[j] === '\\' && j + 1 < n) {
        const c = text[j + 1];
        value += c === 'n' ? '\n' : c;
        j += 2;
      } else {
        value += text[j];
        j++;
      }
    }
    out.set(name, value);
    i = j + 2; // past the closing quote and the comma
  }
  return out;
}
