/**
 * End to end with a real Prometheus: the agent (with the host collector and per-process series),
 * probed Node processes (a SUT whose loop is blocked most of the time, an injector that is CPU-bound
 * and then lagging), a spinning SUT thread (until its alert fires), a
 * process holding fds near its limit with a full accept queue, a process holding 85% of
 * vm.max_map_count memory maps, and statsd load-test traffic.
 * Prometheus scrapes the agent every second with the generated rules (`for:` shortened), then
 *   - every alert DRIVEN here must be reported firing by Prometheus (NOT_DRIVEN lists the others
 *     and why; their promtool unit tests cover them; test/saturation.e2e.test.ts drives the
 *     saturation kinds one at a time with the rules as shipped), and
 *   - every query of every generated dashboard, variables substituted, must return data over the
 *     test's time range, or be listed below with the reason it may be empty.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DASHBOARD_DIR, DASHBOARDS } from '../dashboards/generate.js';
import { dashboardQueries, ruleQueries, substitute, type Query } from '../dashboards/promql.js';
import { ALERT_RULES, prometheusRules } from '../dashboards/rules.js';
import { ROOT, startAgent, type AgentProcess } from './helpers/agent.js';
import { findCgroupMounts } from '../collector/host/cgroups.js';
import { startPrometheus } from './helpers/prometheus.js';
import { start, stopAll, type Proc } from './helpers/process.js';
import { eventually } from './helpers/wait.js';

const PROBE = path.join(ROOT, 'dist', 'collector', 'probe', 'probe.cjs');
const ENV = 'e2e';
const RUN = 'e2e-run';
const TAG = `rle2e${process.pid}`;

/**
 * Queries that may legitimately return nothing in this test, with the reason. Matched against
 * the query's "<dashboard> / <panel>" location.
 */
function probeSends(metric: string): boolean {
  try {
    return fs.readFileSync(PROBE, 'utf8').includes(metric.replace(/^redline_/, ''));
  } catch {
    return false;
  }
}

/** cgroup series this host cannot have: none without any cgroup mount, cpu or memory ones without that controller in either hierarchy. */
function cgroupExcuses(): Array<[RegExp, string]> {
  const mounts = findCgroupMounts();
  if (mounts.v2 === null && mounts.v1.size === 0) return [[/\bredline_cgroup_/, 'this host has no cgroup hierarchy mounted, so the agent serves no cgroup series']];
  const v2 = mounts.v2 === null ? [] : fs.readFileSync(path.join(mounts.v2.dir, 'cgroup.controllers'), 'utf8').split(/\s+/);
  const has = (c: string): boolean => v2.includes(c) || mounts.v1.has(c);
  const out: Array<[RegExp, string]> = [];
  if (mounts.v2 === null) out.push([/\bredline_cgroup_pressure_/, 'pressure is read from cgroup v2 only, and this host mounts v1 alone']);
  if (!has('memory')) out.push([/\bredline_cgroup_memory_/, 'this host has the memory controller in neither cgroup hierarchy']);
  if (!has('cpu') && !has('cpuacct')) out.push([/\bredline_cgroup_cpu_/, 'this host has the cpu controller in neither cgroup hierarchy']);
  return out;
}

const MAY_BE_EMPTY: Array<[RegExp, string]> = [
  [/Host collector errors and skipped ticks \/ A$/, 'redline_host_collector_errors_total has a series only once a /proc read failed for a reason other than a process exiting; none should here'],
  [/Host collector errors and skipped ticks \/ B$/, 'redline_host_collector_skipped_ticks_total appears only once a tick had to be skipped (the previous one still running); none should be here'],
  // The probe's time-weighted delay, blocked share and watchdog (issue 10) come with the probe that
  // sends them: matched on the query's expression, excused only while this build's probe lacks them.
  ...(['redline_nodejs_eventloop_delay_seconds', 'redline_nodejs_eventloop_blocked_ratio', 'redline_nodejs_eventloop_stalled_seconds'] as const)
    .filter((m) => !probeSends(m))
    .map((m): [RegExp, string] => [new RegExp(`\\b${m}\\b`), `this build's probe (dist/collector/probe/probe.cjs) does not send ${m} yet`]),
  // Container limits: the quota, limit and throttling series only for a cgroup with a CPU quota or
  // memory limit set, which the test's processes do not have (test/cgroup.e2e.test.ts sets them).
  [/\bredline_cgroup_(cpu_limit_cores|memory_limit_bytes|cpu_throttled_periods_total|cpu_periods_total|cpu_throttled_seconds_total)\b/, 'the test\'s processes run in a cgroup without a CPU quota or memory limit'],
  ...cgroupExcuses(),
  ...(fs.existsSync('/proc/pressure/cpu')
    ? []
    : ([[/Pressure stall \(PSI\)/, 'this kernel has no /proc/pressure (PSI disabled or kernel older than 4.20)']] as Array<[RegExp, string]>)),
];

