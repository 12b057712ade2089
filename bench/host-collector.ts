/**
 * Host collector cost: CPU per tick with 50 and with 1,000 processes running (50 matched),
 * against process-exporter and node_exporter (Debian packages) measured in the same run; then
 * statsd loss at 300,000 lines/s while the collector runs every second with 1,000 processes.
 *
 *   npm run build && node dist/bench/host-collector.js
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store } from '../core/store.js';
import { HostCollector } from '../collector/host/collector.js';
import { parseGroupFlag } from '../collector/host/groups.js';
import { readListenSockets } from '../collector/host/procfs.js';
import { cpuNs, writeSection, machineLine, sleep, ROOT, freePort } from './results.js';

const MATCHED = 50;
/** Busy matched processes (10% of a core each: more would saturate a small machine). */
const BUSY = 10;
const TOTAL = 1000;
const TICKS = 30;
const procs: ChildProcess[] = [];

function startMatched(n: number): void {
  for (let i = 0; i < n; i++) {
    // Node processes: several threads each, like the services and injectors Redline watches.
    procs.push(spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'bench-matched'], { stdio: 'ignore' }));
  }
}

/**
 * Matched processes that spin 10 ms every 100 ms (10% of a core each), so every tick sees their
 * CPU move and reads their threads too.
 */
function startBusy(n: number): ChildProcess[] {
  const out: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    const c = spawn(process.execPath, ['-e', 'setInterval(() => { const end = Date.now() + 10; while (Date.now() < end); }, 100)', 'bench-busy'], { stdio: 'ignore' });
    procs.push(c);
    out.push(c);
  }
  return out;
}

function startUnmatched(n: number): void {
  for (let i = 0; i < n; i++) procs.push(spawn('sleep', ['600'], { stdio: 'ignore' }));
}

/**
 * CPU per tick with the accept-queue reading off (it is a fixed cost per tick, measured on its
 * own below); the mean of the ticks, so the dearer readings of every 5th and 10th tick count.
 */
