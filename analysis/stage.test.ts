import { describe, it, expect } from 'vitest';
import { LineCounter, parseDocument } from 'yaml';
import { Store } from '../core/store.js';
import { render } from '../exporters/exposition.js';
import { Analysis } from './stage.js';
import { parseResources } from './resources.js';
import { reportJson, snapshotFromHistory, stepTable, verdictText } from './summary.js';
import { emptyHistory } from './history.js';
import { findSteps } from './steps.js';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/**
 * A recorded ramp, written into a real store the way the sources write it: the host collector's
 * group gauges and counters, the probe's loop gauges, the load tool's counters and histogram.
 */
class Ramp {
  now = 1_700_000_000_000;
  readonly store = new Store({ maxSeries: 1000, setIntervalMs: 10_000, now: () => this.now });
  readonly count = this.store.gauge('redline_process_count', 'x', ['group', 'role']);
  readonly injectors = this.store.gauge('redline_injector_processes', 'x', ['group']);
  readonly thread = this.store.gauge('redline_process_busiest_thread_cpu_ratio', 'x', ['group', 'role']);
  readonly cores = this.store.gauge('redline_process_cpu_cores', 'x', ['group', 'role']);
  readonly cpus = this.store.gauge('redline_host_cpus', 'x');
  readonly fds = this.store.gauge('redline_process_fd_ratio', 'x', ['group', 'role']);
  readonly elu = this.store.gauge('redline_nodejs_eventloop_utilization', 'x', ['group', 'pid', 'role', 'service']);
  readonly lag = this.store.gauge('redline_nodejs_eventloop_lag_seconds', 'x', ['group', 'pid', 'quantile', 'role', 'service']);
  readonly requests = this.store.counter('loadtest_requests_total', 'x', ['scenario']);
  readonly errors = this.store.counter('loadtest_errors_total', 'x', ['scenario']);
  readonly offered = this.store.gauge('loadtest_offered_rate', 'x', ['scenario']);
  readonly users = this.store.gauge('loadtest_active_users', 'x', ['scenario']);
  readonly latency = this.store.histogram('loadtest_request_duration_seconds', 'x', ['scenario'], BUCKETS);
  readonly analysis: Analysis;

  constructor(resources: Parameters<typeof parseResources>[0] = null) {
    const lines = new LineCounter();
    this.analysis = new Analysis(this.store, { intervalMs: 1000, resources: parseResources(resources, 'x.yaml', lines) });
    this.cpus.set([], 4);
    this.count.set(['api', 'sut'], 1);
    this.count.set(['load', 'injector'], 0);
  }

  /** One second at `procs` injector processes, each offering 50 requests/s; the SUT serves at most 150/s. */
  second(procs: number, opts: { injectorThread?: number; offeredBy?: number; served?: number; users?: number } = {}): void {
    const offered = 50 * (opts.offeredBy ?? procs);
    const served = opts.served ?? Math.min(offered, 150);
    const busy = Math.min(1, offered / 160);
    this.count.set(['load', 'injector'], procs);
    this.injectors.set(['load'], procs);
    this.thread.set(['api', 'sut'], busy);
    this.cores.set(['api', 'sut'], busy);
    this.thread.set(['load', 'injector'], opts.injectorThread ?? 0.1 * procs);
    this.cores.set(['load', 'injector'], 0.1 * procs);
    this.fds.set(['api', 'sut'], 0.05);
    this.elu.set(['api', '7', 'sut', 'api'], busy * 0.95);
    this.lag.set(['api', '7', '0.99', 'sut', 'api'], offered > 150 ? 0.4 : 0.002);
    this.offered.set(['login'], offered);
    if (opts.users !== undefined) this.users.set(['login'], opts.users);
    this.requests.inc(['login'], served);
    this.errors.inc(['login'], 0);
    const latency = offered > 150 ? 0.4 : 0.008;
    for (let i = 0; i < served; i++) this.latency.observe(['login'], latency);
    this.now += 1000;
    this.analysis.tick();
  }
}

