/**
 * The integration recipes in examples/, run against a real agent with their mapping preset:
 * - the Node hot-shots injector, gevent and Locust run for real against the demo service
 *   (Python recipes need Debian's python3-gevent, python3-statsd and python3-locust, which
 *   .ci/run installs);
 * - k6 and Artillery (not installable here) are syntax-checked, and their statsd output,
 *   recorded in each tool's wire format in examples/<tool>/sample.statsd, is replayed into the
 *   agent; the assertions are on the Prometheus names the dashboards read.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startAgent, ROOT, type AgentProcess } from './helpers/agent.js';
import { parseExposition, sum, select, valueOf } from './helpers/exposition.js';
import { run, start, stopAll } from './helpers/process.js';
import { eventually, waitFor } from './helpers/wait.js';

const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const EX = path.join(ROOT, 'examples');
const pyHas = (mods: string): boolean => spawnSync(PYTHON, ['-c', `import ${mods}`], { stdio: 'ignore' }).status === 0;
/** A syntax check that writes no bytecode next to the recipe (py_compile would). */
const pySyntax = (file: string) => spawnSync(PYTHON, ['-c', 'import sys; compile(open(sys.argv[1]).read(), sys.argv[1], "exec")', file], { encoding: 'utf8' });

let target = '';

afterAll(stopAll);

/** Runs a command to completion (bounded), returning its exit code and output. */
async function runCmd(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  // No __pycache__ left in examples/ by the Python recipes.
  const r = await run(cmd, args, { cwd: ROOT, env: { PYTHONDONTWRITEBYTECODE: '1', ...env }, timeoutMs });
  return { code: r.code, out: r.output };
}

beforeAll(async () => {
  const sut = start(process.execPath, [path.join(ROOT, 'dist', 'demo', 'sut.js'), '--port=0', '--login-ms=1'], { cwd: ROOT });
  await sut.until(() => sut.stdout().includes('\n'), { what: 'the demo service port line' });
  target = `http://127.0.0.1:${(JSON.parse(sut.stdout().split('\n')[0]!) as { port: number }).port}`;
});

async function withAgent(preset: string, fn: (agent: AgentProcess) => Promise<void>): Promise<void> {
  const agent = await startAgent([`--preset=${preset}`]);
  try {
    await fn(agent);
  } finally {
    await agent.stop();
  }
}

