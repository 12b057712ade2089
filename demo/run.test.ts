import { describe, it, expect } from 'vitest';
import { parseExposition, sum, max, increase, bucketIncrease, quantile } from './scrape.js';
import { findKnee, parseDemoArgs, profileFor, verdictText, type StepResult } from './run.js';
import { parseFlags, numberFlag } from './flags.js';

const before = parseExposition(`# HELP x y
# TYPE loadtest_requests_total counter
loadtest_requests_total{scenario="demo",step="login",status="200"} 10
loadtest_requests_total{scenario="demo",step="work",status="200"} 5
lat_bucket{step="a",le="0.1"} 0
lat_bucket{step="a",le="1"} 0
lat_bucket{step="a",le="+Inf"} 0
g{group="demo-sut",quote="a\\"b"} 0.5
g{group="other"} 2
`);
const after = parseExposition(`loadtest_requests_total{scenario="demo",step="login",status="200"} 25
loadtest_requests_total{scenario="demo",step="work",status="200"} 3
loadtest_requests_total{scenario="demo",step="logout",status="200"} 4
lat_bucket{step="a",le="0.1"} 50
lat_bucket{step="a",le="1"} 90
lat_bucket{step="a",le="+Inf"} 100
lat_bucket{step="b",le="0.1"} 0
lat_bucket{step="b",le="1"} 10
lat_bucket{step="b",le="+Inf"} 10
bad line without value
NaNvalue{a="b"} x
`);

describe('scrape', () => {
  it('parses names, labels (with escapes) and values', () => {
    expect(max(before, 'g', { group: 'demo-sut' })).toBe(0.5);
    expect(before.get('g')![0]!.labels['quote']).toBe('a"b');
    expect(sum(before, 'g')).toBe(2.5);
    expect(max(before, 'g', { group: /^nope$/ })).toBeNull();
    expect(after.has('bad')).toBe(false);
  });

  it('takes counter increases, a reset counting from zero', () => {
    // login +15, work reset to 3 (counts 3), logout new (counts 4)
    expect(increase(before, after, 'loadtest_requests_total')).toBe(22);
    expect(increase(before, after, 'loadtest_requests_total', { step: 'login' })).toBe(15);
  });

  it('computes quantiles from bucket increases like histogram_quantile', () => {
    const b = bucketIncrease(before, after, 'lat');
    expect(b).toEqual([
      [0.1, 50],
      [1, 100],
      [Infinity, 110],
    ]);
    // rank 55 lies in (0.1, 1]: 0.1 + 0.9 * (55 - 50) / 50
    expect(quantile(0.5, b)).toBeCloseTo(0.19, 10);
    expect(quantile(0.25, b)).toBeCloseTo(0.055, 10);
    // above the last finite bound: the highest finite bound, as Prometheus
    expect(quantile(0.99, b)).toBe(1);
    expect(quantile(0.5, [])).toBeNull();
    expect(quantile(0.5, [[1, 0], [Infinity, 0]])).toBeNull();
  });
});

function step(n: number, offered: number, achieved: number, p95: number | null, errors = 0): StepResult {
  return {
    step: n,
    injector_processes: n,
    offered_rps: offered,
    achieved_rps: achieved,
    latency_p50_seconds: p95,
    latency_p95_seconds: p95,
    latency_p99_seconds: p95,
    error_ratio: errors,
    sut_busiest_thread_cpu: null,
    sut_eventloop_lag_p99_seconds: null,
    sut_eventloop_utilization: null,
    sut_open_fds: null,
    sut_fd_ratio: null,
    accept_queue_depth: null,
    accept_queue_limit: null,
    listen_overflows: 0,
    injector_cpu_cores: null,
    injector_busiest_process_cpu: null,
    injector_eventloop_lag_p99_seconds: null,
    signals: [],
  };
}

