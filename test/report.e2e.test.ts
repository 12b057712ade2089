/**
 * `redline report` end to end: a ramp against a service of the test's own (a worker pool it
 * declares over statsd), with real injector processes added one per step, a real agent and a real
 * Prometheus scraping it. The report is read from the agent and from Prometheus; its JSON, exit
 * codes and HTML (in real Chromium) are checked. A second ramp, recorded just before by a second
 * agent against a changed service (twice the workers, but each request now also queries a
 * database pool), is compared with the first through `--baseline`.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { startAgent, BIN, ROOT, type AgentProcess } from './helpers/agent.js';
import { start, run, stopAll, type Proc } from './helpers/process.js';
import { freePort } from './helpers/net.js';
import { waitFor } from './helpers/wait.js';
import { valueWith } from './helpers/exposition.js';
import { CHROMIUM } from '../scripts/chromium.js';

const PROMETHEUS = process.env['PROMETHEUS'] ?? '/usr/bin/prometheus';
const SERVICE = path.join(ROOT, 'test', 'fixtures', 'pool-service.mjs');
const INJECTOR = path.join(ROOT, 'test', 'fixtures', 'open-loop-injector.mjs');
const RUN_ID = `r${process.pid}x${Date.now() % 100000}`;
/** Each run's processes carry their own token (neither a prefix of the other): each agent's groups match only its run's. */
const RUN_A = `${RUN_ID}-a`;
const RUN_B = `${RUN_ID}-b`;
/**
 * Each injector offers 60 requests/s. Run A's service serves at most 20 slots / 0.2 s = 100/s: its
 * worker pool gives out at step 2. Run B's has 40 workers (200/s), but each request first holds
 * one of 58 database connections for 0.4 s (145/s): its db pool gives out at step 3 (at step 2 it
 * is 48/58 in use, below the 0.9 threshold). Timers, not CPU: the capacities hold on a busy machine.
 */
const SERVICE_B = ['--slots=40', '--hold-ms=200', '--db-slots=58', '--db-hold-ms=400'];
const RATE = 60;
const STEPS = 3;
/** Seconds per step: the verdict needs 10 s of samples, the step measurement a few more. */
const STEP_SECONDS = 16;

interface ReportJson {
  verdict: { limit: string; group: string | null; resource: string | null; onset: string | null };
  knee: { step: number | null; load: number | null; throughput: number | null };
  steps: Array<{ step: number; load: number; start: number; end: number; offeredRps: number | null; achievedRps: number; latencyP95Seconds: number | null; errorRatio: number }>;
  baseline?: unknown;
  deltas?: { kneeLoad: number | null; sameResource: boolean };
}

let dir: string;
let agent: AgentProcess;
let agentB: AgentProcess;
let promUrl: string;
let runStart: number;
let runEnd: number;
let fromAgent: ReportJson;
let fromAgentB: ReportJson;
/** The first SUT resource to saturate in each run, as the agent's analysis holds it. */
let sutA: Crossing;
let sutB: Crossing;

interface Crossing {
  role: string;
  group: string;
  resource: string;
  onset: number;
}

/** The agent's first SUT crossing (the report's JSON names the first of either side). */
async function sutCrossing(url: string): Promise<Crossing> {
  const s = (await (await fetch(`${url}/api/v1/analysis?points=10`)).json()) as { verdict: { sut: Crossing | null } };
  expect(s.verdict.sut).not.toBeNull();
  return s.verdict.sut!;
}

/**
 * On a busy machine the injector's threads may be starved of CPU too: then the verdict says
 * both (its first resource of the injector is a starved thread's or loop's), rightly; what the
 * test claims is the SUT's side, which the service's timers decide.
 */
function expectSutFirst(r: ReportJson, sut: Crossing, resource: string): void {
  expect(sut).toMatchObject({ group: 'svc', resource });
  expect(r.verdict.limit).toMatch(/^(sut|both)$/);
  if (r.verdict.limit === 'sut' || r.verdict.group === 'svc') expect(r.verdict).toMatchObject({ group: 'svc', resource });
  else expect(['cpu_thread', 'cpu_group', 'eventloop_utilization', 'eventloop_delay']).toContain(r.verdict.resource);
}