/** Alerts this test does not drive with real processes, and why (promtool tests cover them). */
const NOT_DRIVEN: Record<string, string> = {
  RedlineMemoryNearLimit: 'driven in test/cgroup.e2e.test.ts (a child in a cgroup with a memory limit the test sets); the promtool tests drive it too',
  RedlineCpuThrottled: 'driven in test/cgroup.e2e.test.ts (a child in a cgroup with a CPU quota the test sets); the promtool tests drive it too',
};
const DRIVEN = ALERT_RULES.map((a) => a.alert).filter((a) => !(a in NOT_DRIVEN));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-dash-e2e-'));
let agent: AgentProcess | undefined;
let prometheus: Proc | undefined;
let startedAt = 0;
let sender: dgram.Socket | undefined;
const timers: NodeJS.Timeout[] = [];
const clients: net.Socket[] = [];
let spinner: Proc | undefined;

function script(name: string, body: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, body);
  return p;
}

/**
 * The probed SUT: its loop is blocked 1.5 s out of every 1.6 s by a sleep (Atomics.wait), which the
 * probe sees as lag and utilisation at no CPU cost; it makes garbage in the gaps so that GC runs.
 * CPU is burnt only where an alert needs it, and only until that alert fires, so that this test
 * does not starve the CPU-sensitive tests running next to it.
 */
const SUT = script(`${TAG}-sut.js`, `
const cell = new Int32Array(new SharedArrayBuffer(4));
let junk = [];
setInterval(() => {
  Atomics.wait(cell, 0, 0, 1500);
  junk = [];
  for (let i = 0; i < 2e5; i++) junk.push({ i });
}, 100);
setTimeout(() => process.exit(0), 120000);
`);
/** Part of the SUT: one thread spinning flat out, stopped by the test once SUT CPU saturation fires. */
const SUT_SPINNER = script(`${TAG}-sut-spin.js`, `
const stop = Date.now() + 100000;
while (Date.now() < stop) {}
`);
/**
 * The probed injector: spins ~0.9 of a core for its first 4 s (the CPU branch of injector
 * saturation), then blocks its loop 900 ms a second by sleeping (the lag branch) at no CPU cost.
 */
const INJECTOR = script(`${TAG}-inj.js`, `
const cell = new Int32Array(new SharedArrayBuffer(4));
const spinUntil = Date.now() + 4000;
setInterval(() => {
  if (Date.now() < spinUntil) { const end = Date.now() + 900; while (Date.now() < end) {} }
  else Atomics.wait(cell, 0, 0, 900);
}, 100);
setTimeout(() => process.exit(0), 120000);
`);
/** A second, idle injector process: the second step of the ramp. */
const IDLE_INJECTOR = script(`${TAG}-inj-idle.js`, `setTimeout(() => process.exit(0), 120000);\n`);
/**
 * Part of the SUT: opens fds up to ~90% of a 64 fd limit, listens with a backlog of 1 and then
 * sleeps with its loop blocked (no CPU), so nothing is ever accepted.
 */
const HOLDER = script(`${TAG}-sut-holder.js`, `
const fs = require('node:fs');
const net = require('node:net');
const keep = [];
while (fs.readdirSync('/proc/self/fd').length < 58) keep.push(fs.openSync('/dev/null', 'r'));
const server = net.createServer(() => {});
server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\\n', () => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120000);
    process.exit(0);
  });
});
`);

/**
 * Part of the SUT: 85% of vm.max_map_count memory maps at no memory cost: one PROT_NONE anonymous
 * mapping whose every other page is made readable, so each page is its own mapping.
 */
