/**
 * The analysis stage: once a tick it reads the series the sources wrote into the store, turns
 * them into saturation ratios per (group, role, resource), feeds the verdict machine, appends a
 * row to the bounded history and writes the derived series (`redline_saturation_ratio`,
 * `redline_verdict_*`) back into the store for /metrics and every other sink.
 *
 * It never reads /proc or the network: everything comes from the store, so it costs the same
 * whichever sources are on, and its tick is cheap (bench/analysis.ts).
 */
import type { OwnMetric, Series, Store } from '../core/store.js';
import { Periodic } from '../core/periodic.js';
import { History, downsample, type HistoryData, type RatioKey } from './history.js';
import { INPUTS, forEach, groupOfSeries, sumOf, type Labels } from './inputs.js';
import { LIMITS, RESOURCES, resourceDefinition, type Role } from './thresholds.js';
import { VerdictMachine, VERDICT_STATES, ratioId, type Verdict } from './verdict.js';
import { findKnee, findSteps, type Knee, type Step } from './steps.js';
import type { DeclaredResource, ResourceSelector } from './resources.js';

export const ANALYSIS_METRICS = {
  ratio: 'redline_saturation_ratio',
  saturated: 'redline_saturated',
  verdictState: 'redline_verdict_state',
  verdictOnset: 'redline_verdict_onset_timestamp_seconds',
  ticks: 'redline_analysis_ticks_total',
  historyRows: 'redline_analysis_history_rows',
  historyBytes: 'redline_analysis_history_bytes',
  refusedColumns: 'redline_analysis_refused_columns_total',
} as const;

/** Default cap on saturation columns in the history: 50 groups × 30 resources; 2 h of them fit in 44 MB. */
export const MAX_RATIO_COLUMNS = 1500;

export interface AnalysisOptions {
  intervalMs: number;
  /** Rows of history kept (default: two hours at the interval). */
  historyRows?: number;
  /** Most (group, role, resource) columns kept in the history. */
  maxRatioColumns?: number;
  resources?: readonly DeclaredResource[];
}

/** What /api/v1/analysis serves, `redline report --agent` reads and the live view draws. */
export interface AnalysisSnapshot {
  version: 1;
  /** Epoch seconds of the last tick. */
  now: number;
  verdict: Verdict;
  knee: Knee;
  steps: Step[];
  history: HistoryData;
  /** Title and saturation threshold of every resource in the history. */
  resources: Record<string, { title: string; help: string; saturatedAt: Record<Role, number> }>;
}

interface Prev {
  v: number;
  t: number;
}

/** A small window of a counter's past values, for rates over a few seconds. */
class CounterWindow {
  private readonly vs: number[] = [];
  private readonly ts: number[] = [];
  constructor(private readonly size: number) {}
  /** Adds a reading; returns the increase per second over the window, or NaN. */
  push(v: number, t: number): number {
    if (this.vs.length > 0 && v < this.vs[this.vs.length - 1]!) {
      // A reset (the series expired and came back): start again.
      this.vs.length = 0;
      this.ts.length = 0;
    }
    this.vs.push(v);
    this.ts.push(t);
    if (this.vs.length > this.size) {
      this.vs.shift();
      this.ts.shift();
    }
    const dt = t - this.ts[0]!;
    return dt > 0 ? (v - this.vs[0]!) / dt : NaN;
  }
  /** The increase over the window. */
  get increase(): number {
    return this.vs.length > 1 ? this.vs[this.vs.length - 1]! - this.vs[0]! : NaN;
  }
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

export class Analysis {
  readonly history: History;
  readonly machine: VerdictMachine;
  private readonly intervalSeconds: number;
  private readonly resources: readonly DeclaredResource[];
  private readonly periodic: Periodic;
  private readonly listeners = new Set<(s: Analysis) => void>();
  private readonly ratioMetric: OwnMetric;
  private readonly saturatedMetric: OwnMetric;
  private readonly stateMetric: OwnMetric;
  private readonly onsetMetric: OwnMetric;
  private readonly ticks: OwnMetric;
  private readonly rowsMetric: OwnMetric;
  private readonly bytesMetric: OwnMetric;
  private readonly refusedMetric: OwnMetric;
  /** Derived series written last tick, by id, so those not written this tick are removed. */
  private readonly written = new Map<string, { key: RatioKey; ratio: Series; saturated: Series }>();
  private readonly counters = new Map<string, CounterWindow>();
  private readonly prev = new Map<string, Prev>();
  private prevLatency: { bounds: Float64Array; cum: Float64Array } | null = null;
  private lastVerdict: Verdict;
  private stepsCache: { written: number; verdict: Verdict; steps: Step[]; knee: Knee } | null = null;
  lastTickSeconds = 0;