const report = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  run(process.execPath, [BIN, 'report', ...args], { cwd: ROOT, timeoutMs: 60_000 });

const groups = (runId: string): string[] => [`--sut=svc=pool-service[.]mjs .*--run-id=${runId}`, `--injector=inj=open-loop-injector[.]mjs .*--run-id=${runId}`];

/** One ramp: the service, then one more injector process per step, each step STEP_SECONDS from when the agent counts it. */
async function ramp(a: AgentProcess, runId: string, serviceArgs: string[]): Promise<Proc[]> {
  const statsd = `127.0.0.1:${a.udpPort}`;
  const svc = start(process.execPath, [SERVICE, ...serviceArgs, `--statsd=${statsd}`, '--service=svc', '--max-seconds=360', `--run-id=${runId}`]);
  await svc.until((o) => /"port":\d+/.test(o), { what: 'the service port' });
  const target = `http://127.0.0.1:${/"port":(\d+)/.exec(svc.stdout())![1]}/`;
  const procs = [svc];
  await waitFor(async () => valueWith(await a.metrics(), 'redline_process_count', { group: 'svc', role: 'sut' }) === 1, { timeoutMs: 30_000, what: 'the service counted in its group' });
  for (let step = 1; step <= STEPS; step++) {
    procs.push(start(process.execPath, [INJECTOR, `--target=${target}`, `--rate=${RATE}`, `--statsd=${statsd}`, '--max-seconds=360', `--run-id=${runId}`]));
    // A step lasts STEP_SECONDS from the moment the agent counts its new injector process.
    await waitFor(async () => valueWith(await a.metrics(), 'redline_injector_processes', { group: 'inj' }) === step, { timeoutMs: 30_000, what: `injector ${step} counted` });
    const since = Date.now();
    await waitFor(() => Date.now() - since >= STEP_SECONDS * 1000, { timeoutMs: STEP_SECONDS * 1000 + 5000, intervalMs: 250, what: `step ${step}` });
  }
  return procs;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-report-'));
  [agent, agentB] = await Promise.all([startAgent(['--host.enabled=true', '--preset=loadtest', ...groups(RUN_A)]), startAgent(['--host.enabled=true', '--preset=loadtest', ...groups(RUN_B)])]);
  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  fs.writeFileSync(
    path.join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s' },
      scrape_configs: [{ job_name: 'redline', honor_labels: true, scrape_interval: '1s', scrape_timeout: '1s', static_configs: [{ targets: [`127.0.0.1:${agent.httpPort}`], labels: { env: 'e2e', run: RUN_ID } }] }],
    }),
  );
  start(PROMETHEUS, [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn']);
  await waitFor(() => fetch(`${promUrl}/-/ready`).then((r) => r.ok), { timeoutMs: 30_000, intervalMs: 200, what: 'Prometheus ready' });

  // Run B first, then run A, one after the other: twice the injector processes at once would
  // starve each other's threads on a small machine (their CPU demand is what the verdict reads).
  const runB = await ramp(agentB, RUN_B, SERVICE_B);
  const rb = await report(['--agent', agentB.url, '--json']);
  expect(rb.stderr).toBe('');
  fromAgentB = JSON.parse(rb.stdout) as ReportJson;
  sutB = await sutCrossing(agentB.url);
  // Run B is recorded: its service and injectors stop (its agent keeps the history).
  await Promise.all(runB.map((p) => p.stop()));

  runStart = Math.floor(Date.now() / 1000);
  await ramp(agent, RUN_A, []);
  runEnd = Math.ceil(Date.now() / 1000);
  const r = await report(['--agent', agent.url, '--json']);
  expect(r.stderr).toBe('');
  fromAgent = JSON.parse(r.stdout) as ReportJson;
  sutA = await sutCrossing(agent.url);
}, 300_000);

