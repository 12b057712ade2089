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

function withLabel(labels: string, name: string, value: string): string {
  const pair = `${name}="${value}"`;
  return labels === '' ? `{${pair}}` : `${labels.slice(0, -1)},${pair}}`;
}

function bucketPrefixes(fam: Family, s: Series): string[] {
  if (s.bucketPrefixes !== null) return s.bucketPrefixes;
  const out: string[] = [];
  for (const b of fam.bounds!) out.push(`${fam.name}_bucket${withLabel(s.labels, 'le', formatValue(b))} `);
  out.push(`${fam.name}_bucket${withLabel(s.labels, 'le', '+Inf')} `);
  s.bucketPrefixes = out;
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
    header: `# TYPE ${familyName} ${type}\n# HELP ${familyName} ${escapeHelp(fam.help)}\n`,
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
      case 'histogram':
        for (const s of fam.series.values()) {
          const prefixes = bucketPrefixes(fam, s);
          const b = s.buckets!;
          let cum = 0;
          for (let i = 0; i < b.length; i++) {
            cum += b[i]!;
            chunks.push(prefixes[i]! + formatValue(cum) + '\n');
          }
          chunks.push(`${prefixes[b.length]!}${formatValue(s.count)}\n`);
          chunks.push(`${name}_sum${s.labels} ${formatValue(s.sum)}\n${name}_count${s.labels} ${formatValue(s.count)}\n`);
        }
        break;
      case 'summary':
        for (const s of fam.series.values()) {
          const qs = fam.summaryOptions!.quantiles;
          const values = s.quantileValues ?? s.summary!.quantiles(now);
          for (let i = 0; i < qs.length; i++) {
            chunks.push(`${name}${withLabel(s.labels, 'quantile', String(qs[i]!.quantile))} ${formatValue(values[i]!)}\n`);
          }
          chunks.push(`${name}_sum${s.labels} ${formatValue(s.sum)}\n${name}_count${s.labels} ${formatValue(s.count)}\n`);
        }
        break;
    }
  }
  if (format === 'openmetrics') chunks.push('# EOF\n');
  return chunks.join('');
}