const MAPS_HOLDER = script(`${TAG}-sut-maps.py`, `
import ctypes, mmap, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
page = mmap.PAGESIZE
limit = int(open('/proc/sys/vm/max_map_count').read())
have = len(open('/proc/self/maps').readlines())
pages = int(limit * 0.85) - have
addr = libc.mmap(None, pages * page, 0, 0x22, -1, 0)
for i in range(1, pages, 2):
    libc.mprotect(addr + i * page, page, 1)
print('maps', len(open('/proc/self/maps').readlines()), flush=True)
time.sleep(120)
`);

function probed(file: string, role: 'sut' | 'injector', service: string): Proc {
  const env: NodeJS.ProcessEnv = { REDLINE_STATSD: `127.0.0.1:${agent!.udpPort}`, REDLINE_ROLE: role, REDLINE_SERVICE: service, REDLINE_PROBE_INTERVAL_MS: '1000' };
  if (fs.existsSync(PROBE)) env['NODE_OPTIONS'] = `--require ${PROBE}`;
  return start(process.execPath, [file], { env });
}

let promGetImpl: (<T>(api: string, params: Record<string, string>) => Promise<T>) | undefined;
const promGet = <T>(api: string, params: Record<string, string>): Promise<T> => promGetImpl!<T>(api, params);

function send(lines: string[]): void {
  sender?.send(Buffer.from(lines.join('\n')), agent!.udpPort!, '127.0.0.1');
}

let health: http.Server | undefined;
let traffic: NodeJS.Timeout | undefined;
/** loadtest_requests_total increments sent so far (the agent must count exactly these). */
let requestsSent = 0;

beforeAll(async () => {
  startedAt = Math.floor(Date.now() / 1000);
  // What the agent's HTTP probe checks, as a load balancer would: answers 200, every 5th call 503.
  let calls = 0;
  health = http.createServer((_req, res) => {
    res.statusCode = ++calls % 5 === 0 ? 503 : 200;
    res.end('ok');
  });
  await new Promise<void>((r) => health!.listen(0, '127.0.0.1', r));
  const healthPort = (health.address() as net.AddressInfo).port;
  agent = await startAgent([
    `--probe.http=e2eapi=http://127.0.0.1:${healthPort}/health`,
    '--host.enabled=true',
    '--host.interval=500ms',
    '--host.per-process',
    `--sut=e2esut=${TAG}-sut`,
    `--injector=e2einj=${TAG}-inj`,
    '--statsd.max-series=300',
  ]);

  // Prometheus: scrape every second, the generated rules with `for:` shortened so each alert can be driven quickly.
  const prom = await startPrometheus({
    dir,
    targets: [`127.0.0.1:${agent.httpPort}`],
    labels: { env: ENV, run: RUN },
    rules: [stringify(JSON.parse(JSON.stringify(prometheusRules({ forOverride: '0s', interval: '1s' }))))],
  });
  prometheus = prom.proc;
  promGetImpl = prom.get;

  // The SUT and the first injector; the second injector joins a few seconds later (a ramp step).
  probed(SUT, 'sut', 'e2e-api');
  spinner = start(process.execPath, [SUT_SPINNER]);
  start('python3', [MAPS_HOLDER]);
  const holder = start('/bin/sh', ['-c', `ulimit -n 64 && exec "${process.execPath}" "${HOLDER}"`]);
  await holder.until(() => /"port":\d+/.test(holder.stdout()), { what: 'the fd/backlog holder port' });
  const holderPort = Number(/"port":(\d+)/.exec(holder.stdout())![1]);
  // Fill the accept queue (backlog 1 holds 2) and keep knocking: the extra SYNs overflow it.
  for (let i = 0; i < 6; i++) {
    const c = net.connect({ host: '127.0.0.1', port: holderPort });
    c.on('error', () => {});
    clients.push(c);
  }
  timers.push(setTimeout(() => probed(INJECTOR, 'injector', 'e2e-load'), 2000));
  timers.push(setTimeout(() => start(process.execPath, [IDLE_INJECTOR]), 6000));

  // Load-test traffic as an injector sends it, a few malformed lines, and later a cardinality
  // flood past --statsd.max-series so that Redline has to drop samples.
  sender = dgram.createSocket('udp4');
  let tick = 0;
  traffic = setInterval(() => {
    tick++;
    const lines = [`loadtest_active_users:${10 * Math.min(tick, 20)}|g|#scenario:login`, `loadtest_offered_rate:${50 + tick}|g|#scenario:login`];
    for (let i = 0; i < 20; i++) {
      lines.push(`loadtest_requests_total:1|c|#scenario:login`);
      requestsSent++;
      lines.push(`loadtest_request_duration_seconds:${5 + ((i * 7 + tick) % 200)}|ms|#scenario:login`);
    }
    lines.push('loadtest_errors_total:1|c|#scenario:login', 'this is not statsd', 'bad_value:abc|c');
    lines.push('loadtest_scenarios_total:5|c|#scenario:login,outcome:ok', 'loadtest_scenarios_total:1|c|#scenario:login,outcome:dropped');
    if (tick % 8 === 0) lines.push('loadtest_slow_connects_total:1|c|#scenario:login');
    if (tick > 20) for (let i = 0; i < 20; i++) lines.push(`e2e_flood_${tick}_${i}:1|c`);
    send(lines);
  }, 250);
  timers.push(traffic!);
}, 90_000);