describe('knee', () => {
  it('is the first step where achieved falls below 90% of offered', () => {
    expect(findKnee([step(1, 60, 60, 0.01), step(2, 120, 119, 0.012), step(3, 180, 150, 0.02)]).step).toBe(3);
  });
  it('or where 1% of requests fail', () => {
    expect(findKnee([step(1, 60, 60, 0.01), step(2, 120, 120, 0.01, 0.02)])).toMatchObject({ step: 2, reason: '2.0% of requests failed' });
  });
  it('or where p95 latency is 5x step 1 (and at least 50 ms)', () => {
    expect(findKnee([step(1, 60, 60, 0.01), step(2, 120, 120, 0.04), step(3, 180, 180, 0.06)]).step).toBe(3);
    expect(findKnee([step(1, 60, 60, 0.001), step(2, 120, 120, 0.02)]).step).toBeNull();
  });
  it('is null when throughput followed the load', () => {
    expect(findKnee([step(1, 60, 60, 0.01), step(2, 120, 121, 0.011)])).toEqual({ step: null, reason: null });
  });
});

describe('verdict', () => {
  it('names the injector when it saturated first', () => {
    const v = verdictText({ signal: 'injector_cpu', group: 'demo-injector', role: 'injector', step: 1, at_seconds: 3, value: 0.95, threshold: 0.8 }, { step: 1, reason: 'x' });
    expect(v).toMatch(/^The INJECTOR \(demo-injector\) was the limit, not the system under test/);
  });
  it('names the service otherwise, and says when nothing saturated', () => {
    expect(verdictText({ signal: 'sut_fds', group: 'demo-sut', role: 'sut', step: 3, at_seconds: 9, value: 0.9, threshold: 0.8 }, { step: 4, reason: 'x' })).toMatch(
      /^The system under test \(demo-sut\) was the limit: open file descriptors/,
    );
    expect(verdictText(null, { step: null, reason: null })).toMatch(/^Nothing saturated/);
  });
});

describe('flags and profiles', () => {
  it('parses the demo flags in both forms, with defaults', () => {
    expect(parseDemoArgs([])).toMatchObject({ steps: 6, stepSeconds: 10, rate: 20, bottleneck: 'cpu', json: false, port: 0 });
    expect(parseDemoArgs(['--steps', '3', '--step-seconds=2.5', '--rate=7', '--bottleneck', 'fds', '--json'])).toMatchObject({
      steps: 3,
      stepSeconds: 2.5,
      rate: 7,
      bottleneck: 'fds',
      json: true,
    });
    expect(parseDemoArgs(['--help'])).toBe('help');
    expect(parseDemoArgs(['-h'])).toBe('help');
  });

  it('refuses bad values naming the flag', () => {
    expect(() => parseDemoArgs(['--bottleneck=disk'])).toThrow(/--bottleneck: expected one of cpu, fds, backlog, injector/);
    expect(() => parseDemoArgs(['--steps=0'])).toThrow(/--steps/);
    expect(() => parseDemoArgs(['--steps=2.5'])).toThrow(/--steps: expected an integer/);
    expect(() => parseDemoArgs(['--rate=abc'])).toThrow(/--rate/);
    expect(() => parseDemoArgs(['--port=70000'])).toThrow(/--port/);
    expect(() => parseDemoArgs(['--frobnicate'])).toThrow(/unknown flag --frobnicate/);
    expect(() => parseDemoArgs(['stray'])).toThrow(/unexpected argument/);
    expect(() => numberFlag(parseFlags(['--x='], ['x']), 'x', 1, 0, 2)).toThrow(/--x/);
  });

  it('aims each bottleneck at the middle of the ramp', () => {
    // cpu: at step 3 of 4 the main thread needs a whole core
    const cpu = profileFor('cpu', 20, 4);
    expect(3 * 20 * cpu.loginMs).toBeCloseTo(1000, 6);
    // fds: 2 fds per held request reach 80% of the limit at step 2.4 of 4
    const fds = profileFor('fds', 20, 4);
    expect(fds.fdLimit).toBe(128);
    expect(22 + 2.4 * 20 * (fds.holdMs / 1000) * 2).toBeCloseTo(0.8 * 128, 6);
    // backlog: waves of k * rate users; the backlog sits below the wave at step 2.4
    const backlog = profileFor('backlog', 20, 4);
    expect(backlog.arrivals).toBe('wave');
    expect(backlog.backlog).toBe(38);
    // injector: ~1.3 cores of work per injector process
    const inj = profileFor('injector', 20, 4);
    expect(inj.injectorBurnMs * 20 * 3).toBeCloseTo(1300, 6);
  });
});
