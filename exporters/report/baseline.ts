/**
 * `--baseline OTHER.json`: two runs side by side (staging against production, before against
 * after a change): where each bent, what gave out first in each, and the deltas.
 */
import fs from 'node:fs';
import type { ReportJson } from '../../analysis/summary.js';

export interface Comparison {
  rows: Array<{ what: string; current: string; baseline: string; delta: string }>;
  /** Machine-readable deltas (current − baseline; null where either side has no value). */
  deltas: { kneeLoad: number | null; kneeThroughput: number | null; maxThroughput: number | null; sameLimit: boolean; sameResource: boolean };
}

/** Reads a report JSON written by `redline report --json`; throws with the file and what is wrong. */
export function readBaseline(file: string): ReportJson {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`--baseline ${file}: ${(err as Error).message}`);
  }
  const r = raw as Partial<ReportJson>;
  if (typeof r !== 'object' || r === null || typeof r.verdict !== 'object' || typeof r.knee !== 'object' || !Array.isArray(r.steps)) {
    throw new Error(`--baseline ${file}: not a report written by redline report --json (needs verdict, knee and steps)`);
  }
  return r as ReportJson;
}

const maxThroughput = (r: ReportJson): number | null => (r.steps.length ? Math.max(...r.steps.map((s) => s.achievedRps)) : null);
const diff = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : Number((a - b).toPrecision(6)));
const num = (v: number | null, digits = 1): string => (v === null ? '–' : v.toFixed(digits));
const signed = (v: number | null, base: number | null, digits = 1): string => {
  if (v === null) return '–';
  const pct = base !== null && base !== 0 ? ` (${v >= 0 ? '+' : ''}${((100 * v) / base).toFixed(0)}%)` : '';
  return `${v >= 0 ? '+' : ''}${v.toFixed(digits)}${pct}`;
};
const first = (r: ReportJson): string => (r.verdict.limit === 'none' ? 'nothing saturated' : `${r.verdict.limit}: ${r.verdict.group} ${r.verdict.resource}`);

export function compare(current: ReportJson, baseline: ReportJson): Comparison {
  const kl = diff(current.knee.load, baseline.knee.load);
  const kt = diff(current.knee.throughput, baseline.knee.throughput);
  const mt = diff(maxThroughput(current), maxThroughput(baseline));
  const sameLimit = current.verdict.limit === baseline.verdict.limit;
  const sameResource = sameLimit && current.verdict.group === baseline.verdict.group && current.verdict.resource === baseline.verdict.resource;
  return {
    rows: [
      { what: 'knee step', current: num(current.knee.step, 0), baseline: num(baseline.knee.step, 0), delta: signed(diff(current.knee.step, baseline.knee.step), null, 0) },
      { what: 'knee load', current: num(current.knee.load, 0), baseline: num(baseline.knee.load, 0), delta: signed(kl, baseline.knee.load, 0) },
      { what: 'throughput at the knee (req/s)', current: num(current.knee.throughput), baseline: num(baseline.knee.throughput), delta: signed(kt, baseline.knee.throughput) },
      { what: 'highest step throughput (req/s)', current: num(maxThroughput(current)), baseline: num(maxThroughput(baseline)), delta: signed(mt, maxThroughput(baseline)) },
      { what: 'first saturated', current: first(current), baseline: first(baseline), delta: sameResource ? 'same' : 'different' },
    ],
    deltas: { kneeLoad: kl, kneeThroughput: kt, maxThroughput: mt, sameLimit, sameResource },
  };
}

export function comparisonText(c: Comparison): string {
  const all = [{ what: '', current: 'this run', baseline: 'baseline', delta: 'delta' }, ...c.rows];
  const w = (k: 'what' | 'current' | 'baseline' | 'delta'): number => Math.max(...all.map((r) => r[k].length));
  return all.map((r) => `${r.what.padEnd(w('what'))}  ${r.current.padStart(w('current'))}  ${r.baseline.padStart(w('baseline'))}  ${r.delta}`).join('\n');
}
