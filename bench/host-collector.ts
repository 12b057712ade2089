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
import net from 'node:net';
import { Store } from '../core/store.js';
import { HostCollector } from '../collector/host/collector.js';
import { parseGroupFlag } from '../collector/host/groups.js';
import { readListenSockets } from '../collector/host/procfs.js';
import { cpuNs, writeSection, machineLine, sleep, ROOT } from './results.js';

const MATCHED = 50;
const TOTAL = 1000;
const TICKS = 20;
const procs: ChildProcess[] = [];

function startMatched(n: number): void {
  for (let i = 0; i < n; i++) {
    // Node processes: several threads each, like the services and injectors Redline watches.
    procs.push(spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'bench-matched'], { stdio: 'ignore' }));
  }
}

/** Matched processes that run a little every 20 ms, so every tick reads their threads too. */
function startBusy(n: number): ChildProcess[] {
  const out: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    const c = spawn(process.execPath, ['-e', 'setInterval(() => { let x = 0; for (let i = 0; i < 20000; i++) x += i; }, 20)', 'bench-busy'], { stdio: 'ignore' });
    procs.push(c);
    out.push(c);
  }
  return out;
}

function startUnmatched(n: number): void {
  for (let i = 0; i < n; i++) procs.push(spawn('sleep', ['600'], { stdio: 'ignore' }));
}

async function redlineCpuPerTick(groups: string): Promise<number> {
  const store = new Store({ maxSeries: 1000, setIntervalMs: 1000 });
  const c = new HostCollector(store, { intervalMs: 1000, perProcess: false, groups: [parseGroupFlag(groups, 'sut')] });
  await c.tick(); // first sight: classification of every process
  await sleep(200);
  await c.tick();
  const t0 = process.cpuUsage();
  for (let i = 0; i < TICKS; i++) {
    await c.tick();
    await sleep(50);
  }
  const d = process.cpuUsage(t0);
  await c.stop();
  return (d.user + d.system) / TICKS;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
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
    const idle = await redlineCpuPerTick('none=no-such-process-anywhere');
    startMatched(MATCHED);
    await sleep(1500);
    const at50 = await redlineCpuPerTick('bench=bench-matched');
    const busy = startBusy(MATCHED);
    await sleep(1500);
    const busy50 = await redlineCpuPerTick('busy=bench-busy');
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
    // cost, measured on its own and kept out of the per-process figure.
    const l0 = process.cpuUsage();
    for (let i = 0; i < TICKS; i++) await readListenSockets();
    const lu = process.cpuUsage(l0);
    const listenCost = (lu.user + lu.system) / TICKS;
    const perMatched = (at50 - idle - listenCost) / MATCHED;
    const perBusy = (busy50 - idle - listenCost) / MATCHED;
    const perUnmatched = (at1000 - at50) / (TOTAL - MATCHED);
    const peMatched = pe50 !== null ? pe50 / MATCHED : null;
    const rows = [
      `Command: \`npm run build && node dist/bench/host-collector.js\` (${TICKS} ticks or scrapes each).`,
      `Machine: ${machineLine()}. Run: ${new Date().toISOString()}.`,
      '',
      '| collector | processes (matched) | CPU µs per tick/scrape | µs per matched process | µs per unmatched process |',
      '|---|---|---|---|---|',
      `| Redline, groups but nothing matched (host files) | | ${idle.toFixed(0)} | | |`,
      `| Redline, /proc/net/tcp + tcp6 (accept queues, once a tick) | | ${listenCost.toFixed(0)} | | |`,
      `| Redline | ${MATCHED} (${MATCHED}) | ${at50.toFixed(0)} | ${perMatched.toFixed(0)} | |`,
      `| Redline, matched processes busy every 20 ms | ${MATCHED} (${MATCHED}) | ${busy50.toFixed(0)} | ${perBusy.toFixed(0)} | |`,
      `| Redline | ${TOTAL} (${MATCHED}) | ${at1000.toFixed(0)} | | ${perUnmatched.toFixed(1)} |`,
      `| process-exporter (Debian) | ${MATCHED} (${MATCHED}) | ${pe50?.toFixed(0) ?? 'not installed'} | ${peMatched?.toFixed(0) ?? ''} | |`,
      `| process-exporter (Debian) | ${TOTAL} (${MATCHED}) | ${pe1000?.toFixed(0) ?? 'not installed'} | | ${pe1000 !== null && pe50 !== null ? ((pe1000 - pe50) / (TOTAL - MATCHED)).toFixed(1) : ''} |`,
      `| node_exporter (Debian, host metrics only) | ${TOTAL} | ${ne1000?.toFixed(0) ?? 'not installed'} | | |`,
      '',
      `- Redline per matched process: ${perMatched.toFixed(0)} µs per tick when idle, ${perBusy.toFixed(0)} µs when busy (target ≤ 70 µs; ${peMatched !== null ? `process-exporter ${peMatched.toFixed(0)} µs, ratio ${(perBusy / peMatched).toFixed(2)} busy` : 'process-exporter not measured'}). A process that used no CPU since the last tick skips its per-thread reads.`,
      `- Redline per unmatched process: ${perUnmatched.toFixed(1)} µs per tick (target ≤ 5 µs).`,
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
