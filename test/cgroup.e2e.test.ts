/**
 * Container limits driven by real processes in real cgroups the test makes (cgroup v2 where its
 * controllers can be enabled, else v1, as on this project's CI host), against a real agent and a
 * real Prometheus running the generated rules as shipped:
 *   - a SUT spinning in a cgroup with a 0.2-core quota: the agent reads the quota and the
 *     throttling, RedlineCpuThrottled fires for its group with the sut verdict within 30 s of onset,
 *     and the analysis stage holds the group saturated on `cpu_throttling`;
 *   - a SUT filling 93% of a 160 MiB memory limit: RedlineMemoryNearLimit, the same way, and the
 *     `memory` ratio against the limit.
 * Needs root (or a delegated hierarchy) to make cgroups; without it the reason is printed and the
 * kinds are skipped (their promtool tests still cover the rules).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { RULES_FILE } from '../dashboards/generate.js';
import { ROOT, startAgent, type AgentProcess } from './helpers/agent.js';
import { makeCgroup, type TestCgroup } from './helpers/cgroup.js';
import { startPrometheus, type PrometheusServer } from './helpers/prometheus.js';
import { start, stopAll, type Proc } from './helpers/process.js';
import { eventually, waitFor } from './helpers/wait.js';
import { expectAlertFiring, onsetOf } from './helpers/alerts.js';

const TAG = `rlcg${process.pid}`;
const ENV = 'cgroup-e2e';
const GROUPS = { cpu: 'quotaapi', mem: 'memapi' } as const;
const QUOTA_CORES = 0.2;
const MEMORY_LIMIT = 160 * 1024 * 1024;
const suffix = crypto.randomBytes(3).toString('hex');

const cpuCg = makeCgroup(`redline-test-cpu-${suffix}`, { cpuCores: QUOTA_CORES });
const memCg = makeCgroup(`redline-test-mem-${suffix}`, { memoryBytes: MEMORY_LIMIT });
const usable = (c: TestCgroup | string): c is TestCgroup => typeof c !== 'string';
for (const c of [cpuCg, memCg]) if (!usable(c)) process.stdout.write(`cgroup e2e skipped: ${c}\n`);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-cgroup-e2e-'));
let agent: AgentProcess | undefined;
let prom: PrometheusServer | undefined;

function script(name: string, body: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, body);
  return p;
}
/** Prints `ready <epoch ms>` and spins one thread for at most 3 minutes. */
const SPIN = script(`${TAG}-cpu.js`, `process.stdout.write('ready ' + Date.now() + '\\n');
const stop = Date.now() + 180000;
while (Date.now() < stop) {}
`);
/**
 * Touches memory 1 MiB at a time until its cgroup's charge (the file given) reaches the share
 * given of the limit, prints `ready <epoch ms>` and holds it for at most 3 minutes.
 */
const FILL = script(`${TAG}-mem.js`, `
const [file, limit, share] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const used = () => Number(require('node:fs').readFileSync(file, 'utf8').trim());
const keep = [];
for (let i = 0; i < 4096 && used() < share * limit; i++) keep.push(Buffer.allocUnsafe(1 << 20).fill(i & 255));
process.stdout.write('ready ' + Date.now() + ' ' + used() + '\\n');
setTimeout(() => process.exit(0), 180000);
`);

/** `exec node …` inside the cgroup: the shell moves itself in, then becomes the process. */
const inCgroup = (cg: TestCgroup, args: string[]): Proc => start('/bin/sh', ['-c', `${cg.enter}exec "${process.execPath}" ${args.map((a) => `"${a}"`).join(' ')}`]);

beforeAll(async () => {
  if (!usable(cpuCg) && !usable(memCg)) return;
  const shipped = parseYaml(fs.readFileSync(path.join(ROOT, 'provisioning/prometheus/prometheus.yml'), 'utf8')) as {
    global: { scrape_interval: string; evaluation_interval: string };
  };
  agent = await startAgent(['--host.enabled=true', `--sut=${GROUPS.cpu}=${TAG}-cpu`, `--sut=${GROUPS.mem}=${TAG}-mem`]);
  prom = await startPrometheus({
    dir,
    targets: [`127.0.0.1:${agent.httpPort}`],
    labels: { env: ENV },
    rules: [fs.readFileSync(path.join(ROOT, RULES_FILE), 'utf8')],
    scrapeInterval: shipped.global.scrape_interval,
    evaluationInterval: shipped.global.evaluation_interval,
  });
}, 120_000);

afterAll(async () => {
  await stopAll();
  for (const c of [cpuCg, memCg]) if (usable(c)) await c.remove();
  fs.rmSync(dir, { recursive: true, force: true });
}, 30_000);