async function redlineCpuPerTick(groups: string): Promise<number> {
  const store = new Store({ maxSeries: 1000, setIntervalMs: 1000 });
  const c = new HostCollector(store, { intervalMs: 1000, perProcess: false, groups: [parseGroupFlag(groups, 'sut')], listenQueues: false });
  await c.tick(); // first sight: classification of every process
  await sleep(200);
  await c.tick();
  const each: number[] = [];
  for (let i = 0; i < TICKS; i++) {
    const t0 = process.cpuUsage();
    await c.tick();
    const t1 = process.cpuUsage(t0);
    each.push(t1.user + t1.system);
    await sleep(200);
  }
  await c.stop();
  return each.reduce((a, b) => a + b, 0) / each.length;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function exporterCpuPerScrape(name: string, cmd: string, args: (port: number) => string[]): Promise<number | null> {
  if (!fs.existsSync(cmd)) return null;
  const port = await freePort();
  const child = spawn(cmd, args(port), { stdio: 'ignore' });
  try {
    for (let i = 0; i < 50; i++) {
      try {
        await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        break;
      } catch {
        await sleep(100);
      }
    }
    await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const c0 = cpuNs(child.pid!);
    for (let i = 0; i < TICKS; i++) {
      await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      await sleep(50);
    }
    return (cpuNs(child.pid!) - c0) / 1000 / TICKS;
  } catch (err) {
    console.error(`${name}: ${(err as Error).message}`);
    return null;
  } finally {
    child.kill('SIGKILL');
  }
}

async function statsdLossWhileCollecting(): Promise<{ sent: number; accepted: number; lossPct: number }> {
  const agent = spawn(process.execPath, [path.join(ROOT, 'bin', 'redline.js'), '--statsd.listen-udp=127.0.0.1:0', '--statsd.listen-tcp=', '--web.listen-address=127.0.0.1:0', '--sut', 'bench=bench-matched', '--host.interval=1s'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const line = await new Promise<string>((resolve) => {
    agent.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const l = err.split('\n').find((x) => x.includes('redline agent started'));
      if (l) resolve(l);
    });
  });
  const udp = Number(/udp_port=(\d+)/.exec(line)![1]);
  const http = Number(/http_port=(\d+)/.exec(line)![1]);
  await sleep(1500);
  const sender = spawn(process.execPath, [path.join(ROOT, 'dist', 'bench', 'statsd-sender.js'), String(udp), '300000', '10000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  sender.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => sender.once('exit', r));
  await sleep(500);
  const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
  agent.kill('SIGTERM');
  const accepted = Number(/^redline_statsd_lines_total (\S+)$/m.exec(text)![1]);
  const sent = (JSON.parse(out) as { lines: number }).lines;
  return { sent, accepted, lossPct: (1 - accepted / sent) * 100 };
}

async function main(): Promise<void> {
  const peConfig = path.join(os.tmpdir(), `process-exporter-${process.pid}.yml`);
  fs.writeFileSync(peConfig, 'process_names:\n  - name: "{{.Comm}}"\n    cmdline:\n      - bench-matched\n');
  try {
    const load0 = os.loadavg()[0] ?? 0;
    const idle = await redlineCpuPerTick('none=no-such-process-anywhere');
    startMatched(MATCHED);
    await sleep(1500);
    const at50 = await redlineCpuPerTick('bench=bench-matched');
    const busy = startBusy(BUSY);
    await sleep(1500);
    const busy10 = await redlineCpuPerTick('busy=bench-busy');
    for (const c of busy) c.kill('SIGKILL');
    await sleep(500);
    const pe50 = await exporterCpuPerScrape('process-exporter', '/usr/bin/prometheus-process-exporter', (p) => ['-config.path', peConfig, '-web.listen-address', `127.0.0.1:${p}`]);
    startUnmatched(TOTAL - MATCHED);
    await sleep(1500);
    const at1000 = await redlineCpuPerTick('bench=bench-matched');
    const pe1000 = await exporterCpuPerScrape('process-exporter', '/usr/bin/prometheus-process-exporter', (p) => ['-config.path', peConfig, '-web.listen-address', `127.0.0.1:${p}`]);
    const ne1000 = await exporterCpuPerScrape('node_exporter', '/usr/bin/prometheus-node-exporter', (p) => [`--web.listen-address=127.0.0.1:${p}`]);
    const loss = await statsdLossWhileCollecting();

    // /proc/net/tcp (accept queues) is read once a tick whenever a group has members: a fixed
    // cost, measured on its own and kept out of the per-process figures.
    const lc: number[] = [];
    for (let i = 0; i < TICKS; i++) {
      const l0 = process.cpuUsage();
      await readListenSockets();
      const l1 = process.cpuUsage(l0);
      lc.push(l1.user + l1.system);
    }
    const listenCost = median(lc);
    const perMatched = (at50 - idle) / MATCHED;
    const perBusy = (busy10 - idle) / BUSY;
    const perUnmatched = (at1000 - at50) / (TOTAL - MATCHED);
    const peMatched = pe50 !== null ? pe50 / MATCHED : null;
    const rows = [
      `Command: \`npm run build && node dist/bench/host-collector.js\` (${TICKS} ticks or scrapes each; Redline: mean CPU of a tick without the accept-queue read, which is measured on its own (median)).`,
      `Machine: ${machineLine()}. Run: ${new Date().toISOString()}; 1-minute load average at the start ${load0.toFixed(2)} (other work on the machine makes /proc reads dearer).`,
      '',
      '| collector | processes (matched) | CPU µs per tick/scrape | µs per matched process | µs per unmatched process |',
      '|---|---|---|---|---|',
      `| Redline, groups but nothing matched (host files) | | ${idle.toFixed(0)} | | |`,
      `| Redline, /proc/net/tcp + tcp6 (accept queues, once a tick) | | ${listenCost.toFixed(0)} | | |`,
      `| Redline | ${MATCHED} (${MATCHED}) | ${at50.toFixed(0)} | ${perMatched.toFixed(0)} | |`,
      `| Redline, matched processes each busy 10% of a core | ${BUSY} (${BUSY}) | ${busy10.toFixed(0)} | ${perBusy.toFixed(0)} | |`,
      `| Redline | ${TOTAL} (${MATCHED}) | ${at1000.toFixed(0)} | | ${perUnmatched.toFixed(1)} |`,
      `| process-exporter (Debian) | ${MATCHED} (${MATCHED}) | ${pe50?.toFixed(0) ?? 'not installed'} | ${peMatched?.toFixed(0) ?? ''} | |`,
      `| process-exporter (Debian) | ${TOTAL} (${MATCHED}) | ${pe1000?.toFixed(0) ?? 'not installed'} | | ${pe1000 !== null && pe50 !== null ? ((pe1000 - pe50) / (TOTAL - MATCHED)).toFixed(1) : ''} |`,
      `| node_exporter (Debian, host metrics only) | ${TOTAL} | ${ne1000?.toFixed(0) ?? 'not installed'} | | |`,
      '',
      `- Redline per matched process: ${perMatched.toFixed(0)} µs per tick when idle, ${perBusy.toFixed(0)} µs when busy (its threads that ran are read each tick) (target ≤ 54 µs; ${peMatched !== null ? `process-exporter ${peMatched.toFixed(0)} µs in the same run, ratio ${(perMatched / peMatched).toFixed(3)} idle, ${(perBusy / peMatched).toFixed(3)} busy` : 'process-exporter not measured (Debian: apt-get install prometheus-process-exporter)'}). A process that used no CPU since the last tick skips its per-thread reads.`,
      `- Redline per unmatched process: ${perUnmatched.toFixed(1)} µs per tick (target ≤ 3.8 µs).`,
      `- Fixed per tick: ${idle.toFixed(0)} µs for the host files, plus ${listenCost.toFixed(0)} µs for /proc/net/tcp, where the kernel walks its whole socket hash table however few sockets there are.`,
      `- Costly readings of a matched process (status, per-thread context switches of threads switched in since) are taken every 5th tick, the fd limit and the memory-map count every 10th (every tick past half their limits); CPU, threads, fds, io and the busiest thread every tick.`,
      `- Statsd at 300,000 lines/s for 10 s with the collector ticking every second over ${TOTAL} processes: ${loss.accepted.toLocaleString('en')} of ${loss.sent.toLocaleString('en')} lines accepted, loss ${loss.lossPct.toFixed(3)}% (target < 0.1%).`,
    ];
    console.log(rows.join('\n'));
    writeSection('Host collector', rows.join('\n'));
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    fs.rmSync(peConfig, { force: true });
  }
}

main().catch((err) => {
  console.error(err);
  for (const p of procs) p.kill('SIGKILL');
  process.exit(1);
});
