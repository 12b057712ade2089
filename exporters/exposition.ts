/**
 * Renders the series store as Prometheus text format 0.0.4 or OpenMetrics 1.0.
 *
 * Built for 100,000 series in well under 250 ms: every series carries its serialised labels,
 * family headers are pre-serialised, and the output is assembled as an array of chunks joined
 * once.
 */
import type { Family, Series, Store } from '../core/store.js';
import { escapeHelp } from '../core/labels.js';

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

export type Format = 'text' | 'openmetrics';

/** Picks the format from an Accept header, preferring OpenMetrics only when it is asked for. */
export function negotiate(accept: string | undefined): Format {
  if (!accept) return 'text';
  let best: Format = 'text';
  let bestQ = -1;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().split(';');
    let q = 1;
    for (const p of params) {
      const [k, v] = p.trim().split('=');
      if (k === 'q' && v !== undefined) q = Number(v);
    }
    const t = (type ?? '').trim().toLowerCase();
    const f: Format | null = t === 'application/openmetrics-text' ? 'openmetrics' : t === 'text/plain' || t === '*/*' ? 'text' : null;
    if (f !== null && q > bestQ) {
      best = f;
      bestQ = q;
    }
  }
  return best;
}

export function formatValue(v: number): string {
  if (Number.isFinite(v)) return String(v);
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? '+Inf' : '-Inf';
}

/**
 * A float as Go's `strconv.FormatFloat(v, 'g', -1, 64)` writes it, which is how client_golang
 * (and so statsd_exporter) writes `le` and `quantile` label values: `1e+06`, `0.005`, `1e-05`.
 * Label values are matched as strings, so a query for `le="1e+06"` must find the same text.
 */
export function goFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const e = v.toExponential();
  const i = e.indexOf('e');
  const x = Number(e.slice(i + 1));
  if (x < -4 || x >= 6) {
    const ax = Math.abs(x);
    return `${e.slice(0, i)}e${x < 0 ? '-' : '+'}${ax < 10 ? '0' : ''}${ax}`;
  }
  return String(v);
}

/** The same in OpenMetrics, where client_golang adds `.0` to a float that looks like an integer. */
export function goFloatOpenMetrics(v: number): string {
  const s = goFloat(v);
  return /[.eIN]/.test(s) ? s : `${s}.0`;
}

/** HELP text in OpenMetrics: backslash, newline and double quote escaped. */
function escapeHelpOpenMetrics(help: string): string {
  return escapeHelp(help).replace(/"/g, '\\"');
}

function withLabel(labels: string, name: string, value: string): string {
  const pair = `${name}="${value}"`;
  return labels === '' ? `{${pair}}` : `${labels.slice(0, -1)},${pair}}`;
}

function bucketPrefixes(fam: Family, s: Series, format: Format): string[] {
  const cached = format === 'text' ? s.bucketPrefixes : s.omBucketPrefixes;
  if (cached !== null) return cached;
  const fmt = format === 'text' ? goFloat : goFloatOpenMetrics;
  const out: string[] = [];
  for (const b of fam.bounds!) out.push(`${fam.name}_bucket${withLabel(s.labels, 'le', fmt(b))} `);
  out.push(`${fam.name}_bucket${withLabel(s.labels, 'le', '+Inf')} `);
  if (format === 'text') s.bucketPrefixes = out;
  else s.omBucketPrefixes = out;
  return out;
}

/**
 * In OpenMetrics a counter's samples must end in `_total`. A statsd counter whose name lacks the
 * suffix is served as `unknown` so that its name stays exactly what statsd_exporter serves
 * (Prometheus would otherwise store it as `name_total`, breaking existing queries).
 */
function omHeader(fam: Family): { header: string; sampleName: string } {
  let type: string = fam.type;
  let familyName = fam.name;
  if (fam.type === 'counter') {
    if (fam.name.endsWith('_total')) familyName = fam.name.slice(0, -'_total'.length);
    else type = 'unknown';
  }
  return {
    header: `# TYPE ${familyName} ${type}\n# HELP ${familyName} ${escapeHelpOpenMetrics(fam.help)}\n`,
    sampleName: fam.name,
  };
}

export function render(store: Store, format: Format): string {
  store.collect();
  const now = store.now();
  const chunks: string[] = [];
  const names = [...store.families.keys()].sort();
  for (const name of names) {
    const fam = store.families.get(name)!;
    if (fam.series.size === 0) continue;
    if (format === 'text') chunks.push(fam.headerText);
    else chunks.push(omHeader(fam).header);
    switch (fam.type) {
      case 'counter':
      case 'gauge':
        for (const s of fam.series.values()) chunks.push(`${name}${s.labels} ${formatValue(s.value)}\n`);
        break;
      case 'histogram': {
        // OpenMetrics: `_sum` is a counter there; once it can go down (a negative observation or
        // bucket) it must not be served.
        const negativeBounds = fam.bounds!.length > 0 && fam.bounds![0]! < 0;
        for (const s of fam.series.values()) {
          const prefixes = bucketPrefixes(fam, s, format);
          const b = s.buckets!;
          let cum = 0;
          for (let i = 0; i < b.length; i++) {
            cum += b[i]!;
            chunks.push(prefixes[i]! + formatValue(cum) + '\n');
          }
          chunks.push(`${prefixes[b.length]!}${formatValue(s.count)}\n`);
          if (format === 'text' || !(s.negative || negativeBounds || s.sum < 0)) chunks.push(`${name}_sum${s.labels} ${formatValue(s.sum)}\n`);
          chunks.push(`${name}_count${s.labels} ${formatValue(s.count)}\n`);
        }
        break;
      }
      case 'summary': {
        const fmt = format === 'text' ? goFloat : goFloatOpenMetrics;
        for (const s of fam.series.values()) {
          const qs = fam.summaryOptions!.quantiles;
          const values = s.quantileValues ?? s.summary!.quantiles(now);
          for (let i = 0; i < qs.length; i++) {
            chunks.push(`${name}${withLabel(s.labels, 'quantile', fmt(qs[i]!.quantile))} ${formatValue(values[i]!)}\n`);
          }
          if (format === 'text' || !(s.negative || s.sum < 0)) chunks.push(`${name}_sum${s.labels} ${formatValue(s.sum)}\n`);
          chunks.push(`${name}_count${s.labels} ${formatValue(s.count)}\n`);
        }
        break;
      }
    }
  }
  if (format === 'openmetrics') chunks.push('# EOF\n');
  return chunks.join('');
}
