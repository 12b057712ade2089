/**
 * OTLP metric and attribute names to Prometheus names, as Prometheus' own OTLP receiver writes
 * them with its default translation (underscore escaping, with unit and type suffixes):
 *
 * - the name is split into runs of `[A-Za-z0-9:]` (so runs of `_` collapse) and joined with `_`;
 * - the unit becomes a suffix (`ms` → `_milliseconds`, `By` → `_bytes`, `By/s` →
 *   `_bytes_per_second`), unless the name already has that word; `{annotations}` add nothing;
 * - monotonic sums end in `_total`, gauges with unit `1` in `_ratio`;
 * - a leading digit gets a `_` prefix.
 *
 * Attribute keys: every character outside `[A-Za-z0-9_]` becomes `_`, a leading digit gets
 * `key_`, a single leading `_` gets `key`. Keys that collide after that have their values
 * joined with `;`, in the order of the original keys.
 */

/** What the name is for: decides the `_total` and `_ratio` suffixes. */
export type NameKind = 'counter' | 'gauge' | 'updown' | 'histogram' | 'summary';

const UNITS: Readonly<Record<string, string>> = {
  // time
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  // bytes
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  TiBy: 'tibibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  TBy: 'terabytes',
  // SI
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  // misc
  Cel: 'celsius',
  Hz: 'hertz',
  '1': '',
  '%': 'percent',
};

const PER_UNITS: Readonly<Record<string, string>> = {
  s: 'second',
  m: 'minute',
  h: 'hour',
  d: 'day',
  w: 'week',
  mo: 'month',
  y: 'year',
};

/** A unit word made of name characters only (`{packets}` and the like give nothing). */
function cleanUnit(word: string): string {
  if (/[{}]/.test(word)) return '';
  return word
    .replace(/[^A-Za-z0-9_:]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

function unitSuffixes(unit: string): [main: string, per: string] {
  const slash = unit.indexOf('/');
  const main = slash === -1 ? unit : unit.slice(0, slash);
  const per = slash === -1 ? '' : unit.slice(slash + 1);
  return [cleanUnit(UNITS[main] ?? main), per === '' ? '' : cleanUnit(PER_UNITS[per] ?? per)];
}

/** The Prometheus family name for an OTLP metric (before any preset renames it). */
export function prometheusName(name: string, unit: string, kind: NameKind): string {
  let tokens = name.split(/[^A-Za-z0-9:]+/).filter((t) => t !== '');
  const [main, per] = unitSuffixes(unit.trim());
  if (main !== '' && !tokens.includes(main)) tokens.push(main);
  if (per !== '' && !tokens.includes(per)) tokens.push('per', per);
  if (kind === 'counter') tokens = [...tokens.filter((t) => t !== 'total'), 'total'];
  if (unit === '1' && kind === 'gauge') tokens = [...tokens.filter((t) => t !== 'ratio'), 'ratio'];
  let out = tokens.join('_');
  if (/^[0-9]/.test(out)) out = '_' + out;
  return out;
}

/** The Prometheus label name for an OTLP attribute key ('' when nothing usable is left). */
export function labelName(key: string): string {
  if (key === '') return '';
  let out = key.replace(/[^A-Za-z0-9_]/g, '_');
  if (/^[0-9]/.test(out)) out = 'key_' + out;
  else if (out.startsWith('_') && !out.startsWith('__')) out = 'key' + out;
  return out;
}
