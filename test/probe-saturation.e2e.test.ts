/**
 * Issue 10, the probe and the load axis, the way they run: real Node programs loaded with the
 * built probe through NODE_OPTIONS, a real agent with its host collector reading /proc, and a CPU
 * burner on the other core the whole time (so nothing here passes only on an idle machine).
 *
 * - a loop stalled 150 ms once a second reads ≈15% blocked and a time-weighted p99 near 150 ms,
 *   while the per-timer lag p99 stays far below (one late timer among ~85);
 * - a loop stuck in `while (true)` for 10 s is reported stalled by the watchdog thread within 2 s
 *   of the stall by its own clock, all the while it is stuck, and 0 again when it returns; the
 *   analysis rates the group's event-loop delay saturated meanwhile;
 * - probe series keep their `group` across agent restarts under running probes;
 * - a process that forks, waits, then execs into an injector's command line is counted within
 *   two host-collector ticks (counted by the collector's own tick counter, not timed).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAgent, eventually, parseValue, ROOT, BIN, TEST_AGENT_FLAGS, type AgentProcess } from './helpers/agent.js';
import { start, stopAll, type Proc } from './helpers/process.js';
import { waitFor } from './helpers/wait.js';

const PROBE = path.join(ROOT, 'dist', 'collector', 'probe', 'probe.cjs');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-probe-sat-'));
const tag = `t${process.pid}`;
const script = (name: string, body: string): string => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, body);
  return p;
};

const STALL = script('stall.js', `
// Otherwise idle; blocks its loop 150 ms once a second. Knows nothing about Redline.
setInterval(() => { const end = Date.now() + 150; while (Date.now() < end) {} }, 1000);
setTimeout(() => process.exit(0), 60000);
`);
const STUCK = script('stuck.js', `
// Runs normally for 3 s, then is stuck for 10 s, then runs again.
setInterval(() => {}, 1000);
setTimeout(() => { console.log('stuck'); const end = Date.now() + 10000; while (Date.now() < end) {} console.log('back'); }, 3000);
setTimeout(() => process.exit(0), 60000);
`);
const IDLE = script('idle.js', `setInterval(() => {}, 1000);\nsetTimeout(() => process.exit(0), 90000);\n`);
const INJECTOR = script('injector.js', `
require('node:fs').writeFileSync(process.env.MARK, String(process.pid));
setTimeout(() => process.exit(0), 60000);
`);

let burner: Proc;

beforeAll(() => {
  expect(fs.existsSync(PROBE), `${PROBE} missing: run npm run build`).toBe(true);
  burner = start(process.execPath, ['-e', 'for (;;) {}']);
});
afterAll(async () => {
  await stopAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

function probed(file: string, udpPort: number, env: NodeJS.ProcessEnv = {}): Proc {
  return start(process.execPath, [file, `--tag=${tag}`], {
    env: { NODE_OPTIONS: `--require ${PROBE}`, REDLINE_STATSD: `127.0.0.1:${udpPort}`, REDLINE_PROBE_INTERVAL_MS: '1000', ...env },
  });
}

/** `name{…}` with the labels sorted, as the agent serves them. */
const series = (name: string, labels: Record<string, string>): string =>
  `${name}{${Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]}"`)
    .join(',')}}`;

describe('time-weighted event-loop delay', () => {
  let agent: AgentProcess;
  beforeAll(async () => {
    agent = await startAgent(['--host.enabled=true', '--host.interval=500ms', '--sut', `stall=stall\\.js --tag=${tag}`]);
  });
  afterAll(async () => {
    await agent.stop();
  });

  it('a 150 ms stall once a second reads ≈15% blocked and p99 ≈ 150 ms', async () => {
    expect(burner.running()).toBe(true);
    const child = probed(STALL, agent.udpPort!, { REDLINE_SERVICE: 'stall' });
    const L = { group: 'stall', pid: String(child.pid), role: 'sut', service: 'stall' };
    const read = (t: string, name: string, q?: string): number | undefined => parseValue(t, series(name, q === undefined ? L : { ...L, quantile: q }));
    // Five readings after the first (which holds the program's start-up), each judged alone.
    const readings: { blocked: number; p50: number; p90: number; p99: number; max: number; lag99: number; lagMax: number }[] = [];
    let last = '';
    await waitFor(
      async () => {
        const t = await agent.metrics();
        const blocked = read(t, 'redline_nodejs_eventloop_blocked_ratio');
        const lagMax = read(t, 'redline_nodejs_eventloop_lag_seconds', '1');
        const key = `${blocked}/${lagMax}`;
        if (blocked === undefined || lagMax === undefined || key === last) return false;
        if (last !== '') {
          readings.push({
            blocked,
            p50: read(t, 'redline_nodejs_eventloop_delay_seconds', '0.5')!,
            p90: read(t, 'redline_nodejs_eventloop_delay_seconds', '0.9')!,
            p99: read(t, 'redline_nodejs_eventloop_delay_seconds', '0.99')!,
            max: read(t, 'redline_nodejs_eventloop_delay_seconds', '1')!,
            lag99: read(t, 'redline_nodejs_eventloop_lag_seconds', '0.99')!,
            lagMax,
          });
        }
        last = key;
        return readings.length >= 5;
      },
      { timeoutMs: 45_000, intervalMs: 100, what: 'five probe readings' },
    );
    // Each reading covers ~1 s and so holds one stall as a rule (now and then none or two: the
    // probe's window and the program's timer drift against each other). A stall lasts at least
    // its 150 ms by the clock, longer on a busy machine, never shorter; descheduling on a busy
    // machine is blocking too and adds to the blocked share. So the lower bounds are tight and
    // the upper ones are what no load can break, plus medians that only a broken measure misses.
    const stalled = readings.filter((r) => r.max >= 0.14);
    expect(stalled.length, JSON.stringify(readings)).toBeGreaterThanOrEqual(3);
    for (const r of stalled) {
      // 150 ms of a ~1 s interval, measured to the sampler's 10 ms.
      expect(r.blocked).toBeGreaterThan(0.12);
      expect(r.blocked).toBeLessThanOrEqual(1);
      // An arrival in the stall waits for the rest of it: the longest wait is the stall, p99 sits
      // 1% of the interval (10 ms) below it, and the quantiles are ordered.
      expect(r.p99).toBeGreaterThan(0.1);
      expect(r.p99).toBeLessThanOrEqual(r.max);
      expect(r.p90).toBeLessThanOrEqual(r.p99);
      expect(r.p50).toBeLessThanOrEqual(r.p90);
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    // Read here: blocked 0.15-0.2 on a quiet machine, 0.26-0.51 at a load average of 17, ~0.7 at
    // 26 (the process then gets a fraction of a core: descheduled time is blocked time).
    expect(median(stalled.map((r) => r.blocked)), JSON.stringify(readings)).toBeLessThan(0.95);
    // Most of the time the loop is free: the median arrival waits next to nothing.
    expect(median(stalled.map((r) => r.p50)), JSON.stringify(readings)).toBeLessThan(0.15);
    // (The per-timer p99 counts a stall once among the interval's ~85 ticks, so on a quiet machine
    // it reads a few ms; on a loaded one an interval holds under 100 ticks and its p99 is the
    // stall: no bound on it holds on both.)
    await child.stop();
  });
});

describe('watchdog', () => {
  let agent: AgentProcess;
  beforeAll(async () => {
    agent = await startAgent(['--host.enabled=true', '--host.interval=500ms', '--analysis.interval=500ms', '--sut', `api=stuck\\.js --tag=${tag}`]);
  });
  afterAll(async () => {
    await agent.stop();
  });

  it('reports a loop stuck in while(true) within 2 s, every interval while stuck, 0 once it returns; the verdict sees it', async () => {
    const child = probed(STUCK, agent.udpPort!, { REDLINE_SERVICE: 'api' });
    const L = { group: 'api', pid: String(child.pid), role: 'sut', service: 'api' };
    const stalledSeries = series('redline_nodejs_eventloop_stalled_seconds', L);
    const ratioSeries = 'redline_saturation_ratio{group="api",role="sut",resource="eventloop_delay"}';
    // Before the stall: the watchdog's series exists, at 0.
    await eventually(() => agent.metrics(), (t) => parseValue(t, stalledSeries) === 0, { timeoutMs: 30_000, intervalMs: 100 });
    await child.until((o) => o.includes('stuck'), { timeoutMs: 30_000, what: 'the stall' });
    const seen: number[] = [];
    let ratio = 0;
    await waitFor(
      async () => {
        const t = await agent.metrics();
        const v = parseValue(t, stalledSeries) ?? 0;
        if (v > 0 && v !== seen[seen.length - 1]) seen.push(v);
        ratio = Math.max(ratio, parseValue(t, ratioSeries) ?? 0);
        return v >= 5 && ratio >= 1;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'a stall of 5 s reported and rated' },
    );
    // The first reading arrives within 2 s of the stall (the watchdog's threshold is 500 ms),
    // as the watchdog's own clock counts it; then one reading per interval, growing.
    expect(seen[0], JSON.stringify(seen)).toBeGreaterThanOrEqual(0.5);
    expect(seen[0], JSON.stringify(seen)).toBeLessThanOrEqual(2);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]!);
    // A stall is critical lag: the delay resource is far past its limit (≥ 5 s against 100 ms).
    expect(ratio).toBeGreaterThanOrEqual(1);
    await child.until((o) => o.includes('back'), { timeoutMs: 30_000, what: 'the loop returning' });
    await eventually(() => agent.metrics(), (t) => parseValue(t, stalledSeries) === 0, { timeoutMs: 30_000, intervalMs: 100 });
    await child.stop();
  });

  it('REDLINE_PROBE_WATCHDOG_MS=0 turns it off', async () => {
    const child = probed(IDLE, agent.udpPort!, { REDLINE_SERVICE: 'quiet', REDLINE_PROBE_WATCHDOG_MS: '0' });
    const L = { pid: String(child.pid), role: 'sut', service: 'quiet' };
    const t = await eventually(() => agent.metrics(), (x) => (parseValue(x, series('redline_nodejs_active_handles', L)) ?? 0) > 0, { timeoutMs: 30_000, intervalMs: 100 });
    // Reports came (twice, so a watchdog would have sent too), none from a watchdog.
    await eventually(() => agent.metrics(), (x) => x !== t && (parseValue(x, series('redline_nodejs_cpu_seconds_total', { ...L, mode: 'user' })) ?? 0) > 0, { timeoutMs: 30_000, intervalMs: 500 });
    expect(await agent.metrics()).not.toContain(`redline_nodejs_eventloop_stalled_seconds{pid="${child.pid}"`);
    await child.stop();
  });
});

describe('probe series and agent restarts', () => {
  it('keep their group across three agent restarts under a running probe', async () => {
    const flags = ['--host.enabled=true', '--host.interval=500ms', '--sut', `idle=idle\\.js --tag=${tag}`];
    let agent = await startAgent(flags);
    const port = agent.udpPort!;
    const child = probed(IDLE, port, { REDLINE_SERVICE: 'idle' });
    const grouped = series('redline_nodejs_eventloop_utilization', { group: 'idle', pid: String(child.pid), role: 'sut', service: 'idle' });
    const ungrouped = series('redline_nodejs_eventloop_utilization', { pid: String(child.pid), role: 'sut', service: 'idle' });
    try {
      for (let round = 0; round < 4; round++) {
        if (round > 0) {
          await agent.stop();
          // The same UDP port: the probe keeps sending there, before the new agent's first tick too.
          agent = await startAgent([...flags, `--statsd.listen-udp=127.0.0.1:${port}`]);
        }
        const pidLines = (t: string): string[] => t.split('\n').filter((l) => l.includes(`pid="${child.pid}"`) && l.startsWith('redline_nodejs_'));
        // Each series learns its group at its next datagram after the host collector's first tick
        // (the watchdog's own series included); then every probe series of the pid carries it.
        const text = await eventually(
          () => agent.metrics(),
          (t) => parseValue(t, grouped) !== undefined && pidLines(t).some((l) => l.startsWith('redline_nodejs_eventloop_stalled_seconds{')) && pidLines(t).every((l) => l.includes('group="idle"')),
          { timeoutMs: 30_000, intervalMs: 200 },
        );
        expect(pidLines(text).length, `round ${round}`).toBeGreaterThan(10);
        expect(parseValue(text, ungrouped)).toBeUndefined();
        // And keep it: two reports later, still every one.
        const cpu = series('redline_nodejs_cpu_seconds_total', { group: 'idle', mode: 'user', pid: String(child.pid), role: 'sut', service: 'idle' });
        const first = parseValue(text, series('redline_nodejs_heap_bytes', { group: 'idle', pid: String(child.pid), role: 'sut', service: 'idle', type: 'used' }));
        const later = await eventually(
          () => agent.metrics(),
          (t) => parseValue(t, series('redline_nodejs_heap_bytes', { group: 'idle', pid: String(child.pid), role: 'sut', service: 'idle', type: 'used' })) !== first,
          { timeoutMs: 30_000, intervalMs: 200 },
        );
        for (const l of pidLines(later)) expect(l, `round ${round}`).toContain('group="idle"');
        // The CPU counter is there with its group; a fresh agent counts from its start, and an
        // idle process may have used no user CPU since (10 ms clock ticks), so 0 is a reading.
        expect(parseValue(later, cpu)).toBeGreaterThanOrEqual(0);
      }
    } finally {
      await agent.stop();
      await child.stop();
    }
  }, 240_000);
});

describe('host collector: the load axis', () => {
  it('a process that forks, waits 3 s, then execs into an injector command line is counted within 2 ticks', async () => {
    const agent = await startAgent(['--host.enabled=true', '--host.interval=1s', '--injector', `inj=injector\\.js --tag inj-${tag}`]);
    const mark = path.join(dir, 'exec-mark');
    const v = (t: string, s: string): number => parseValue(t, s) ?? 0;
    try {
      // The shell's own command line does not match (the tag is in a variable); after the exec the
      // same process (pid and start time) runs the injector's.
      const sh = start('/bin/sh', ['-c', 'sleep 3; exec "$NODE_BIN" "$SCRIPT" --tag "$TAGV"'], {
        env: { NODE_BIN: process.execPath, SCRIPT: INJECTOR, TAGV: `inj-${tag}`, MARK: mark },
      });
      // Seen unmatched before the exec: at least two ticks while it waits.
      const t0 = await eventually(() => agent.metrics(), (t) => v(t, 'redline_host_collector_ticks_total') >= 2, { timeoutMs: 30_000, intervalMs: 100 });
      expect(v(t0, 'redline_injector_processes{group="inj"}')).toBe(0);
      await waitFor(() => fs.existsSync(mark) && fs.readFileSync(mark, 'utf8') !== '', { timeoutMs: 30_000, intervalMs: 20, what: 'the exec' });
      expect(Number(fs.readFileSync(mark, 'utf8'))).toBe(sh.pid);
      // Ticks completed once the exec'd program is running: the one in progress may have read the
      // process before the exec; the two after it must count it.
      const before = v(await agent.metrics(), 'redline_host_collector_ticks_total');
      const counted = await eventually(() => agent.metrics(), (t) => v(t, 'redline_injector_processes{group="inj"}') === 1, { timeoutMs: 30_000, intervalMs: 50 });
      expect(v(counted, 'redline_host_collector_ticks_total') - before).toBeLessThanOrEqual(3);
      expect(v(counted, 'redline_process_started_total{group="inj",role="injector"}')).toBe(1);
      await sh.stop();
    } finally {
      await agent.stop();
    }
  });

  it('counts neither the npm and sh launchers of the SUT nor those of the agent', async () => {
    // The README's `npm start -- --sut api=…`: the agent started by npm, its pattern on npm's
    // command line (and on the shell's npm runs the script with). The SUT started by
    // `npm start -- --tag=…`. Only the SUT's node process is the group.
    const agentDir = fs.mkdtempSync(path.join(dir, 'agent-'));
    const sutDir = fs.mkdtempSync(path.join(dir, 'sut-'));
    const pattern = `server.js --tag=npm-${tag}`;
    const agentCmd = [process.execPath, BIN, ...TEST_AGENT_FLAGS, '--host.enabled=true', '--host.interval=500ms'].map((a) => `'${a}'`).join(' ');
    fs.writeFileSync(path.join(agentDir, 'package.json'), JSON.stringify({ name: 'agent-launcher', private: true, scripts: { start: agentCmd } }));
    fs.writeFileSync(path.join(sutDir, 'package.json'), JSON.stringify({ name: 'sut', private: true, scripts: { start: 'node server.js' } }));
    fs.writeFileSync(path.join(sutDir, 'server.js'), 'setTimeout(() => process.exit(0), 60000);\n');
    const npmAgent = start('npm', ['start', '--silent', '--', '--sut', `api=${pattern}`], { cwd: agentDir, group: true });
    const sut = start('npm', ['start', '--silent', '--', `--tag=npm-${tag}`], { cwd: sutDir, group: true });
    try {
      const line = (await npmAgent.until((o) => o.includes('redline agent started'), { timeoutMs: 30_000, what: 'the agent start-up line' })).split('\n').find((l) => l.includes('redline agent started'))!;
      const url = `http://127.0.0.1:${/http_port=(\d+)/.exec(line)![1]}`;
      const metrics = async (): Promise<string> => (await fetch(`${url}/metrics`)).text();
      const v = (t: string, s: string): number => parseValue(t, s) ?? 0;
      const first = await eventually(metrics, (t) => v(t, 'redline_process_count{group="api",role="sut"}') >= 1, { timeoutMs: 30_000, intervalMs: 200 });
      const ticks = v(first, 'redline_host_collector_ticks_total');
      // Two more ticks, each counting the group afresh.
      const later = await eventually(metrics, (t) => v(t, 'redline_host_collector_ticks_total') >= ticks + 2, { timeoutMs: 30_000, intervalMs: 200 });
      expect(v(later, 'redline_process_count{group="api",role="sut"}')).toBe(1);
      expect(v(later, 'redline_process_started_total{group="api",role="sut"}')).toBe(1);
    } finally {
      await sut.stop();
      await npmAgent.stop();
    }
  });
});