describe('analysis stage on a recorded ramp', () => {
  it("reads a step's offered rate as its schedule when the next injector reports before it is counted", () => {
    const r = new Ramp();
    // The last 3 s of each step already carry the next injector's offered rate: its statsd
    // gauge arrives before the host collector's tick counts its process.
    for (let procs = 1; procs <= 3; procs++) for (let s = 0; s < 20; s++) r.second(procs, { offeredBy: s >= 17 ? procs + 1 : procs });
    expect(r.analysis.snapshot().steps.map((s) => s.offeredRps)).toEqual([50, 100, 150]);
  });

  it('steps by injector processes when they move, though the scenarios in flight (active users) change every second', () => {
    const r = new Ramp();
    let k = 0;
    for (let procs = 1; procs <= 3; procs++) for (let s = 0; s < 10; s++) r.second(procs, { users: 3 * procs + (k++ % 5) });
    expect(r.analysis.snapshot().steps.map((s) => [s.load, s.loadKind])).toEqual([
      [1, 'injector_processes'],
      [2, 'injector_processes'],
      [3, 'injector_processes'],
    ]);
    // And from the first step on, before the count has moved.
    const one = new Ramp();
    for (let s = 0; s < 10; s++) one.second(1, { users: 3 + (s % 5) });
    expect(one.analysis.snapshot().steps.map((s) => [s.load, s.loadKind])).toEqual([[1, 'injector_processes']]);
  });

  it('steps by active users when the process count does not move (one process ramping its virtual users)', () => {
    const r = new Ramp();
    for (let users = 10; users <= 30; users += 10) for (let s = 0; s < 10; s++) r.second(1, { users });
    expect(r.analysis.snapshot().steps.map((s) => [s.load, s.loadKind])).toEqual([
      [10, 'active_users'],
      [20, 'active_users'],
      [30, 'active_users'],
    ]);
  });

  it('keeps a step whole across rows a scrape missed (a history rebuilt from Prometheus), and ends it at a load of 0', () => {
    const h = emptyHistory(1);
    const load = [1, 1, 1, 1, 1, 2, 2, null, null, 2, 2, 2, 0, 0, 2, 2, 2, 2];
    h.t = load.map((_, i) => 1_700_000_000 + i);
    h.injectorProcesses = load;
    expect(findSteps(h, null).map((s) => [s.load, s.start - 1_700_000_000, s.end - 1_700_000_000])).toEqual([
      [1, 0, 4],
      [2, 5, 11],
      [2, 14, 17],
    ]);
  });

  it('never reads more achieved than offered when late requests of the step before complete in a step', () => {
    const r = new Ramp();
    // Step 2's first 5 s complete step 1's backlog too: 160 requests/s against 100 offered.
    for (let procs = 1; procs <= 2; procs++) for (let s = 0; s < 20; s++) r.second(procs, { served: procs === 2 && s < 5 ? 160 : 50 * procs });
    const steps = r.analysis.snapshot().steps;
    expect(steps.map((s) => s.offeredRps)).toEqual([50, 100]);
    expect(steps[1]!.achievedRps).toBe(100);
  });

  it('serves ratios and the verdict on /metrics and finds the steps, the knee and the first saturated resource', () => {
    const r = new Ramp();
    for (let procs = 1; procs <= 5; procs++) for (let s = 0; s < 20; s++) r.second(procs);
    const text = render(r.store, 'text');
    expect(text).toContain('redline_saturation_ratio{group="api",role="sut",resource="cpu_thread"} 1\n');
    expect(text).toContain('redline_saturation_ratio{group="api",role="sut",resource="eventloop_delay"} 1\n');
    expect(text).toContain('redline_saturation_ratio{group="load",role="injector",resource="cpu_thread"} 0.5\n');
    expect(text).toContain('redline_saturated{group="api",role="sut",resource="cpu_thread"} 1\n');
    expect(text).toContain('redline_saturated{group="load",role="injector",resource="cpu_thread"} 0\n');
    expect(text).toContain('redline_verdict_state{state="sut_saturated"} 1\n');
    expect(text).toContain('redline_verdict_state{state="ok"} 0\n');
    // Step 3 starts 40 s in; the busiest thread reaches 150/160 there.
    const onset = 1_700_000_000 + 41;
    expect(text).toContain(`redline_verdict_onset_timestamp_seconds{role="sut",group="api",resource="cpu_thread"} ${onset}\n`);

    const snap = r.analysis.snapshot();
    expect(snap.steps.map((s) => s.load)).toEqual([1, 2, 3, 4, 5]);
    expect(snap.steps.map((s) => s.offeredRps)).toEqual([50, 100, 150, 200, 250]);
    expect(snap.steps.map((s) => s.achievedRps)).toEqual([50, 100, 150, 150, 150]);
    expect(snap.steps[0]!.latencyP95Seconds).toBeGreaterThan(0.005);
    expect(snap.steps[0]!.latencyP95Seconds).toBeLessThanOrEqual(0.01);
    expect(snap.steps[3]!.latencyP95Seconds).toBeGreaterThan(0.25);
    expect(snap.knee).toMatchObject({ step: 4, load: 4, throughput: 150 });
    const json = reportJson(snap);
    expect(json.verdict).toEqual({ limit: 'sut', group: 'api', resource: 'cpu_thread', onset: new Date(onset * 1000).toISOString() });
    expect(json.knee).toEqual({ step: 4, load: 4, throughput: 150 });
    expect(snap.steps[2]!.saturation.find((s) => s.resource === 'cpu_thread' && s.group === 'api')?.saturated).toBe(true);
    expect(snap.steps[1]!.saturation.find((s) => s.resource === 'cpu_thread' && s.group === 'api')?.saturated).toBe(false);
    expect(verdictText(snap.verdict, snap.knee, snap.steps)).toBe(
      'Throughput stopped following the load at step 4 (4 injector processes, 150.0 requests/s). The first thing to saturate was busiest thread CPU of api at step 3 (3 injector processes). The injector stayed healthy.',
    );
    const table = stepTable(snap.steps).split('\n');
    expect(table).toHaveLength(6);
    // Host CPU (none recorded here) next to the SUT's busiest thread (50/160 of a core at step 1,
    // all of it from step 4); no listen queue, so no acceptq.
    const cells = table.map((l) => l.trim().split(/\s{2,}/));
    expect(cells[0]!.slice(8, 11)).toEqual(['host-cpu', 'sut-cpu', 'acceptq']);
    expect(cells[1]!.slice(8, 11)).toEqual(['-', '31%', '-']);
    expect(cells[4]!.slice(8, 11)).toEqual(['-', '100%', '-']);

    // The same answer recomputed from the history alone (as from Prometheus).
    const again = snapshotFromHistory(JSON.parse(JSON.stringify(snap.history)));
    expect(reportJson(again)).toEqual(json);
  });

  it('marks the step of the onset saturated though the verdict settled in the next step, as the verdict text names it', () => {
    const r = new Ramp();
    // Step 2: 17 calm seconds, then the thread saturates 3 s before the step ends (150/160 of a
    // core at 150 offered); it stays saturated through step 3, where the verdict settles.
    for (let s = 0; s < 20; s++) r.second(1);
    for (let s = 0; s < 17; s++) r.second(2);
    for (let s = 0; s < 3; s++) r.second(2, { offeredBy: 4 });
    for (let s = 0; s < 20; s++) r.second(3, { offeredBy: 4 });
    const snap = r.analysis.snapshot();
    const first = snap.verdict.first!;
    expect(first).toMatchObject({ group: 'api', resource: 'cpu_thread' });
    const step2 = snap.steps[1]!;
    expect(first.onset).toBeGreaterThanOrEqual(step2.start);
    expect(first.onset).toBeLessThanOrEqual(step2.end);
    expect(first.settled).toBeGreaterThan(step2.end);
    const cpu = (i: number) => snap.steps[i]!.saturation.find((x) => x.resource === 'cpu_thread' && x.group === 'api')!;
    // Its mean over step 2 is far below the threshold, but the onset is there.
    expect(cpu(1).mean).toBeLessThan(0.9 * 0.9);
    expect([cpu(0).saturated, cpu(1).saturated, cpu(2).saturated]).toEqual([false, true, true]);
    expect(verdictText(snap.verdict, snap.knee, snap.steps)).toContain('busiest thread CPU of api at step 2 (2 injector processes)');
    expect(stepTable(snap.steps).split('\n')[2]).toContain('api/cpu_thread');
  });

  it('says both, the injector first, when the SUT and the injector saturate together', () => {
    const r = new Ramp();
    for (let procs = 1; procs <= 4; procs++) for (let s = 0; s < 20; s++) r.second(procs, { injectorThread: procs >= 2 ? 0.92 : 0.3 });
    const snap = r.analysis.snapshot();
    expect(snap.verdict.state).toBe('both');
    expect(reportJson(snap).verdict).toMatchObject({ limit: 'both', group: 'load', resource: 'cpu_thread' });
    expect(snap.verdict.sut).toMatchObject({ group: 'api', resource: 'cpu_thread' });
    expect(verdictText(snap.verdict, snap.knee, snap.steps)).toContain('the INJECTOR');
  });

  it('no load at all: no steps, verdict ok', () => {
    const r = new Ramp();
    for (let s = 0; s < 10; s++) {
      r.now += 1000;
      r.analysis.tick();
    }
    const snap = r.analysis.snapshot();
    expect(snap.steps).toEqual([]);
    expect(reportJson(snap)).toEqual({ verdict: { limit: 'none', group: null, resource: null, onset: null }, knee: { step: null, load: null, throughput: null }, steps: [] });
  });

  it('rates pools by convention and declared ones, accept queues, and injector schedule misses', () => {
    const doc = parseDocument(
      'resources:\n  - name: arangodb_v8\n    group: db\n    in_use: arangodb_v8_contexts{state="busy"}\n    limit: arangodb_v8_contexts_max\n  - name: jobs\n    group: api\n    in_use: worker_queue_depth\n    limit: 40\n',
      { keepSourceTokens: true },
    );
    const lines = new LineCounter();
    const parsedDoc = parseDocument(String(doc), { lineCounter: lines });
    const r = new Ramp();
    const declared = parseResources(parsedDoc.get('resources', true) as never, 'redline.yaml', lines);
    const a = new Analysis(r.store, { intervalMs: 1000, resources: declared });
    r.count.set(['db', 'sut'], 1);
    const inUse = r.store.gauge('redline_pool_in_use', 'x', ['pool', 'service']);
    const limit = r.store.gauge('redline_pool_limit', 'x', ['pool', 'service']);
    inUse.set(['pg', 'api'], 9);
    limit.set(['pg', 'api'], 10);
    r.store.gauge('arangodb_v8_contexts', 'x', ['state']).set(['busy'], 3);
    r.store.gauge('arangodb_v8_contexts', 'x', ['state']).set(['idle'], 5);
    r.store.gauge('arangodb_v8_contexts_max', 'x').set([], 8);
    r.store.gauge('worker_queue_depth', 'x').set([], 10);
    const qlen = r.store.gauge('redline_listen_queue_length', 'x', ['group', 'port', 'role']);
    const qlim = r.store.gauge('redline_listen_queue_limit', 'x', ['group', 'port', 'role']);
    const overflows = r.store.counter('redline_host_tcp_listen_overflows_total', 'x');
    qlen.set(['api', '8080', 'sut'], 64);
    qlim.set(['api', '8080', 'sut'], 127);
    qlen.set(['db', '5432', 'sut'], 1);
    qlim.set(['db', '5432', 'sut'], 127);
    const dropped = r.store.counter('k6_dropped_iterations_total', 'x');
    const iterations = r.store.counter('k6_iterations_total', 'x');
    r.store.gauge('k6_vus', 'x').set([], 48);
    r.store.gauge('k6_vus_max', 'x').set([], 50);
    for (let i = 0; i < 10; i++) {
      overflows.inc([], 3);
      dropped.inc([], 2);
      iterations.inc([], 98);
      r.now += 1000;
      a.tick();
    }
    const text = render(r.store, 'text');
    expect(text).toContain('redline_saturation_ratio{group="api",role="sut",resource="pool:pg"} 0.9\n');
    expect(text).toContain('redline_saturation_ratio{group="db",role="sut",resource="pool:arangodb_v8"} 0.375\n');
    expect(text).toContain('redline_saturation_ratio{group="api",role="sut",resource="pool:jobs"} 0.25\n');
    // api's queue is half full while the kernel counts overflows: its own evidence, so 1; db's is not.
    expect(text).toContain('redline_saturation_ratio{group="api",role="sut",resource="accept_queue"} 1\n');
    expect(text).toContain('redline_saturation_ratio{group="db",role="sut",resource="accept_queue"} 0.0078125\n');
    // 2 of 100 iterations dropped: twice the 1% limit, clamped to 1. The sole injector group gets it.
    expect(text).toContain('redline_saturation_ratio{group="load",role="injector",resource="schedule"} 1\n');
    expect(text).toContain('redline_saturation_ratio{group="load",role="injector",resource="vus"} 0.96\n');
    expect(a.verdict.injector).toMatchObject({ group: 'load' });
  });

  it("counts overflows for the sole listening SUT group when its clients' connects are retried, though its queue is never sampled full", () => {
    const r = new Ramp();
    const qlen = r.store.gauge('redline_listen_queue_length', 'x', ['group', 'port', 'role']);
    const qlim = r.store.gauge('redline_listen_queue_limit', 'x', ['group', 'port', 'role']);
    const overflows = r.store.counter('redline_host_tcp_listen_overflows_total', 'x');
    const slow = r.store.counter('loadtest_slow_connects_total', 'x', ['scenario']);
    qlim.set(['api', '8080', 'sut'], 38);
    const ratio = (): string => /redline_saturation_ratio\{group="api",role="sut",resource="accept_queue"\} (\S+)/.exec(render(r.store, 'text'))?.[1] ?? '';
    // Waves: the queue fills and drains between samples; overflows in bursts, every other second.
    for (let s = 0; s < 6; s++) {
      qlen.set(['api', '8080', 'sut'], 2);
      overflows.inc([], s % 2 === 0 ? 40 : 0);
      r.second(1);
    }
    // Without the clients' evidence the host-wide overflows are not api's.
    expect(ratio()).toBe(String(2 / 39));
    for (let s = 0; s < 12; s++) {
      overflows.inc([], s % 2 === 0 ? 40 : 0);
      slow.inc(['login'], s % 3 === 0 ? 5 : 0);
      r.second(1);
    }
    expect(ratio()).toBe('1');
    expect(r.analysis.verdict.sut).toMatchObject({ group: 'api', resource: 'accept_queue' });
    // A second SUT group listening: retried connects can no longer be told apart.
    qlen.set(['db', '5432', 'sut'], 0);
    qlim.set(['db', '5432', 'sut'], 127);
    r.count.set(['db', 'sut'], 1);
    overflows.inc([], 40);
    slow.inc(['login'], 5);
    r.second(1);
    expect(ratio()).toBe(String(2 / 39));
  });

  it('refuses bad resource declarations with the file and line', () => {
    const lines = new LineCounter();
    const doc = parseDocument('resources:\n  - name: db\n    group: api\n    in_use: "pool{x=1}"\n    limit: 10\n', { lineCounter: lines });
    expect(() => parseResources(doc.get('resources', true) as never, 'redline.yaml', lines)).toThrow(/redline\.yaml:4: resources: in_use: "x=1" is not label="value"/);
    const doc2 = parseDocument('resources:\n  - name: db\n    group: api\n    in_use: a\n    limits: 10\n', { lineCounter: lines });
    expect(() => parseResources(doc2.get('resources', true) as never, 'redline.yaml', lines)).toThrow(/unknown key "limits"/);
  });

  it('removes the ratios of a group that went away and keeps the history bounded', () => {
    const store = new Store({ maxSeries: 10, setIntervalMs: 1000, now: () => now });
    let now = 0;
    const a = new Analysis(store, { intervalMs: 1000, historyRows: 50 });
    const fds = store.gauge('redline_process_fd_ratio', 'x', ['group', 'role']);
    store.gauge('redline_process_count', 'x', ['group', 'role']).set(['api', 'sut'], 1);
    for (let i = 0; i < 120; i++) {
      if (i < 60) fds.set(['api', 'sut'], 0.5);
      else fds.remove(['api', 'sut']);
      now += 1000;
      a.tick();
    }
    expect(render(store, 'text')).not.toContain('resource="fds"');
    expect(a.history.length).toBe(50);
    const h = a.history.toJSON();
    expect(h.t).toHaveLength(50);
    expect(h.t[49]).toBe(120);
    // The api column rolled out completely 50 rows after it was last written.
    expect(h.ratios).toEqual([]);
  });
});