afterAll(async () => {
  await stopAll();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('redline report on a ramp', () => {
  it('names the SUT, its pool and the knee step from the agent', () => {
    expectSutFirst(fromAgent, sutA, 'pool:workers');
    expect(fromAgent.steps.map((s) => s.load)).toEqual([1, 2, 3]);
    const onset = sutA.onset;
    const step2 = fromAgent.steps[1]!;
    // The pool fills when the second injector joins. The step starts when the host collector
    // counts that injector, which may be a tick or two after its first requests (ISO onsets are
    // also cut to the millisecond): allow two ticks.
    expect(onset).toBeGreaterThanOrEqual(step2.start - 2);
    expect(onset).toBeLessThanOrEqual(step2.end);
    expect(fromAgent.knee).toMatchObject({ step: 2, load: 2 });
    // 100 requests/s is the service's capacity: step 1 follows its 60/s, step 2 is held at the capacity.
    expect(fromAgent.steps[0]!.offeredRps).toBe(RATE);
    expect(fromAgent.steps[0]!.achievedRps).toBeGreaterThan(0.9 * RATE);
    expect(fromAgent.steps[0]!.achievedRps).toBeLessThanOrEqual(RATE);
    expect(fromAgent.knee.throughput!).toBeGreaterThan(80);
    expect(fromAgent.knee.throughput!).toBeLessThanOrEqual(105);
    expect(fromAgent.steps[1]!.latencyP95Seconds!).toBeGreaterThan(2 * fromAgent.steps[0]!.latencyP95Seconds!);
  });

  it('prints the step table and the verdict in the terminal', async () => {
    const r = await report(['--agent', agent.url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(fromAgent.verdict.limit === 'sut' ? 'verdict: SUT saturated: svc, pool workers' : 'verdict: SUT and INJECTOR saturated: svc, pool workers');
    expect(r.stdout).toContain('Throughput stopped following the load at step 2 (2 injector processes');
    if (fromAgent.verdict.limit === 'sut') expect(r.stdout).toContain('The injector stayed healthy.');
    expect(r.stdout.split('\n').filter((l) => /^\s+[123]\s+[123]\s/.test(l))).toHaveLength(3);
  });

  it('sets the exit code with --fail-on', async () => {
    expect((await report(['--agent', agent.url, '--fail-on', 'sut'])).code).toBe(1);
    expect((await report(['--agent', agent.url, '--fail-on=sut,injector', '--json'])).code).toBe(1);
    // `both` fails either list.
    expect((await report(['--agent', agent.url, '--fail-on', 'injector'])).code).toBe(fromAgent.verdict.limit === 'both' ? 1 : 0);
    expect((await report(['--agent', agent.url])).code).toBe(0);
    const bad = await report(['--agent', agent.url, '--fail-on', 'db']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--fail-on: expected sut and/or injector, got "db"');
    // A port nothing listens on.
    const closed = await freePort();
    const gone = await report(['--agent', `http://127.0.0.1:${closed}`, '--json']);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toContain(`cannot reach http://127.0.0.1:${closed}/api/v1/analysis?points=1500: ECONNREFUSED`);
  });

  it('compares two recorded runs with --baseline: both knees, what bent first in each, the deltas (terminal, JSON, HTML)', async () => {
    // Run B, recorded by its own agent against the changed service: the db pool bends first, a step later.
    expectSutFirst(fromAgentB, sutB, 'pool:db');
    expect(fromAgentB.steps.map((s) => s.load)).toEqual([1, 2, 3]);
    expect(fromAgentB.knee).toMatchObject({ step: 3, load: 3 });
    // 145 requests/s is B's capacity; step 2's 120/s is served.
    expect(fromAgentB.steps[1]!.achievedRps).toBeGreaterThan(0.9 * 2 * RATE);
    expect(fromAgentB.knee.throughput!).toBeGreaterThan(fromAgent.knee.throughput!);
    expect(fromAgentB.knee.throughput!).toBeLessThanOrEqual(150);
    // Its pool held with one injector; it fills with the third (or, on a machine so busy that the
    // service's timers run late, near the end of the second: the knee stays at step 3).
    expect(sutB.onset).toBeGreaterThan(fromAgentB.steps[1]!.start);

    // Each run's `redline report --json`, saved as a user would; A is the baseline.
    const first = path.join(dir, 'first.json');
    const second = path.join(dir, 'second.json');
    fs.writeFileSync(first, JSON.stringify(fromAgent, null, 2));
    fs.writeFileSync(second, JSON.stringify(fromAgentB, null, 2));

    const j = await report(['--agent', agentB.url, '--json', '--baseline', first]);
    expect(j.code, j.stderr).toBe(0);
    const cmp = JSON.parse(j.stdout) as ReportJson & { baseline: Pick<ReportJson, 'verdict' | 'knee'>; deltas: { kneeLoad: number; kneeThroughput: number; sameLimit: boolean; sameResource: boolean } };
    expect(cmp.verdict).toEqual(fromAgentB.verdict);
    expect(cmp.knee.load).toBe(3);
    expect(cmp.baseline).toEqual({ verdict: fromAgent.verdict, knee: fromAgent.knee });
    const sameLimit = fromAgent.verdict.limit === fromAgentB.verdict.limit;
    const sameResource = sameLimit && fromAgent.verdict.group === fromAgentB.verdict.group && fromAgent.verdict.resource === fromAgentB.verdict.resource;
    expect(cmp.deltas).toMatchObject({ kneeLoad: 1, sameLimit, sameResource });
    // What bent first in each, as the comparison prints it (pool:db against pool:workers, but for
    // an injector starved first on a busy machine).
    const firstOf = (r: ReportJson): string => `${r.verdict.limit}: ${r.verdict.group} ${r.verdict.resource}`;
    expect(cmp.deltas.kneeThroughput).toBeCloseTo(cmp.knee.throughput! - fromAgent.knee.throughput!, 3);

    const t = await report(['--agent', agentB.url, '--baseline', first]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/knee step\s+3\s+2\s+\+1\n/);
    expect(t.stdout).toMatch(/knee load\s+3\s+2\s+\+1 \(\+50%\)/);
    const kt = /throughput at the knee \(req\/s\)\s+([\d.]+)\s+([\d.]+)\s+\+([\d.]+) \(\+\d+%\)/.exec(t.stdout);
    expect(kt, t.stdout).not.toBeNull();
    // Each figure is printed to 0.1: a printed difference may be off the printed delta by 0.1.
    expect(Math.abs(Number(kt![2]) - fromAgent.knee.throughput!)).toBeLessThanOrEqual(0.05 + 1e-9);
    expect(Math.abs(Number(kt![1]) - Number(kt![2]) - Number(kt![3]))).toBeLessThanOrEqual(0.1 + 1e-9);
    expect(t.stdout).toMatch(new RegExp(`first saturated\\s+${firstOf(fromAgentB)}\\s+${firstOf(fromAgent)}\\s+${sameResource ? 'same' : 'different'}`));
    if (fromAgent.verdict.limit === 'sut' && fromAgentB.verdict.limit === 'sut') expect(firstOf(fromAgentB) + ' / ' + firstOf(fromAgent)).toBe('sut: svc pool:db / sut: svc pool:workers');

    // The other way round, from the two saved files' view: B as the baseline of A.
    const back = JSON.parse((await report(['--agent', agent.url, '--json', '--baseline', second])).stdout) as typeof cmp;
    expect(back.deltas).toMatchObject({ kneeLoad: -1, sameResource });

    const out = path.join(dir, 'compare.html');
    const h = await report(['--agent', agentB.url, '--baseline', first, '--out', out]);
    expect(h.code).toBe(0);
    const html = fs.readFileSync(out, 'utf8');
    const table = /<table id="baseline">[\s\S]*?<\/table>/.exec(html)?.[0] ?? '';
    const cells = [...table.matchAll(/<tr><td>([^<]*)<\/td><td>([^<]*)<\/td><td>([^<]*)<\/td><td>([^<]*)<\/td><\/tr>/g)].map((m) => m.slice(1));
    expect(cells).toContainEqual(['knee load', '3', '2', '+1 (+50%)']);
    expect(cells).toContainEqual(['first saturated', firstOf(fromAgentB), firstOf(fromAgent), sameResource ? 'same' : 'different']);
    expect(html).toContain('saturated: svc, pool db');
  });

  it('gives the same answer from a Prometheus that scraped the run', async () => {
    // Prometheus has the last scrapes of the run once its head block answers for runEnd.
    await waitFor(
      async () => {
        const u = `${promUrl}/api/v1/query?query=${encodeURIComponent(`count(redline_saturation_ratio{run="${RUN_ID}"})`)}&time=${runEnd}`;
        const j = (await (await fetch(u)).json()) as { data: { result: unknown[] } };
        return j.data.result.length > 0;
      },
      { timeoutMs: 30_000, what: 'Prometheus holding the run' },
    );
    const r = await report(['--prometheus', promUrl, '--start', String(runStart - 5), '--end', String(runEnd), '--env', 'e2e', '--run', RUN_ID, '--json']);
    expect(r.stderr).toBe('');
    const j = JSON.parse(r.stdout) as ReportJson;
    // The verdict replayed over Prometheus' history: the SUT's pool, as the agent said.
    expect(j.verdict.limit).toMatch(/^(sut|both)$/);
    expect(j.steps.map((s) => s.load)).toEqual([1, 2, 3]);
    expect(j.knee).toMatchObject({ step: 2, load: 2 });
    if (j.verdict.group === 'svc') {
      expect(j.verdict.resource).toBe('pool:workers');
      expect(Math.abs(Date.parse(j.verdict.onset!) / 1000 - sutA.onset)).toBeLessThanOrEqual(3);
    }
    if (fromAgent.verdict.limit === 'sut') expect(j.verdict).toMatchObject({ limit: 'sut', group: 'svc', resource: 'pool:workers' });
    const none = await report(['--prometheus', promUrl, '--start', String(runStart - 5), '--end', String(runEnd), '--run', 'no-such-run', '--json']);
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('has no Redline series');
  });

  it('writes one self-contained HTML file that real Chromium draws offline', async () => {
    const out = path.join(dir, 'report.html');
    const r = await report(['--agent', agent.url, '--out', out]);
    expect(r.code).toBe(0);
    const html = fs.readFileSync(out, 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!127\.0\.0\.1)[a-z0-9.-]+\/[^"' ]*\.(js|css)/i);
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch(CHROMIUM);
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('request', (req) => {
        if (!req.url().startsWith('file:')) requests.push(req.url());
      });
      await page.goto(`file://${out}`);
      await page.waitForSelector('body[data-charts]', { timeout: 30_000 });
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      expect(await page.textContent('#verdict')).toContain('saturated: svc, pool workers');
      // Counts the inked pixels of each chart's canvas (a string: the test's TypeScript has no DOM types).
      const charts = (await page.evaluate(`[...document.querySelectorAll('section.chart')].map((s) => {
        const c = s.querySelector('canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let inked = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) inked++;
        return { id: s.id, inked, width: c.width };
      })`)) as Array<{ id: string; inked: number; width: number }>;
      const ids = charts.map((c) => c.id);
      expect(ids).toEqual(expect.arrayContaining(['chart-load-throughput', 'chart-load-latency', 'chart-ratio-sut-svc', 'chart-ratio-injector-inj', 'chart-knee']));
      for (const c of charts) expect(c.inked, `${c.id} drew nothing`).toBeGreaterThan(2000);
    } finally {
      await browser.close();
    }
  });
});