  constructor(
    private readonly store: Store,
    opts: AnalysisOptions,
  ) {
    this.intervalSeconds = opts.intervalMs / 1000;
    this.history = new History({
      rows: opts.historyRows ?? Math.ceil(7200 / this.intervalSeconds),
      intervalSeconds: this.intervalSeconds,
      maxRatioColumns: opts.maxRatioColumns ?? MAX_RATIO_COLUMNS,
    });
    this.machine = new VerdictMachine(this.intervalSeconds);
    this.resources = opts.resources ?? [];
    this.ratioMetric = store.gauge(ANALYSIS_METRICS.ratio, 'Saturation of a resource of a process group, 0 to 1 (1 = at its limit); see docs/analysis.md for each resource.', ['group', 'role', 'resource']);
    this.saturatedMetric = store.gauge(ANALYSIS_METRICS.saturated, 'Whether the verdict holds this resource saturated now (1) or not (0), with hysteresis so that it does not flap.', ['group', 'role', 'resource']);
    this.stateMetric = store.gauge(ANALYSIS_METRICS.verdictState, 'The verdict now: 1 for the current state (ok, sut_saturated, injector_saturated, both), 0 for the others.', ['state']);
    this.onsetMetric = store.gauge(ANALYSIS_METRICS.verdictOnset, 'When the first resource of each role saturated during the run, in seconds since the epoch (absent while none has).', ['role', 'group', 'resource']);
    this.ticks = store.counter(ANALYSIS_METRICS.ticks, 'Analysis ticks run.');
    this.rowsMetric = store.gauge(ANALYSIS_METRICS.historyRows, 'Rows held in the analysis history (one per tick, bounded).');
    this.bytesMetric = store.gauge(ANALYSIS_METRICS.historyBytes, 'Bytes held by the analysis history buffers.');
    this.refusedMetric = store.counter(ANALYSIS_METRICS.refusedColumns, 'Saturation series left out of the history because its column cap was reached.');
    for (const s of VERDICT_STATES) this.stateMetric.set([s], s === 'ok' ? 1 : 0);
    this.ticks.inc([], 0);
    this.refusedMetric.inc([], 0);
    this.lastVerdict = this.machine.verdict();
    this.periodic = new Periodic(opts.intervalMs, async () => this.tick());
  }

  start(): void {
    this.periodic.start();
  }

  async stop(): Promise<void> {
    await this.periodic.stop();
  }

