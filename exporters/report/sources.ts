/**
 * Where `redline report` gets a run from: a running agent's analysis endpoint, or a Prometheus
 * that scraped one (the history rebuilt from range queries, the verdict replayed over it).
 */
import type { AnalysisSnapshot } from '../../analysis/stage.js';
import { emptyHistory, type HistoryData, type RatioKey } from '../../analysis/history.js';
import { snapshotFromHistory } from '../../analysis/summary.js';
import { ANALYSIS_API_PATH } from '../analysis-api.js';
import { MAX_POINTS } from './html.js';

export class SourceError extends Error {}

async function getJson(url: string, timeoutMs: number): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new SourceError(`cannot reach ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  const body = await res.text();
  if (!res.ok) throw new SourceError(`${url} answered ${res.status}: ${body.slice(0, 300)}`);
  try {
    return JSON.parse(body);
  } catch {
    throw new SourceError(`${url} did not answer JSON`);
  }
}

export async function fromAgent(base: string, timeoutMs = 15_000): Promise<AnalysisSnapshot> {
  const u = new URL(ANALYSIS_API_PATH, base.endsWith('/') ? base : `${base}/`);
  // The charts draw at most MAX_POINTS per series: the agent reduces the history before sending it.
  u.searchParams.set('points', String(MAX_POINTS));
  const url = u.toString();
  let s: AnalysisSnapshot;
  try {
    s = (await getJson(url, timeoutMs)) as AnalysisSnapshot;
  } catch (err) {
    throw new SourceError(`${(err as Error).message} (is the agent running there? --agent URL names another, --prometheus reads a Prometheus)`);
  }
  if (s === null || typeof s !== 'object' || s.version !== 1 || typeof s.history !== 'object') {
    throw new SourceError(`${url} is not a Redline analysis endpoint (an older agent, or another service?)`);
  }
  return s;
}

export interface PrometheusQuery {
  url: string;
  /** Epoch seconds. */
  start: number;
  end: number;
  env?: string | undefined;
  run?: string | undefined;
  /** Window of rate() in seconds (a few scrape intervals). */
  rateWindowSeconds: number;
  timeoutMs?: number;
}

/** Prometheus answers at most 11,000 points per series: the step grows for long ranges. */
export function stepFor(start: number, end: number): number {
  return Math.max(1, Math.ceil((end - start) / 10_000));
}

interface Matrix {
  status: string;
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
}

const escapeValue = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

export async function fromPrometheus(q: PrometheusQuery): Promise<AnalysisSnapshot> {
  if (!(q.end > q.start)) throw new SourceError('--end must be after --start');
  const step = stepFor(q.start, q.end);
  const n = Math.floor((q.end - q.start) / step) + 1;
  const t = Array.from({ length: n }, (_, i) => q.start + i * step);
  const matchers = [q.env ? `env="${escapeValue(q.env)}"` : '', q.run ? `run="${escapeValue(q.run)}"` : ''].filter(Boolean).join(',');
  const sel = (name: string, extra = ''): string => `${name}{${[matchers, extra].filter(Boolean).join(',')}}`;
  const w = `${Math.max(1, Math.round(q.rateWindowSeconds))}s`;
  const range = async (expr: string): Promise<NonNullable<Matrix['data']>['result']> => {
    const u = new URL('api/v1/query_range', q.url.endsWith('/') ? q.url : `${q.url}/`);
    u.searchParams.set('query', expr);
    u.searchParams.set('start', String(q.start));
    u.searchParams.set('end', String(q.end));
    u.searchParams.set('step', `${step}s`);
    const m = (await getJson(u.toString(), q.timeoutMs ?? 30_000)) as Matrix;
    if (m.status !== 'success' || !m.data) throw new SourceError(`Prometheus refused ${expr}: ${m.error ?? m.status}`);
    return m.data.result;
  };
  const column = (values: Array<[number, string]> | undefined): Array<number | null> => {
    const col: Array<number | null> = new Array<number | null>(n).fill(null);
    for (const [ts, v] of values ?? []) {
      const i = Math.round((ts - q.start) / step);
      const x = Number(v);
      if (i >= 0 && i < n && Number.isFinite(x)) col[i] = x;
    }
    return col;
  };
  const one = async (expr: string): Promise<Array<number | null>> => column((await range(expr))[0]?.values);

  const [procs, users, offered, requests, errors, hostCpu, buckets, ratios] = await Promise.all([
    one(`sum(${sel('redline_injector_processes')})`),
    one(`sum(${sel('loadtest_active_users')})`),
    one(`sum(${sel('loadtest_offered_rate')})`),
    one(`sum(rate(${sel('loadtest_requests_total')}[${w}]))`),
    one(`sum(rate(${sel('loadtest_errors_total')}[${w}]))`),
    one(`avg(1 - sum without (mode) (rate(${sel('redline_host_cpu_seconds_total', 'mode=~"idle|iowait"')}[${w}])) / sum without (mode) (rate(${sel('redline_host_cpu_seconds_total')}[${w}])))`),
    range(`sum by (le) (rate(${sel('loadtest_request_duration_seconds_bucket')}[${w}]))`),
    range(`max by (group, role, resource) (${sel('redline_saturation_ratio')})`),
  ]);
  const h: HistoryData = emptyHistory(step);
  h.t = t;
  h.injectorProcesses = procs;
  h.activeUsers = users;
  h.offeredRps = offered;
  h.requestsRps = requests;
  h.errorsRps = errors;
  h.hostCpu = hostCpu;
  // Cumulative buckets by le become per-bucket rates (the last one +Inf).
  const byLe = buckets
    .map((b) => ({ le: b.metric['le'] === '+Inf' ? Infinity : Number(b.metric['le']), col: column(b.values) }))
    .filter((b) => !Number.isNaN(b.le))
    .sort((a, b) => a.le - b.le);
  if (byLe.length > 0 && byLe[byLe.length - 1]!.le === Infinity) {
    h.latencyBounds = byLe.slice(0, -1).map((b) => b.le);
    h.latencyBuckets = byLe.map((b, i) => b.col.map((v, r) => (v === null ? null : Math.max(0, v - (i > 0 ? (byLe[i - 1]!.col[r] ?? 0) : 0)))));
  }
  h.ratios = ratios
    .filter((r) => r.metric['group'] && r.metric['resource'] && (r.metric['role'] === 'sut' || r.metric['role'] === 'injector'))
    .map((r) => ({ group: r.metric['group']!, role: r.metric['role'] as RatioKey['role'], resource: r.metric['resource']!, values: column(r.values) }));
  if (t.length > 0 && h.ratios.length === 0 && procs.every((v) => v === null) && users.every((v) => v === null)) {
    throw new SourceError(`Prometheus at ${q.url} has no Redline series between ${new Date(q.start * 1000).toISOString()} and ${new Date(q.end * 1000).toISOString()}${matchers ? ` for {${matchers}}` : ''}`);
  }
  return snapshotFromHistory(h, { minStepSeconds: Math.max(3, 3 * step), warmupSeconds: Math.max(2, q.rateWindowSeconds) });
}

/** `--start`/`--end`: epoch seconds, RFC 3339, `now`, or `now-30m` style offsets. */
export function parseTime(v: string, flag: string, nowMs = Date.now()): number {
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const rel = /^now(?:-(\d+)(s|m|h|d))?$/.exec(s);
  if (rel) {
    const mult = { s: 1, m: 60, h: 3600, d: 86400 }[(rel[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
    return Math.round(nowMs / 1000) - Number(rel[1] ?? 0) * mult;
  }
  const ms = Date.parse(s);
  if (Number.isNaN(ms)) throw new Error(`${flag}: expected epoch seconds, RFC 3339 (2026-01-02T15:04:05Z) or now-30m, got ${JSON.stringify(v)}`);
  return ms / 1000;
}