afterAll(async () => {
  for (const t of timers) {
    clearTimeout(t);
    clearInterval(t);
  }
  for (const c of clients) c.destroy();
  health?.closeAllConnections();
  health?.close();
  sender?.close();
  await stopAll();
  fs.rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('dashboards and alerts against a real Prometheus', () => {
  it('Prometheus reports every alert firing', async () => {
    const wanted = new Set(DRIVEN);
    process.stdout.write(`not driven here (promtool tests cover them): ${Object.entries(NOT_DRIVEN).map(([a, why]) => `${a}: ${why}`).join('; ')}\n`);
    const fired = new Map<string, Record<string, string>>();
    const firedAfter: string[] = [];
    // Generous: the SUT CPU alert needs its spinner to get 0.9 of a core for one tick, which a
    // machine busy with other work grants late.
    const deadline = Date.now() + 200_000;
    while (fired.size < wanted.size && Date.now() < deadline) {
      const data = await promGet<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>('/api/v1/alerts', {});
      for (const a of data.alerts) {
        if (a.state !== 'firing' || fired.has(a.labels['alertname']!)) continue;
        // Host-wide branches (verdict=host) may fire from other processes of a shared machine; the
        // alerts this test drives are its own groups'.
        if (a.labels['verdict'] === 'host') continue;
        fired.set(a.labels['alertname']!, a.labels);
        if (a.labels['alertname'] === 'RedlineSutCpuSaturated') spinner?.signal('SIGKILL');
        firedAfter.push(`${a.labels['alertname']} ${Math.round(Date.now() / 1000 - startedAt)} s${process.env['E2E_DEBUG'] ? JSON.stringify(a.labels) : ''}`);
      }
      if (fired.size < wanted.size) await new Promise((r) => setTimeout(r, 1000));
    }
    process.stdout.write(`alerts firing after: ${firedAfter.join(', ')}\n`);
    // Rate windows, the 10 s ramp-step comparison and the cardinality flood need some history
    // before every panel can have data, however fast the alerts fired.
    const minSeconds = 25;
    const wait = startedAt + minSeconds - Date.now() / 1000;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait * 1000));
    const missing = [...wanted].filter((n) => !fired.has(n));
    expect(missing, `not firing after 200 s; prometheus log:\n${prometheus?.stderr().slice(-4000)}`).toEqual([]);
    // The verdicts the overview dashboard reads.
    expect(fired.get('RedlineInjectorSaturated')).toMatchObject({ verdict: 'injector', env: ENV, run: RUN });
    expect(fired.get('RedlineSutCpuSaturated')).toMatchObject({ verdict: 'sut', env: ENV });
    expect(fired.get('RedlineFileDescriptorsNearLimit')).toMatchObject({ verdict: 'sut', group: 'e2esut' });
    expect(fired.get('RedlineMemoryMapsNearLimit')).toMatchObject({ verdict: 'sut', group: 'e2esut' });
    expect(fired.get('RedlineAcceptQueueOverflowing')).toMatchObject({ verdict: 'sut', group: 'e2esut' });
    expect(fired.get('RedlineDroppingStatsdLines')).toMatchObject({ verdict: 'observer', reason: 'series_limit' });
  }, 240_000);

  it('the env and run variables list this agent', async () => {
    const envs = await promGet<string[]>('/api/v1/label/env/values', { 'match[]': 'redline_build_info' });
    expect(envs).toContain(ENV);
    const runs = await promGet<string[]>('/api/v1/label/run/values', { 'match[]': `{__name__=~"redline_build_info|loadtest_requests_total", env=~"${ENV}"}` });
    expect(runs).toEqual([RUN]);
  });

  it('every query of every dashboard returns data, or is known to be empty for a stated reason', async () => {
    const queries: Query[] = DASHBOARDS.flatMap((d) => dashboardQueries(JSON.parse(fs.readFileSync(path.join(ROOT, DASHBOARD_DIR, d.folder, d.file), 'utf8'))));
    expect(queries.length).toBeGreaterThan(60);
    const end = Math.floor(Date.now() / 1000);
    const empty: string[] = [];
    const excused: string[] = [];
    const t0 = performance.now();
    for (const q of queries) {
      const expr = substitute(q.expr, { env: ENV, run: '.*', group: '.+' }, '5s');
      const data = await promGet<{ result: unknown[] }>('/api/v1/query_range', { query: expr, start: String(startedAt), end: String(end), step: '1' });
      if (data.result.length > 0) continue;
      const reason = MAY_BE_EMPTY.find(([re]) => re.test(q.where) || re.test(q.expr));
      if (reason) excused.push(`${q.where}: ${reason[1]}`);
      else empty.push(`${q.where}: ${expr}`);
    }
    // A figure for the notes, not an assertion: what a full refresh of all dashboards costs Prometheus here.
    process.stdout.write(`${queries.length} dashboard queries over ${end - startedAt} s at 1 s steps: ${Math.round(performance.now() - t0)} ms in total\n`);
    if (excused.length) process.stdout.write(`empty, with a reason:\n  ${excused.join('\n  ')}\n`);
    if (empty.length) process.stdout.write(`empty without a reason:\n  ${empty.join('\n  ')}\n`);
    expect(empty).toEqual([]);
  }, 120_000);

  it('the Grafana-managed copies of the alerts select the same offending series', async () => {
    const end = Math.floor(Date.now() / 1000);
    const silent: string[] = [];
    const driven = new Set(ALERT_RULES.filter((a) => DRIVEN.includes(a.alert)).map((a) => `grafana alert ${a.uid}`));
    for (const q of ruleQueries().filter((r) => driven.has(r.where))) {
      const data = await promGet<{ result: unknown[] }>('/api/v1/query_range', { query: q.expr, start: String(startedAt), end: String(end), step: '1' });
      if (data.result.length === 0) silent.push(`${q.where}: ${q.expr}`);
    }
    expect(silent).toEqual([]);
  }, 60_000);

  it('the knee and verdict queries carry the values driven here', async () => {
    const at = async (expr: string): Promise<number[]> => {
      const data = await promGet<{ result: Array<{ value: [number, string] }> }>('/api/v1/query', { query: substitute(expr, { env: ENV, run: '.*' }, '5s') });
      return data.result.map((r) => Number(r.value[1]));
    };
    // two injector processes running now (one busy, one idle)
    const injectors = await eventually(() => at('sum(redline_injector_processes{env=~"$env"})'), (v) => v[0] === 2, { timeoutMs: 30_000, intervalMs: 500 });
    expect(injectors).toEqual([2]);
    // Up to 80 requests/s sent (20 every 250 ms, fewer when a busy machine delays the timer):
    // Prometheus sees a rate, never more than was sent.
    const [rps] = await at('sum(rate(loadtest_requests_total{env=~"$env"}[10s]))');
    expect(rps).toBeGreaterThan(0);
    expect(rps).toBeLessThan(1.5 * 80);
    // With the traffic stopped, the agent has counted every request sent, and Prometheus scrapes that.
    clearInterval(traffic);
    const sent = requestsSent;
    const counted = await eventually(() => at('sum(loadtest_requests_total{env=~"$env"})'), (v) => v[0] === sent, { timeoutMs: 20_000, intervalMs: 500 });
    expect(counted).toEqual([sent]);
    const [injectorCpu] = await at('max(max_over_time(redline_process_busiest_process_cpu_ratio{role="injector", env=~"$env"}[5m]))');
    // It spins 0.9 of the time for its first 4 s (an idle process reads ~0); how much of a core
    // it gets depends on the machine, but it cannot get more than one.
    expect(injectorCpu).toBeGreaterThan(0);
    expect(injectorCpu).toBeLessThan(1.1);
    expect(await at('count(ALERTS{alertstate="firing", env=~"$env", verdict="injector"}) or vector(0)')).not.toEqual([0]);
  }, 90_000);
});
