/**
 * `redline demo` end to end, the way a user runs it: `node bin/redline.js demo --json` as a
 * child process (agent, probed service and injector processes are its children), one short
 * ramp per bottleneck, asserting that the agent's analysis — which the demo prints — names the
 * right limit. The cpu run is also scraped by a real Prometheus, and the overview dashboard's key
 * queries must return the ramp. `--keep` and Ctrl-C are driven by signals sent to its PID.
 *
 * Green on a busy machine: every wait is bounded and waits for a condition; no assertion depends
 * on how fast the service or the injectors run (how much a step achieves depends on the share of
 * a core the service gets): the claims are the ramp's shape and which resource the verdict names.
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
import type { DemoJson } from '../demo/run.js';
import type { Step } from '../analysis/steps.js';

const PROMETHEUS = process.env['PROMETHEUS'] ?? '/usr/bin/prometheus';
const STEPS = 4;
/** Long enough for the agent to count each step (runs of at least 3 s) and for the verdict to settle. */
const STEP_SECONDS = 6;
const RATE = 20;

afterAll(stopAll);

async function runDemo(args: string[], timeoutMs = 150_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await run(process.execPath, [BIN, 'demo', ...args], { cwd: ROOT, timeoutMs });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

async function demo(bottleneck: string, extra: string[] = []): Promise<DemoJson> {
  const r = await runDemo(['--json', `--bottleneck=${bottleneck}`, `--steps=${STEPS}`, `--step-seconds=${STEP_SECONDS}`, `--rate=${RATE}`, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as DemoJson;
}

/** A SUT resource's reading of a step (the verdict's own ratio), or null. */
function sut(s: Step, resource: string, of: 'mean' | 'peak' = 'peak'): number | null {
  const r = s.saturation.find((x) => x.role === 'sut' && x.group === 'demo-sut' && x.resource === resource);
  return r ? r[of] : null;
}

/** The step an onset (ISO) falls in (the last step started at or before it, less the host collector's tick). */
function onsetStep(res: DemoJson, onsetIso: string): number {
  const onset = Date.parse(onsetIso) / 1000;
  return res.steps.filter((s) => s.start <= onset + 2).pop()?.step ?? 0;
}

/**
 * Resources that saturate when the host has no CPU to give (other work on a busy machine): a
 * starved thread's demand, its event loop's delay, an injector's missed schedule.
 */
const STARVED = ['cpu_thread', 'cpu_group', 'eventloop_utilization', 'eventloop_delay', 'schedule'];

/**
 * The resource the bottleneck aims at saturated in the service. It is the first to saturate,
 * unless the host starved the processes of CPU before it: every resource that saturated earlier is
 * one of those (so the claim holds on a busy machine, where the verdict rightly says so first).
 */
function expectSaturatedFirst(res: DemoJson, resource: string): DemoJson['demo']['saturated'][number] {
  const all = res.demo.saturated;
  const i = all.findIndex((c) => c.role === 'sut' && c.group === 'demo-sut' && c.resource === resource);
  expect(i, JSON.stringify(all)).toBeGreaterThanOrEqual(0);
  for (const c of all.slice(0, i)) expect(STARVED, `${c.role} ${c.group} ${c.resource} saturated before ${resource}`).toContain(c.resource);
  expect(res.verdict.limit).toMatch(/^(sut|both)$/);
  if (i === 0) expect(res.verdict).toMatchObject({ group: 'demo-sut', resource });
  return all[i]!;
}

function expectRamp(res: DemoJson): void {
  // The agent's analysis found one step per injector process the demo added.
  expect(res.steps.map((s) => s.step)).toEqual([1, 2, 3, 4]);
  expect(res.steps.map((s) => s.load)).toEqual([1, 2, 3, 4]);
  expect(res.steps.every((s) => s.loadKind === 'injector_processes')).toBe(true);
  expect(res.steps.map((s) => s.offeredRps)).toEqual([60, 120, 180, 240]);
  // Achieved is what the service got done: never more than was offered (requests of an earlier
  // step completing late are not counted twice), and step 1 served traffic.
  for (const s of res.steps) expect(s.achievedRps).toBeLessThanOrEqual(s.offeredRps!);
  expect(res.steps[0]!.achievedRps).toBeGreaterThan(0);
  expect(res.steps[0]!.latencyP50Seconds).not.toBeNull();
  // Host CPU stands next to the SUT's.
  for (const s of res.steps) {
    expect(s.hostCpu).toBeGreaterThan(0);
    expect(s.hostCpu).toBeLessThanOrEqual(1);
    expect(sut(s, 'cpu_thread', 'mean')).not.toBeNull();
  }
  expect(res.demo.live_url).toMatch(/^http:\/\/localhost:\d+\/$/);
}

describe('redline demo', () => {
  let promDir = '';
  let prometheus: Proc | undefined;
  let promPort = 0;
  /** The agent port Prometheus scrapes: a file_sd target, rewritten when a port has to be chosen again. */
  const target = async (): Promise<number> => {
    const port = await freePort();
    fs.writeFileSync(path.join(promDir, 'targets.json'), JSON.stringify([{ targets: [`127.0.0.1:${port}`], labels: { env: 'demo' } }]));
    return port;
  };

  beforeAll(async () => {
    promDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-demo-prom-'));
    promPort = await freePort();
    await target();
    fs.writeFileSync(
      path.join(promDir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: redline\n    file_sd_configs:\n      - files: ['${path.join(promDir, 'targets.json')}']\n        refresh_interval: 1s\n`,
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
    // A free port may be taken by another process before the demo binds it: the demo refuses
    // it (exit 2, naming it) and the test picks another, a bounded number of times.
    let out: Awaited<ReturnType<typeof runDemo>> | null = null;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = attempt === 0 ? Number(/:(\d+)/.exec(fs.readFileSync(path.join(promDir, 'targets.json'), 'utf8'))![1]) : await target();
      out = await runDemo(['--json', '--bottleneck=cpu', `--steps=${STEPS}`, `--step-seconds=${STEP_SECONDS}`, `--rate=${RATE}`, `--port=${port}`]);
      if (!(out.code === 2 && out.stderr.includes('is already in use'))) break;
    }
    expect(out!.code, out!.stderr).toBe(0);
    const res = JSON.parse(out!.stdout) as DemoJson;
    expectRamp(res);
    // The first resource of the service to saturate is its main thread's (CPU or its event loop).
    expect(res.verdict.limit).toMatch(/^(sut|both)$/);
    const firstSut = res.demo.saturated.find((c) => c.role === 'sut');
    expect(firstSut).toMatchObject({ group: 'demo-sut' });
    expect(['cpu_thread', 'eventloop_utilization', 'eventloop_delay']).toContain(firstSut!.resource);
    expect(res.knee.step).not.toBeNull();
    // The main thread had no idle time left at the top of the ramp.
    expect(Math.max(...res.steps.map((s) => sut(s, 'eventloop_utilization') ?? 0))).toBeGreaterThanOrEqual(0.9);

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
    // injector is counted or end after the last one stopped (0 there): the ramp lies between.
    await waitFor(async () => (await range(panel('Load: injector processes', 'A'))).flat().some((v) => v === 4), { timeoutMs: 30_000, what: 'Prometheus holding the top of the ramp' });
    const ramp = (await range(panel('Load: injector processes', 'A'))).flat().filter((v) => v > 0);
    expect(Math.min(...ramp)).toBe(1);
    expect(Math.max(...ramp)).toBe(4);
    // Throughput: Prometheus' rate over the run agrees with what the agent's analysis measured.
    const achieved = (await range(panel('Throughput: offered vs achieved', 'A'))).flat().filter(Number.isFinite);
    expect(achieved.length).toBeGreaterThan(5);
    const demoPeak = Math.max(...res.steps.map((s) => s.achievedRps));
    expect(Math.max(...achieved)).toBeGreaterThan(0.6 * demoPeak);
    expect(Math.max(...achieved)).toBeLessThan(1.6 * Math.max(...res.steps.map((s) => s.offeredRps!)));
    const offered = (await range(panel('Throughput: offered vs achieved', 'B'))).flat();
    expect(Math.max(...offered)).toBe(240);
    // Latency quantiles from the injectors' histogram, and the SUT's busiest thread.
    const p99 = (await range(panel('Latency p50 / p95 / p99', 'C'))).flat().filter(Number.isFinite);
    expect(p99.length).toBeGreaterThan(0);
    expect(Math.max(...p99)).toBeGreaterThan(0.01);
    const busiest = (await range(panel('Busiest thread of each SUT group', 'A'))).flat().filter(Number.isFinite);
    expect(Math.max(...busiest)).toBeGreaterThan(0);
    expect(Math.max(...busiest)).toBeLessThanOrEqual(1.05);
    // The saturation ratio the demo printed is the series Prometheus scraped.
    const ratio = (await range(`max(redline_saturation_ratio{env="demo",group="demo-sut",resource="eventloop_utilization"})`)).flat();
    expect(Math.max(...ratio)).toBeGreaterThanOrEqual(0.9);
  });

  it('--bottleneck fds: file descriptors of the service run out first', async () => {
    const res = await demo('fds');
    expectRamp(res);
    const fds = expectSaturatedFirst(res, 'fds');
    expect(sut(res.steps[0]!, 'fds')!).toBeLessThan(0.8);
    expect(Math.max(...res.steps.map((s) => sut(s, 'fds') ?? 0))).toBeGreaterThanOrEqual(0.8);
    expect(onsetStep(res, fds.onset)).toBeGreaterThanOrEqual(2);
  });

  it('--bottleneck backlog: waves of users overflow the accept queue first, and acceptq reads the queue the verdict reads', async () => {
    const res = await demo('backlog');
    expectRamp(res);
    const queue = expectSaturatedFirst(res, 'accept_queue');
    // A wave of 20 users fits the backlog (38): the queue overflows only later in the ramp.
    const at = onsetStep(res, queue.onset);
    expect(at).toBeGreaterThanOrEqual(2);
    // The step the verdict names shows the queue full (the accept_queue ratio at 1), not 0/62.
    expect(sut(res.steps[at - 1]!, 'accept_queue')).toBe(1);
    expect(res.steps.some((s) => (s.latencyP99Seconds ?? 0) >= 0.9)).toBe(true);
  });

  it('--bottleneck injector: the report says the injector, not the service, was the limit', async () => {
    const res = await demo('injector');
    expect(res.steps.map((s) => s.load)).toEqual([1, 2, 3, 4]);
    expect(res.verdict.limit).toMatch(/^(injector|both)$/);
    expect(res.verdict.group).toBe('demo-injector');
    expect(res.demo.saturated[0]).toMatchObject({ role: 'injector', group: 'demo-injector' });
    expect(['cpu_thread', 'eventloop_utilization', 'eventloop_delay', 'schedule']).toContain(res.verdict.resource);
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
    expect(help.stdout).toMatch(/--keep/);
  });

  /** The demo's children now (by /proc), and whether a pid is gone (or a zombie awaiting its reaper). */
  const childrenOf = (pid: number): number[] =>
    fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  const gone = (pid: number): boolean => !fs.existsSync(`/proc/${pid}`) || /\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));

  it('stops every process it started on SIGINT during the ramp', async () => {
    const child = start(process.execPath, [BIN, 'demo', '--steps=3', '--step-seconds=4'], { cwd: ROOT });
    try {
      const out = await child.until((o) => /service +http:\/\/127\.0\.0\.1:\d+/.test(o), { timeoutMs: 30_000, what: 'the service line' });
      expect(out).toMatch(/live view +http:\/\/localhost:\d+\//);
      // Agent, service and the first injector running.
      const kids = await waitFor(() => (childrenOf(child.pid).length >= 3 ? childrenOf(child.pid) : null), { timeoutMs: 30_000, what: 'three children' });
      child.signal('SIGINT');
      expect((await child.exited).code).toBe(130);
      for (const pid of kids) expect(gone(pid), `pid ${pid}`).toBe(true);
    } finally {
      await child.stop();
    }
  });

  it('--keep: prints the live view, keeps the agent up after the ramp, and SIGINT or SIGTERM stop it cleanly', async () => {
    const keep = async (sig: NodeJS.Signals): Promise<void> => {
      const child = start(process.execPath, [BIN, 'demo', '--keep', '--steps=1', '--step-seconds=3', '--rate=5'], { cwd: ROOT });
      try {
        const out = await child.until((o) => o.includes('Ctrl-C stops it.'), { timeoutMs: 90_000, what: 'the ramp over, the agent kept' });
        const live = /live view +http:\/\/localhost:(\d+)\//.exec(out);
        expect(live, out).not.toBeNull();
        const base = `http://127.0.0.1:${live![1]}`;
        // The report's table and verdict were printed; the agent still serves its history.
        expect(out).toMatch(/step +load +offered\/s +achieved\/s/);
        expect(out).toContain('verdict: ');
        const page = await fetch(`${base}/`);
        expect(page.status).toBe(200);
        expect(page.headers.get('content-type')).toMatch(/text\/html/);
        const analysis = (await (await fetch(`${base}/api/v1/analysis`)).json()) as { steps: Step[] };
        expect(analysis.steps.map((s) => s.load)).toEqual([1]);
        // Only the agent is left: the injector and the service have been stopped.
        const kids = await waitFor(() => (childrenOf(child.pid).length === 1 ? childrenOf(child.pid) : null), { timeoutMs: 15_000, what: 'only the agent left' });
        expect(child.running()).toBe(true);
        child.signal(sig);
        const exit = await Promise.race([child.exited, new Promise<null>((r) => setTimeout(() => r(null), 20_000))]);
        expect(exit, `exit on ${sig}`).toEqual({ code: 0, signal: null });
        expect(gone(kids[0]!)).toBe(true);
        await expect(fetch(`${base}/metrics`)).rejects.toThrow();
      } finally {
        await child.stop();
      }
    };
    await Promise.all([keep('SIGINT'), keep('SIGTERM')]);
  }, 150_000);
});