  /** Called after every tick (the live view pushes from here). Returns an unsubscribe. */
  onTick(fn: (a: Analysis) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get verdict(): Verdict {
    return this.lastVerdict;
  }

  /** One analysis tick at the store's clock (tests drive it directly). */
  tick(nowMs: number = this.store.now()): void {
    const t = nowMs / 1000;
    const row = this.history.beginRow(t);
    this.globals(row, t);
    const seen = new Set<string>();
    const put = (group: string, role: Role, resource: string, v: number): void => {
      if (!Number.isFinite(v)) return;
      const key: RatioKey = { group, role, resource };
      const id = ratioId(key);
      const r = clamp01(v);
      // Several sources may rate one resource (two probed processes of one group): the worst counts.
      if (seen.has(id)) {
        const w = this.written.get(id)!;
        if (r <= w.ratio.value) return;
        w.ratio.value = r;
      } else {
        seen.add(id);
        let w = this.written.get(id);
        if (w === undefined) {
          w = { key, ratio: this.ratioMetric.series([group, role, resource]), saturated: this.saturatedMetric.series([group, role, resource]) };
          this.written.set(id, w);
        }
        w.ratio.value = r;
      }
      if (!this.history.setRatio(row, key, id, r)) this.refusedMetric.inc();
    };
    this.ratios(t, put);
    for (const [id, w] of this.written) {
      if (seen.has(id)) continue;
      this.ratioMetric.family.series.delete(w.ratio.labels);
      this.saturatedMetric.family.series.delete(w.saturated.labels);
      this.written.delete(id);
    }
    for (const id of seen) {
      const w = this.written.get(id)!;
      this.machine.sample(id, w.key, t, w.ratio.value);
    }
    this.machine.sweep(t);
    const v = this.machine.verdict();
    const now = new Set(v.saturated.map((s) => ratioId(s)));
    for (const [id, w] of this.written) w.saturated.value = now.has(id) ? 1 : 0;
    for (const s of VERDICT_STATES) this.stateMetric.set([s], s === v.state ? 1 : 0);
    this.onsetMetric.reset();
    for (const c of [v.sut, v.injector]) if (c) this.onsetMetric.set([c.role, c.group, c.resource], c.onset);
    this.lastVerdict = v;
    this.lastTickSeconds = t;
    this.ticks.inc();
    this.rowsMetric.set([], this.history.length);
    this.bytesMetric.set([], this.history.bytes);
    for (const fn of this.listeners) {
      try {
        fn(this);
      } catch {
        // A failing listener (a live view client) must not stop the analysis.
      }
    }
  }

  /**
   * The verdict, steps, knee and the history since `sinceSeconds` (all by default), reduced to at
   * most `points` rows when given (steps and knee are always measured at full resolution).
   */
  snapshot(sinceSeconds?: number, points?: number): AnalysisSnapshot {
    const { steps, knee } = this.stepsAndKnee();
    // Only the rows asked for are read and serialised (the time range is sliced first); rounding
    // for JSON is left to the rows actually sent.
    const rows = sinceSeconds === undefined ? this.history.length : this.history.rowsSince(sinceSeconds);
    const history =
      points !== undefined && Math.ceil(rows / points) > 1
        ? downsample(sinceSeconds === undefined ? this.history.typed() : this.history.toJSON(sinceSeconds, false), points)
        : this.history.toJSON(sinceSeconds);
    return { version: 1, now: this.lastTickSeconds, verdict: this.lastVerdict, knee, steps, history, resources: describeResources(history) };
  }

  /**
   * The ramp steps and the knee over the whole history (steps read every row), computed at most
   * once per tick however many readers ask: every viewer and API request of a tick shares them.
   */
  stepsAndKnee(): { steps: Step[]; knee: Knee } {
    const c = this.stepsCache;
    if (c !== null && c.written === this.history.written && c.verdict === this.lastVerdict) return c;
    const steps = findSteps(this.history.typed(), this.lastVerdict);
    this.stepsCache = { written: this.history.written, verdict: this.lastVerdict, steps, knee: findKnee(steps) };
    return this.stepsCache;
  }

  // ------------------------------------------------------------------ inputs

  private rate(id: string, v: number | null, t: number, window = 1): number {
    if (v === null) return NaN;
    let w = this.counters.get(id);
    if (w === undefined) {
      w = new CounterWindow(window + 1);
      this.counters.set(id, w);
    }
    return w.push(v, t);
  }

  private globals(row: number, t: number): void {
    const store = this.store;
    const h = this.history;
    h.setGlobal(row, 'injectorProcesses', sumOf(store, INPUTS.injectorProcesses));
    h.setGlobal(row, 'activeUsers', sumOf(store, INPUTS.activeUsers) ?? sumOf(store, INPUTS.k6Vus));
    h.setGlobal(row, 'offeredRps', sumOf(store, INPUTS.offeredRate));
    h.setGlobal(row, 'requestsRps', nullIfNaN(this.rate('requests', sumOf(store, INPUTS.requests), t)));
    h.setGlobal(row, 'errorsRps', nullIfNaN(this.rate('errors', sumOf(store, INPUTS.errors) ?? (sumOf(store, INPUTS.requests) === null ? null : 0), t)));
    // Host CPU busy: everything but idle and iowait, over the tick.
    let busy = 0;
    let total = 0;
    let any = false;
    forEach(store, INPUTS.hostCpuSeconds, (l, s) => {
      any = true;
      total += s.value;
      if (l['mode'] !== 'idle' && l['mode'] !== 'iowait') busy += s.value;
    });
    if (any) {
      const pb = this.prev.get('host_busy');
      const pt = this.prev.get('host_total');
      this.prev.set('host_busy', { v: busy, t });
      this.prev.set('host_total', { v: total, t });
      if (pb && pt && total > pt.v) h.setGlobal(row, 'hostCpu', clamp01((busy - pb.v) / (total - pt.v)));
    }
    this.latency(row, t);
  }

  private latency(row: number, t: number): void {
    const fam = this.store.families.get(INPUTS.latency);
    if (fam === undefined || fam.bounds === null) return;
    const nb = fam.bounds.length;
    const cum = new Float64Array(nb + 1);
    for (const s of fam.series.values()) {
      const b = s.buckets!;
      let inBounds = 0;
      for (let i = 0; i < nb; i++) {
        cum[i]! += b[i]!;
        inBounds += b[i]!;
      }
      cum[nb]! += s.count - inBounds;
    }
    const prev = this.prevLatency;
    const pt = this.prev.get('latency');
    this.prevLatency = { bounds: fam.bounds, cum };
    this.prev.set('latency', { v: 0, t });
    if (prev === null || pt === undefined || prev.bounds !== fam.bounds || t <= pt.t) return;
    const dt = t - pt.t;
    const per: number[] = [];
    for (let i = 0; i <= nb; i++) {
      const d = cum[i]! - prev.cum[i]!;
      // A bucket going down means series expired: that row has no latency.
      if (d < 0) return;
      per.push(d / dt);
    }
    this.history.setLatency(row, [...fam.bounds], per);
  }

  private ratios(t: number, put: (group: string, role: Role, resource: string, v: number) => void): void {
    const store = this.store;
    const groups = new Map<string, Role>();
    forEach(store, INPUTS.processCount, (l) => {
      const role = l['role'];
      if (l['group'] && (role === 'sut' || role === 'injector')) groups.set(l['group'], role);
    });
    const roleOf = (l: Labels): Role | undefined => {
      const r = l['role'];
      if (r === 'sut' || r === 'injector') return r;
      const g = l['group'];
      return g === undefined ? undefined : groups.get(g);
    };
    const perGroup = (name: string | readonly string[], resource: string, f: (v: number, l: Labels) => number = (v) => v): void => {
      forEach(store, name, (l, s) => {
        const role = roleOf(l);
        if (role === undefined || !l['group']) return;
        put(l['group'], role, resource, f(s.value, l));
      });
    };

    // CPU of the busiest thread (demand where served), and of the whole group.
    perGroup(INPUTS.busiestThreadCpu, RESOURCES.cpu_thread.resource);
    const hostCpus = sumOf(store, INPUTS.hostCpus);
    const quota = new Map<string, number>();
    forEach(store, INPUTS.cgroupCpuLimitCores, (l, s) => {
      if (l['group'] && s.value > 0) quota.set(l['group'], s.value);
    });
    forEach(store, INPUTS.groupCpuCores, (l, s) => {
      const g = l['group'];
      const role = roleOf(l);
      if (!g || role === undefined) return;
      // Received CPU, not demand: run-queue wait summed over every thread of a group measures
      // the host's contention (a busy host makes every group wait), not the group's own limit.
      // Starvation of the one thread that matters shows in cpu_thread's demand.
      const limit = quota.get(g) ?? hostCpus;
      if (limit !== null && limit > 0) put(g, role, RESOURCES.cpu_group.resource, s.value / limit);
    });
    forEach(store, INPUTS.cgroupCpuPeriods, (l, s) => {
      const g = l['group'];
      const role = roleOf(l);
      if (!g || role === undefined) return;
      const periods = this.rate(`periods/${g}`, s.value, t, 5);
      const throttled = this.rate(`throttled/${g}`, sumOf(store, INPUTS.cgroupCpuThrottledPeriods, { group: g }), t, 5);
      if (periods > 0 && Number.isFinite(throttled)) put(g, role, RESOURCES.cpu_throttling.resource, throttled / periods / LIMITS.cpuThrottledShare);
    });

    perGroup(INPUTS.fdRatio, RESOURCES.fds.resource);
    perGroup(INPUTS.mapsRatio, RESOURCES.memory_maps.resource);

    // Memory against the cgroup limit, else resident against the host's memory.
    const hostMem = sumOf(store, INPUTS.hostMemoryBytes, { type: 'total' });
    const cgLimit = new Map<string, number>();
    forEach(store, INPUTS.cgroupMemoryLimitBytes, (l, s) => {
      if (l['group'] && s.value > 0 && Number.isFinite(s.value)) cgLimit.set(l['group'], s.value);
    });
    const cgUsed = new Map<string, number>();
    forEach(store, INPUTS.cgroupMemoryBytes, (l, s) => {
      if (l['group']) cgUsed.set(l['group'], s.value);
    });
    forEach(store, INPUTS.processMemoryBytes, (l, s) => {
      const g = l['group'];
      const role = roleOf(l);
      if (!g || role === undefined || l['type'] !== 'resident') return;
      const lim = cgLimit.get(g);
      if (lim !== undefined) put(g, role, RESOURCES.memory.resource, (cgUsed.get(g) ?? s.value) / lim);
      else if (hostMem !== null && hostMem > 0) put(g, role, RESOURCES.memory.resource, s.value / hostMem);
    });

    // Accept queue: the worst port's length against its limit. Overflows are counted by the kernel
    // host-wide, and a queue that fills and drains within a second (users arriving in waves) is
    // rarely sampled full: they count for a group only with its own evidence, its queue seen at
    // least half full, or its clients' connects retried (a dropped SYN) while it is the only SUT
    // group listening. Both over a few seconds, as overflows come in bursts.
    const overflowRate = this.rate('overflows', sumOf(store, INPUTS.listenOverflows), t, 5);
    const slowConnects = this.rate('slow_connects', sumOf(store, INPUTS.slowConnects), t, 5);
    const limits = new Map<string, number>();
    forEach(store, INPUTS.listenQueueLimit, (l, s) => limits.set(`${l['group']}\u0000${l['port']}`, s.value));
    const listening = new Set<string>();
    forEach(store, INPUTS.listenQueueLength, (l) => {
      if (l['group'] && roleOf(l) === 'sut') listening.add(l['group']);
    });
    const clientsRetry = overflowRate > 0 && slowConnects > 0 && listening.size === 1;
    forEach(store, INPUTS.listenQueueLength, (l, s) => {
      const g = l['group'];
      const role = roleOf(l);
      const lim = limits.get(`${g}\u0000${l['port']}`);
      if (!g || role === undefined || lim === undefined || !(lim > 0)) return;
      // Linux queues limit + 1 connections before it counts an overflow.
      const ratio = s.value / (lim + 1);
      const own = s.value >= lim / 2 || (clientsRetry && role === 'sut');
      put(g, role, RESOURCES.accept_queue.resource, overflowRate > 0 && own ? 1 : ratio);
    });

    // Event loop: utilisation and delay of every probed process; the worst of a group counts.
    perGroupProbe(store, INPUTS.eventLoopUtilisation, roleOf, (g, r, v) => put(g, r, RESOURCES.eventloop_utilization.resource, v));
    const delay = (g: string, r: Role, v: number): void => put(g, r, RESOURCES.eventloop_delay.resource, v / LIMITS.eventLoopLagSeconds);
    perGroupProbe(store, INPUTS.eventLoopLag, roleOf, delay, { quantile: '0.99' });
    perGroupProbe(store, INPUTS.eventLoopDelay, roleOf, delay, { quantile: '0.99' });
    perGroupProbe(store, INPUTS.eventLoopStalled, roleOf, delay);

    // Pools by convention: redline_pool_in_use / redline_pool_limit with the same labels.
    const poolLimits = new Map<string, number>();
    forEach(store, INPUTS.poolLimit, (l, s) => poolLimits.set(poolKey(l), s.value));
    const soleSut = soleGroup(groups, 'sut');
    forEach(store, INPUTS.poolInUse, (l, s) => {
      const lim = poolLimits.get(poolKey(l));
      const g = groupOfSeries(l) ?? soleSut;
      if (lim === undefined || !(lim > 0) || !l['pool'] || g === undefined) return;
      put(g, roleOf(l) ?? groups.get(g) ?? 'sut', `pool:${l['pool']}`, s.value / lim);
    });
    // Pools declared in the configuration.
    for (const r of this.resources) {
      const used = selectSum(store, r.inUse);
      const lim = typeof r.limit === 'number' ? r.limit : selectSum(store, r.limit);
      if (used !== null && lim !== null && lim > 0) put(r.group, r.role, `pool:${r.name}`, used / lim);
    }

    // Injectors: schedule misses and virtual users their load tool reports.
    const injector = (l: Labels): string => l['group'] || soleGroup(groups, 'injector') || l['service'] || l['job'] || 'load';
    const dropped = new Map<string, { dropped: number; done: number }>();
    const add = (g: string, k: 'dropped' | 'done', v: number): void => {
      const e = dropped.get(g) ?? { dropped: 0, done: 0 };
      e[k] += v;
      dropped.set(g, e);
    };
    forEach(store, INPUTS.scenarios, (l, s) => add(injector(l), l['outcome'] === 'dropped' ? 'dropped' : 'done', s.value));
    forEach(store, INPUTS.k6Dropped, (l, s) => add(injector(l), 'dropped', s.value));
    forEach(store, INPUTS.k6Iterations, (l, s) => add(injector(l), 'done', s.value));
    for (const [g, e] of dropped) {
      const d = this.rate(`dropped/${g}`, e.dropped, t, 5);
      const n = this.rate(`done/${g}`, e.done, t, 5);
      if (Number.isFinite(d) && Number.isFinite(n) && d + n > 0) put(g, 'injector', RESOURCES.schedule.resource, d / (d + n) / LIMITS.scheduleDroppedShare);
      else if (Number.isFinite(d)) put(g, 'injector', RESOURCES.schedule.resource, 0);
    }
    const vusMax = new Map<string, number>();
    forEach(store, INPUTS.k6VusMax, (l, s) => vusMax.set(injector(l), (vusMax.get(injector(l)) ?? 0) + s.value));
    const vus = new Map<string, number>();
    forEach(store, INPUTS.k6Vus, (l, s) => vus.set(injector(l), (vus.get(injector(l)) ?? 0) + s.value));
    for (const [g, v] of vus) {
      const m = vusMax.get(g);
      if (m !== undefined && m > 0) put(g, 'injector', RESOURCES.vus.resource, v / m);
    }
  }
}

function perGroupProbe(
  store: Store,
  name: string,
  roleOf: (l: Labels) => Role | undefined,
  fn: (group: string, role: Role, v: number) => void,
  where: Labels = {},
): void {
  forEach(store, name, (l, s) => {
    for (const k in where) if (l[k] !== where[k]) return;
    const g = groupOfSeries(l);
    const role = roleOf(l);
    if (g !== undefined && role !== undefined) fn(g, role, s.value);
  });
}

function poolKey(l: Labels): string {
  return `${l['pool'] ?? ''}\u0000${l['group'] ?? ''}\u0000${l['service'] ?? ''}\u0000${l['pid'] ?? ''}`;
}

function soleGroup(groups: Map<string, Role>, role: Role): string | undefined {
  let found: string | undefined;
  for (const [g, r] of groups) {
    if (r !== role) continue;
    if (found !== undefined) return undefined;
    found = g;
  }
  return found;
}

function selectSum(store: Store, sel: ResourceSelector): number | null {
  return sumOf(store, sel.name, sel.labels);
}

function nullIfNaN(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

export function describeResources(h: HistoryData): AnalysisSnapshot['resources'] {
  const out: AnalysisSnapshot['resources'] = {};
  for (const r of h.ratios) {
    if (out[r.resource]) continue;
    const d = resourceDefinition(r.resource);
    out[r.resource] = { title: d.title, help: d.help, saturatedAt: { ...d.saturatedAt } };
  }
  return out;
}
