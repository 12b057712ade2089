/**
 * `redline demo` end to end, the way a user runs it: `node bin/redline.js demo --json` as a
 * child process (agent, probed service and injector processes are its children), one short
 * ramp per bottleneck, asserting that the summary names the right limit. The cpu run is also
 * scraped by a real Prometheus, and the overview dashboard's key queries must return the ramp.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, BIN } from './helpers/agent.js';
import { freePort } from './helpers/net.js';
import { run, start, stopAll, type Proc } from './helpers/process.js';
import { waitFor } from './helpers/wait.js';
import { dashboardQueries, substitute } from '../dashboards/promql.js';
import type { DemoResult } from '../demo/run.js';

const PROMETHEUS = process.env['PROMETHEUS'] ?? '/usr/bin/prometheus';
const STEPS = 4;
const STEP_SECONDS = 4;
const RATE = 20;

afterAll(stopAll);

async function runDemo(args: string[], timeoutMs = 90_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await run(process.execPath, [BIN, 'demo', ...args], { cwd: ROOT, timeoutMs });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

async function demo(bottleneck: string, extra: string[] = []): Promise<DemoResult> {
  const r = await runDemo(['--json', `--bottleneck=${bottleneck}`, `--steps=${STEPS}`, `--step-seconds=${STEP_SECONDS}`, `--rate=${RATE}`, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as DemoResult;
}

function expectRamp(res: DemoResult): void {
  expect(res.steps.map((s) => s.step)).toEqual([1, 2, 3, 4]);
  // The host collector counted the injector processes as they were added.
  expect(res.steps.map((s) => s.injector_processes)).toEqual([1, 2, 3, 4]);
  expect(res.steps.map((s) => s.offered_rps)).toEqual([60, 120, 180, 240]);
  // Step 1 serves traffic, never more than was offered. (How much of it depends on the share of
  // a core the service gets, so no lower bound: the summary's knee and verdict are the claim.)
  expect(res.steps[0]!.achieved_rps).toBeGreaterThan(0);
  expect(res.steps[0]!.achieved_rps).toBeLessThan(1.2 * 60);
  expect(res.steps[0]!.latency_p50_seconds).not.toBeNull();
}

describe('redline demo', () => {
  let promDir = '';
  let prometheus: Proc | undefined;
  let promPort = 0;
  let agentPort = 0;

  beforeAll(async () => {
    promDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-demo-prom-'));
    promPort = await freePort();
    agentPort = await freePort();
    fs.writeFileSync(
      path.join(promDir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: redline\n    static_configs:\n      - targets: ['127.0.0.1:${agentPort}']\n        labels: { env: demo }\n`,
    );
    prometheus = start(PROMETHEUS, [`--config.file=${path.join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn']);
    await waitFor(() => fetch(`http://127.0.0.1:${promPort}/-/ready`).then((r) => r.ok), { timeoutMs: 30_000, what: 'Prometheus ready' });
  });

  afterAll(async () => {
    await prometheus?.stop();
    fs.rmSync(promDir, { recursive: true, force: true });
  });

  it('--bottleneck cpu: the service main thread gives out, and Prometheus sees the ramp on the overview dashboard', async () => {
    const started = Date.now() / 1000;
    const res = await demo('cpu', [`--port=${agentPort}`]);
    expectRamp(res);
    expect(res.first_saturated).not.toBeNull();
    expect(res.first_saturated!.role).toBe('sut');
    expect(res.first_saturated!.group).toBe('demo-sut');
    expect(['sut_cpu', 'sut_eventloop_utilization', 'sut_eventloop_lag']).toContain(res.first_saturated!.signal);
    expect(res.knee_step).not.toBeNull();
    // The main thread's loop had no idle time left at the top of the ramp.
    expect(Math.max(...res.steps.map((s) => s.sut_eventloop_utilization ?? 0))).toBeGreaterThanOrEqual(0.9);
    expect(res.verdict).toMatch(/system under test \(demo-sut\) was the limit/);

    const ended = Date.now() / 1000;
    const dash = JSON.parse(fs.readFileSync(path.join(ROOT, 'grafana', 'dashboards', 'Load testing', 'redline-loadtest.json'), 'utf8')) as unknown;
    const queries = dashboardQueries(dash);
    const panel = (title: string, refId: string): string => {
      const q = queries.find((x) => x.panel.startsWith(title) && x.refId === refId);
      expect(q, `panel ${title} / ${refId} in the overview dashboard`).toBeDefined();
      return substitute(q!.expr, { env: 'demo' }, '5s');
    };
    const range = async (expr: string): Promise<number[][]> => {
      const u = new URL(`http://127.0.0.1:${promPort}/api/v1/query_range`);
      u.search = new URLSearchParams({ query: expr, start: String(started), end: String(ended + 2), step: '1' }).toString();
      const body = (await (await fetch(u)).json()) as { status: string; data: { result: Array<{ values: Array<[number, string]> }> } };
      expect(body.status, expr).toBe('success');
      return body.data.result.map((r) => r.values.map((v) => Number(v[1])));
    };
    // Load: the injector processes step from 1 to 4. The range may start before the first
    // injector is counted or end after the last one stopped (0 there, on a busy machine): the
    // ramp is what lies between, from 1 to 4.
    const load = (await range(panel('Load: injector processes', 'A'))).flat();
    const ramp = load.filter((v) => v > 0);
    expect(Math.min(...ramp)).toBe(1);
    expect(Math.max(...ramp)).toBe(4);
    // Throughput: offered reaches 4 x 60 requests/s.
    const achieved = (await range(panel('Throughput: offered vs achieved', 'A'))).flat().filter(Number.isFinite);
    expect(achieved.length).toBeGreaterThan(5);
    // Prometheus' rate over the run agrees with what the demo measured (the service's
    // capacity depends on the machine, so no fixed figure).
    const demoPeak = Math.max(...res.steps.map((s) => s.achieved_rps));
    expect(Math.max(...achieved)).toBeGreaterThan(0.6 * demoPeak);
    expect(Math.max(...achieved)).toBeLessThan(1.6 * demoPeak);
    const offered = (await range(panel('Throughput: offered vs achieved', 'B'))).flat();
    expect(Math.max(...offered)).toBe(240);
    // Latency quantiles from the injectors' histogram, and the SUT's busiest thread.
    const p99 = (await range(panel('Latency p50 / p95 / p99', 'C'))).flat().filter(Number.isFinite);
    expect(p99.length).toBeGreaterThan(0);
    expect(Math.max(...p99)).toBeGreaterThan(0.01);
    // The busiest SUT thread as Prometheus saw it agrees with the demo's own reading (both come
    // from the agent; how busy the thread got depends on the machine).
    const busiest = (await range(panel('Busiest thread of each SUT group', 'A'))).flat();
    const demoBusiest = Math.max(...res.steps.map((s) => s.sut_busiest_thread_cpu ?? 0));
    expect(demoBusiest).toBeGreaterThan(0);
    expect(Math.max(...busiest)).toBeGreaterThan(0.5 * demoBusiest);
    expect(Math.max(...busiest)).toBeLessThanOrEqual(1.05);
  });

  it('--bottleneck fds: file descriptors of the service run out first', async () => {
    const res = await demo('fds');
    expectRamp(res);
    expect(res.first_saturated).toMatchObject({ signal: 'sut_fds', group: 'demo-sut', role: 'sut' });
    expect(res.steps[0]!.sut_fd_ratio!).toBeLessThan(0.8);
    expect(Math.max(...res.steps.map((s) => s.sut_fd_ratio ?? 0))).toBeGreaterThanOrEqual(0.8);
    // The service's CPU stays far from saturation.
    expect(Math.max(...res.steps.map((s) => s.sut_busiest_thread_cpu ?? 0))).toBeLessThan(0.6);
  });

  it('--bottleneck backlog: waves of users overflow the accept queue first', async () => {
    const res = await demo('backlog');
    expectRamp(res);
    expect(res.first_saturated).toMatchObject({ signal: 'sut_accept_queue', group: 'demo-sut', role: 'sut' });
    expect(res.steps.reduce((a, s) => a + s.listen_overflows, 0)).toBeGreaterThan(0);
    // A wave of 20 users fits the backlog (38): the queue overflows only later in the ramp.
    expect(res.first_saturated!.step).toBeGreaterThanOrEqual(2);
    expect(res.steps.some((s) => (s.latency_p99_seconds ?? 0) >= 0.9)).toBe(true);
  });

  it('--bottleneck injector: the summary says the injector, not the service, was the limit', async () => {
    const res = await demo('injector');
    expect(res.steps.map((s) => s.injector_processes)).toEqual([1, 2, 3, 4]);
    expect(res.first_saturated).not.toBeNull();
    expect(res.first_saturated!.role).toBe('injector');
    expect(res.first_saturated!.group).toBe('demo-injector');
    expect(['injector_cpu', 'injector_eventloop_lag']).toContain(res.first_saturated!.signal);
    // Asked for ~1.3 cores, one injector process uses what one thread can get: at most a core,
    // less on a machine busy with other work.
    expect(res.steps[0]!.injector_busiest_process_cpu!).toBeGreaterThan(0);
    expect(res.steps[0]!.injector_busiest_process_cpu!).toBeLessThanOrEqual(1.05);
    expect(res.verdict).toMatch(/INJECTOR \(demo-injector\) was the limit, not the system under test/);
  });

  it('refuses bad flags and a taken port with a clear message, starting nothing', async () => {
    const bad = await runDemo(['--bottleneck=disk']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--bottleneck: expected one of cpu, fds, backlog, injector/);
    const zero = await runDemo(['--steps=0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/--steps/);
    const blocker = net.createServer();
    const port = await new Promise<number>((r) => blocker.listen(0, '127.0.0.1', () => r((blocker.address() as net.AddressInfo).port)));
    try {
      const taken = await runDemo([`--port=${port}`, '--steps=1', '--step-seconds=2']);
      expect(taken.code).toBe(2);
      expect(taken.stderr).toContain(`127.0.0.1:${port} is already in use`);
    } finally {
      blocker.close();
    }
    const help = await runDemo(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--bottleneck=cpu\|fds\|backlog\|injector/);
  });

  it('stops every process it started on SIGINT', async () => {
    const child = start(process.execPath, [BIN, 'demo', '--steps=3', '--step-seconds=4'], { cwd: ROOT });
    try {
      // Wait for the first step line: agent, service and one injector are running.
      const out = await child.until(() => /^\s+1\s+1\s/m.test(child.stdout()), { timeoutMs: 30_000, what: 'the first step line' });
      const service = /service http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      expect(service, out).not.toBeNull();
      const kids = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      expect(kids.length).toBeGreaterThanOrEqual(3);
      child.signal('SIGINT');
      expect((await child.exited).code).toBe(130);
      for (const pid of kids) expect(fs.existsSync(`/proc/${pid}`) && !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ')).toBe(false);
    } finally {
      await child.stop();
    }
  });
});