/** Sends a recorded statsd file line by line and waits until the agent has counted every line. */
async function replay(file: string, agent: AgentProcess): Promise<number> {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const sock = dgram.createSocket('udp4');
  try {
    for (const l of lines) await new Promise<void>((resolve, reject) => sock.send(l, agent.udpPort!, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  } finally {
    sock.close();
  }
  await waitFor(async () => (valueOf(await agent.metrics(), 'redline_statsd_lines_total') ?? 0) >= lines.length, { what: `${lines.length} replayed lines counted` });
  return lines.length;
}

describe('node-hotshots recipe', () => {
  it('runs against the demo service and lands under the dashboard names', async () => {
    await withAgent('loadtest', async (agent) => {
      const t0 = performance.now();
      const r = await runCmd(process.execPath, [path.join(EX, 'node-hotshots', 'injector.mjs'), `--target=${target}`, '--rate=10', '--duration=2', `--statsd=127.0.0.1:${agent.udpPort}`]);
      const runSeconds = (performance.now() - t0) / 1000;
      expect(r.code, r.out).toBe(0);
      const m = parseExposition(
        await eventually(
          () => agent.metrics(),
          (t) => sum(parseExposition(t), 'loadtest_requests_total', { step: 'logout' }) >= 15,
        ),
      );
      // 10 scenarios/s for at least 2 s, every one finished (the injector waits for in-flight
      // ones); an open-loop injector never starts more than its rate over the time it ran.
      const logins = sum(m, 'loadtest_requests_total', { scenario: 'hotshots', step: 'login', status: '200' });
      expect(logins).toBeGreaterThanOrEqual(15);
      expect(logins).toBeLessThanOrEqual(Math.ceil(10 * runSeconds) + 1);
      expect(sum(m, 'loadtest_requests_total', { step: 'logout', status: '200' })).toBe(logins);
      expect(sum(m, 'loadtest_errors_total')).toBe(0);
      expect(sum(m, 'loadtest_request_duration_seconds_count', { step: 'login' })).toBe(logins);
      // The loadtest preset's buckets (30 s top bucket), and latency in seconds: a login cannot
      // take longer than the whole run (milliseconds taken for seconds would read 1000 times more).
      expect(select(m, 'loadtest_request_duration_seconds_bucket', { step: 'login', le: '30' }).length).toBe(1);
      const meanSeconds = sum(m, 'loadtest_request_duration_seconds_sum', { step: 'login' }) / logins;
      expect(meanSeconds).toBeGreaterThan(0);
      expect(meanSeconds).toBeLessThan(runSeconds);
      // Gauges per process, back to 0 when it stopped.
      const pidGauges = select(m, 'loadtest_offered_rate', { scenario: 'hotshots' });
      expect(pidGauges.length).toBe(1);
      expect(pidGauges[0]!.labels['pid']).toMatch(/^\d+$/);
      expect(pidGauges[0]!.value).toBe(0);
      expect(sum(m, 'loadtest_active_users', { scenario: 'hotshots' })).toBe(0);
    });
  });
});

describe('gevent recipe', () => {
  it('compiles', () => {
    const r = pySyntax(path.join(EX, 'gevent', 'loadtest.py'));
    expect(r.status, r.stderr).toBe(0);
  });

  it.skipIf(!pyHas('gevent, statsd'))('runs with gevent and the statsd client, mapped by --preset gevent', async () => {
    await withAgent('gevent', async (agent) => {
      const r = await runCmd(PYTHON, [path.join(EX, 'gevent', 'loadtest.py'), `--target=${target}`, '--users=4', '--think=0.2', '--duration=2', `--statsd=127.0.0.1:${agent.udpPort}`, '--scenario=checkout']);
      expect(r.code, r.out).toBe(0);
      const text = await eventually(
        () => agent.metrics(),
        (t) => sum(parseExposition(t), 'loadtest_requests_total', { scenario: 'checkout', step: 'logout' }) >= 4,
      );
      const m = parseExposition(text);
      const logins = sum(m, 'loadtest_requests_total', { scenario: 'checkout', step: 'login' });
      expect(logins).toBeGreaterThanOrEqual(4);
      expect(sum(m, 'loadtest_request_duration_seconds_count', { scenario: 'checkout', step: 'work' })).toBeGreaterThanOrEqual(4);
      expect(valueOf(text, `loadtest_errors_total{scenario="checkout",step="login"}`)).toBeUndefined();
      const users = select(m, 'loadtest_active_users', { scenario: 'checkout' });
      expect(users.length).toBe(1);
      expect(users[0]!.labels['pid']).toMatch(/^\d+$/);
      // 4 users, 3 requests each per 0.2 s of think time.
      expect(sum(m, 'loadtest_offered_rate', { scenario: 'checkout' })).toBe(0);
    });
  });
});

describe('locust recipe', () => {
  it('compiles', () => {
    const r = pySyntax(path.join(EX, 'locust', 'locustfile.py'));
    expect(r.status, r.stderr).toBe(0);
  });

  it.skipIf(!pyHas('locust, statsd'))('runs headless with the event hooks, mapped by --preset locust', async () => {
    await withAgent('locust', async (agent) => {
      const r = await runCmd(
        PYTHON,
        ['-m', 'locust', '-f', path.join(EX, 'locust', 'locustfile.py'), '--headless', '-u', '4', '-r', '4', '-t', '3s', '--host', target, '--only-summary'],
        { REDLINE_STATSD: `127.0.0.1:${agent.udpPort}` },
      );
      expect(r.code, r.out).toBe(0);
      const text = await eventually(
        () => agent.metrics(),
        (t) => sum(parseExposition(t), 'loadtest_requests_total', { scenario: 'locust', step: 'logout' }) >= 4,
      );
      const m = parseExposition(text);
      expect(sum(m, 'loadtest_requests_total', { scenario: 'locust', method: 'POST', step: 'login' })).toBeGreaterThanOrEqual(4);
      expect(sum(m, 'loadtest_requests_total', { scenario: 'locust', method: 'GET', step: 'work' })).toBeGreaterThanOrEqual(4);
      expect(sum(m, 'loadtest_request_duration_seconds_count', { scenario: 'locust', step: 'login' })).toBeGreaterThanOrEqual(4);
      expect(sum(m, 'loadtest_errors_total')).toBe(0);
      // The users gauge was reported (4 while running) and set back to 0 on quit.
      const users = select(m, 'loadtest_active_users', { scenario: 'locust' });
      expect(users.length).toBeGreaterThanOrEqual(1);
    });
  });
});

describe('k6 recipe (k6 is not installable here: syntax + recorded statsd output)', () => {
  it('the script parses as an ES module', () => {
    const r = spawnSync(process.execPath, ['--check', path.join(EX, 'k6', 'script.js')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it('k6 statsd output becomes the dashboard names with --preset k6', async () => {
    await withAgent('k6', async (agent) => {
      const n = await replay(path.join(EX, 'k6', 'sample.statsd'), agent);
      expect(n).toBe(20);
      const text = await eventually(
        () => agent.metrics(),
        (t) => t.includes('k6_dropped_iterations'),
      );
      const m = parseExposition(text);
      expect(sum(m, 'loadtest_requests_total')).toBe(3);
      expect(sum(m, 'loadtest_requests_total', { name: 'login', method: 'POST', status: '200', scenario: 'ramp' })).toBe(1);
      expect(sum(m, 'loadtest_errors_total')).toBe(1);
      expect(sum(m, 'loadtest_errors_total', { name: 'logout', status: '503' })).toBe(1);
      expect(sum(m, 'loadtest_request_duration_seconds_count')).toBe(3);
      expect(sum(m, 'loadtest_request_duration_seconds_sum')).toBeCloseTo(0.265845, 6);
      expect(sum(m, 'loadtest_active_users', { scenario: 'ramp' })).toBe(5);
      expect(sum(m, 'loadtest_max_users')).toBe(50);
      expect(sum(m, 'loadtest_iterations_total')).toBe(1);
      expect(sum(m, 'loadtest_iteration_duration_seconds_sum')).toBeCloseTo(0.3662, 6);
      expect(sum(m, 'loadtest_checks_total', { check: 'login_ok', result: 'pass' })).toBe(1);
      expect(sum(m, 'loadtest_request_phase_seconds_count', { phase: 'waiting' })).toBe(1);
      expect(sum(m, 'loadtest_sent_bytes_total')).toBe(1024);
      expect(sum(m, 'loadtest_received_bytes_total')).toBe(4096);
      expect(sum(m, 'k6_dropped_iterations')).toBe(2);
      // Nothing was dropped or refused on the way.
      expect(sum(m, 'redline_statsd_dropped_total')).toBe(0);
    });
  });
});

describe('artillery recipe (Artillery is not installed here: syntax + recorded statsd output)', () => {
  it('the scenario parses, names its processor function, and the processor loads', () => {
    const doc = parseYaml(fs.readFileSync(path.join(EX, 'artillery', 'scenario.yml'), 'utf8')) as {
      config: { processor: string; plugins: { 'publish-metrics': Array<{ type: string; prefix: string }> } };
      scenarios: Array<{ flow: Array<Record<string, { afterResponse?: string }>> }>;
    };
    expect(doc.config.plugins['publish-metrics'][0]).toMatchObject({ type: 'statsd', prefix: 'artillery.' });
    const proc = path.join(EX, 'artillery', doc.config.processor);
    const r = spawnSync(process.execPath, ['-e', `const p=require(${JSON.stringify(proc)});process.stdout.write(Object.keys(p).join(','))`], { encoding: 'utf8', cwd: ROOT });
    expect(r.status, r.stderr).toBe(0);
    const hooks = doc.scenarios.flatMap((s) => s.flow.map((f) => Object.values(f)[0]?.afterResponse));
    for (const h of hooks) expect(r.stdout.split(',')).toContain(h);
  });

  it('publish-metrics statsd output becomes the dashboard names with --preset artillery', async () => {
    await withAgent('artillery', async (agent) => {
      await replay(path.join(EX, 'artillery', 'sample.statsd'), agent);
      const text = await eventually(
        () => agent.metrics(),
        (t) => t.includes('loadtest_session_length_seconds') && t.includes('loadtest_request_duration_seconds_count'),
      );
      const m = parseExposition(text);
      expect(sum(m, 'loadtest_requests_total')).toBe(30);
      expect(sum(m, 'loadtest_responses_total', { code: '503' })).toBe(2);
      expect(sum(m, 'loadtest_errors_total', { reason: 'ETIMEDOUT' })).toBe(1);
      expect(sum(m, 'loadtest_scenarios_total', { outcome: 'failed' })).toBe(1);
      expect(sum(m, 'loadtest_achieved_rate')).toBe(30);
      expect(sum(m, 'loadtest_request_duration_quantile_seconds', { quantile: '0.99' })).toBeCloseTo(0.4505, 6);
      expect(sum(m, 'loadtest_request_duration_quantile_seconds', { quantile: '0.5' })).toBeCloseTo(0.0101, 6);
      expect(select(m, 'artillery_http_response_time_p50').length).toBe(0);
      expect(sum(m, 'artillery_http_response_time_p75')).toBe(20.5);
      expect(sum(m, 'loadtest_session_length_seconds', { aggregation: 'median' })).toBeCloseTo(0.1205, 6);
      // The processor's timers: a real histogram.
      expect(sum(m, 'loadtest_request_duration_seconds_count', { scenario: 'artillery' })).toBe(2);
      expect(sum(m, 'loadtest_request_duration_seconds_sum', { scenario: 'artillery' })).toBeCloseTo(0.492, 6);
    });
  });
});