/** The analysis stage holds `group` saturated on `resource` (bounded wait). */
async function expectSaturated(group: string, resource: string): Promise<void> {
  const r = await eventually(() => prom!.query(`redline_saturated{group="${group}", role="sut", resource="${resource}"} == 1`), (v) => v.length > 0, { timeoutMs: 60_000, intervalMs: 1000 });
  expect(r.length, `redline_saturated{group="${group}",resource="${resource}"} == 1`).toBeGreaterThan(0);
}

describe('container limits from real cgroups, against the shipped rules', () => {
  it.skipIf(!usable(cpuCg))(`a SUT spinning under a ${QUOTA_CORES}-core quota: its limit and throttling read, RedlineCpuThrottled for its group within 30 s`, async () => {
    const p = inCgroup(cpuCg as TestCgroup, [SPIN]);
    await p.until((o) => /ready \d+/.test(o), { what: 'the SUT spinning' });
    const L = `group="${GROUPS.cpu}",role="sut"`;
    const limit = await eventually(() => agent!.value(`redline_cgroup_cpu_limit_cores{${L}}`), (v) => v !== undefined, { timeoutMs: 30_000, intervalMs: 500 });
    expect(limit).toBeCloseTo(QUOTA_CORES, 6);
    // Throttled in most of its periods, and the CPU it received is the quota's (the one core it demands is not given).
    const t0 = await eventually(() => agent!.value(`redline_cgroup_cpu_throttled_periods_total{${L}}`), (v) => v !== undefined, { timeoutMs: 30_000, intervalMs: 500 });
    const periods0 = (await agent!.value(`redline_cgroup_cpu_periods_total{${L}}`))!;
    const used0 = (await agent!.value(`redline_cgroup_cpu_seconds_total{${L}}`))!;
    const wall0 = Date.now();
    await waitFor(async () => ((await agent!.value(`redline_cgroup_cpu_periods_total{${L}}`)) ?? 0) >= periods0 + 20, { timeoutMs: 60_000, intervalMs: 500, what: '20 more quota periods' });
    const periods = (await agent!.value(`redline_cgroup_cpu_periods_total{${L}}`))! - periods0;
    const throttled = (await agent!.value(`redline_cgroup_cpu_throttled_periods_total{${L}}`))! - t0!;
    const cores = ((await agent!.value(`redline_cgroup_cpu_seconds_total{${L}}`))! - used0) / ((Date.now() - wall0) / 1000);
    expect(throttled / periods).toBeGreaterThan(0.5);
    expect(cores).toBeLessThanOrEqual(QUOTA_CORES * 1.5);
    expect((await agent!.value(`redline_cgroup_cpu_throttled_seconds_total{${L}}`))!).toBeGreaterThan(0);
    await expectAlertFiring(prom!, { onset: onsetOf(p), alertname: 'RedlineCpuThrottled', group: GROUPS.cpu, role: 'sut', env: ENV });
    await expectSaturated(GROUPS.cpu, 'cpu_throttling');
    await p.stop();
  }, 200_000);

  it.skipIf(!usable(memCg))('a SUT at 93% of its memory limit: the limit and charge read, RedlineMemoryNearLimit for its group within 30 s', async () => {
    const cg = memCg as TestCgroup;
    const charge = path.join(cg.dirs[0]!, cg.kind === 'v2' ? 'memory.current' : 'memory.usage_in_bytes');
    const p = inCgroup(cg, [FILL, charge, String(MEMORY_LIMIT), '0.93']);
    await p.until((o) => /ready \d+/.test(o), { timeoutMs: 60_000, what: 'the SUT holding its memory' });
    const L = `group="${GROUPS.mem}",role="sut"`;
    const limit = await eventually(() => agent!.value(`redline_cgroup_memory_limit_bytes{${L}}`), (v) => v !== undefined, { timeoutMs: 30_000, intervalMs: 500 });
    expect(limit).toBe(MEMORY_LIMIT);
    const used = await eventually(() => agent!.value(`redline_cgroup_memory_bytes{${L}}`), (v) => v !== undefined && v >= 0.9 * MEMORY_LIMIT, { timeoutMs: 30_000, intervalMs: 500 });
    expect(used!).toBeLessThanOrEqual(MEMORY_LIMIT);
    await expectAlertFiring(prom!, { onset: onsetOf(p), alertname: 'RedlineMemoryNearLimit', group: GROUPS.mem, role: 'sut', env: ENV });
    await expectSaturated(GROUPS.mem, 'memory');
    await p.stop();
  }, 200_000);
});
