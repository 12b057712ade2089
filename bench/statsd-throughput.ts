/**
 * Statsd throughput: Redline vs etsy statsd vs a bare Node.js UDP socket, in one run.
 *
 * Receiver pinned to CPU 0, sender to CPU 1 (taskset). For each fixed line rate and flat out,
 * the sender blasts ~20-line datagrams (1,000 names; counters, sampled timers, gauges, DogStatsD
 * tags) for a bounded time; we read what each receiver accepted and its CPU from /proc.
 * Then /metrics is timed with 100,000 series. Results go to bench/RESULTS.md.
 *
 *   npm run build && node dist/bench/statsd-throughput.js [--seconds 5] [--rates 250000,500000,...]
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuNs, rssBytes, writeSection, machineLine, sleep, ROOT, kill, pin, sendStatsd } from './results.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : args[i + 1]!;
};
const SECONDS = Math.min(Number(opt('seconds', '5')), 30);
const RATES = opt('rates', '250000,500000,1000000,1500000,2000000,0').split(',').map(Number);
const DIST = path.join(ROOT, 'dist', 'bench');
/** `--agent DIR` runs the Redline of another checkout (a before/after comparison). */
const AGENT_ROOT = path.resolve(opt('agent', ROOT));
/** `--only redline` (or `bare,redline`) skips the other receivers. */
const ONLY = opt('only', 'bare,redline,etsy').split(',');
/** `--no-scrape` skips the /metrics timing. */
const SCRAPE = !args.includes('--no-scrape');
/** `--no-write` leaves bench/RESULTS.md alone (comparison runs). */
const WRITE = !args.includes('--no-write');

interface Receiver {
  name: string;
  pid: number;
  port: number;
  /** Lines the receiver has accepted so far (cumulative). */
  lines(): Promise<number>;
  stop(): Promise<void>;
}

async function startBare(): Promise<Receiver> {
  const [cmd, argv] = pin(0, [process.execPath, path.join(DIST, 'bare-udp.js')]);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve((m as { port: number }).port)));
  return {
    name: 'bare Node UDP socket',
    pid: child.pid!,
    port,
    lines: () =>
      new Promise((resolve) => {
        child.once('message', (m) => resolve((m as { lines: number }).lines));
        child.send('report');
      }),
    stop: () => kill(child),
  };
}

async function startRedline(extra: string[] = []): Promise<Receiver & { http: number }> {
  const [cmd, argv] = pin(0, [
    process.execPath,
    path.join(AGENT_ROOT, 'bin', 'redline.js'),
    '--statsd.listen-udp=127.0.0.1:0',
    '--statsd.listen-tcp=',
    '--web.listen-address=127.0.0.1:0',
    '--host.enabled=false',
    ...extra,
  ]);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const line = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const l = err.split('\n').find((x) => x.includes('redline agent started'));
      if (l) resolve(l);
    });
    child.once('exit', (c) => reject(new Error(`redline exited (${c}): ${err}`)));
  });
  const http = Number(/http_port=(\d+)/.exec(line)![1]);
  const port = Number(/udp_port=(\d+)/.exec(line)![1]);
  return {
    name: 'Redline',
    pid: child.pid!,
    port,
    http,
    lines: async () => {
      const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
      const m = /^redline_statsd_lines_total (\S+)$/m.exec(text);
      return m ? Number(m[1]) : 0;
    },
    stop: () => kill(child),
  };
}

async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

async function startEtsy(): Promise<Receiver> {
  const port = await freePort();
  const mgmt = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etsy-statsd-'));
  const cfg = path.join(dir, 'config.js');
  // No flush during the run (counters would reset); no backend: only intake is measured.
  fs.writeFileSync(
    cfg,
    `module.exports = ${JSON.stringify({ port, address: '127.0.0.1', mgmt_port: mgmt, mgmt_address: '127.0.0.1', backends: [], flushInterval: 2_000_000_000 })};\n`,
  );
  const statsdDir = path.join(ROOT, 'node_modules', 'statsd');
  const [cmd, argv] = pin(0, [process.execPath, path.join(statsdDir, 'stats.js'), cfg]);
  const child = spawn(cmd, argv, { cwd: statsdDir, stdio: ['ignore', 'ignore', 'ignore'] });
  const query = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const c = net.connect(mgmt, '127.0.0.1');
      let out = '';
      c.on('data', (d) => {
        out += d.toString();
        if (out.includes('END')) {
          c.end();
          resolve(out);
        }
      });
      c.on('error', reject);
      c.write('counters\n');
    });
  for (let i = 0; i < 50; i++) {
    try {
      await query();
      break;
    } catch {
      await sleep(100);
    }
  }
  return {
    name: 'etsy statsd 0.9 (npm statsd)',
    pid: child.pid!,
    port,
    lines: async () => {
      const m = /'statsd\.metrics_received': (\d+)/.exec(await query());
      return m ? Number(m[1]) : 0;
    },
    stop: async () => {
      await kill(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Row {
  receiver: string;
  rate: number;
  sent: number;
  accepted: number;
  acceptedPerS: number;
  lossPct: number;
  cpuUsPer1000: number;
  cpuCores: number;
  rssMiB: number;
}

async function phase(r: Receiver, rate: number): Promise<Row> {
  const before = await r.lines();
  const cpu0 = cpuNs(r.pid);
  const sent = await sendStatsd(r.port, rate, SECONDS * 1000);
  await sleep(500); // let the receiver drain its socket buffer
  const cpu1 = cpuNs(r.pid);
  const accepted = (await r.lines()) - before;
  const cpuUs = (cpu1 - cpu0) / 1000;
  return {
    receiver: r.name,
    rate,
    sent: sent.lines,
    accepted,
    acceptedPerS: accepted / (sent.elapsedMs / 1000),
    lossPct: sent.lines > 0 ? Math.max(0, (1 - accepted / sent.lines) * 100) : 0,
    cpuUsPer1000: accepted > 0 ? cpuUs / (accepted / 1000) : 0,
    cpuCores: cpuUs / 1e6 / ((sent.elapsedMs + 500) / 1000),
    rssMiB: rssBytes(r.pid) / 1024 / 1024,
  };
}

/** Sends `n` distinct series to a Redline agent, then times full /metrics reads. */
async function scrapeBench(n: number): Promise<{ series: number; bytes: number; medianMs: number; maxMs: number; renderMs: number; rssMiB: number }> {
  const agent = await startRedline([`--statsd.max-series=${n * 2}`]);
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.connect(agent.port, '127.0.0.1', () => r()));
  const PER = 40;
  for (let i = 0; i < n; i += PER) {
    const lines: string[] = [];
    for (let j = i; j < Math.min(n, i + PER); j++) lines.push(`bench.series:${j}|g|#shard:${j % 100},id:${j}`);
    sock.send(Buffer.from(lines.join('\n')));
    if ((i / PER) % 50 === 0) await sleep(2); // paced: this measures /metrics, not intake
  }
  await sleep(500);
  sock.close();
  const times: number[] = [];
  let bytes = 0;
  let text = '';
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    text = await (await fetch(`http://127.0.0.1:${agent.http}/metrics`)).text();
    times.push(performance.now() - t0);
    bytes = Buffer.byteLength(text);
  }
  const series = (text.match(/^bench_series\{/gm) ?? []).length;
  const render = Number(/^redline_scrape_duration_seconds (\S+)$/m.exec(text)?.[1] ?? NaN) * 1000;
  const rss = rssBytes(agent.pid) / 1024 / 1024;
  await agent.stop();
  times.sort((a, b) => a - b);
  return { series, bytes, medianMs: times[3]!, maxMs: times[6]!, renderMs: render, rssMiB: rss };
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const all: [string, () => Promise<Receiver>][] = [
    ['bare', startBare],
    ['redline', () => startRedline()],
    ['etsy', startEtsy],
  ];
  const makers = all.filter(([k]) => ONLY.includes(k)).map(([, m]) => m);
  for (const make of makers) {
    const r = await make();
    await sleep(300);
    try {
      for (const rate of RATES) {
        const row = await phase(r, rate);
        rows.push(row);
        console.log(
          `${row.receiver.padEnd(28)} rate ${rate ? (rate / 1e6).toFixed(2) + 'M' : 'flat-out'}\taccepted ${(row.acceptedPerS / 1e6).toFixed(3)}M/s\tloss ${row.lossPct.toFixed(3)}%\tcpu ${row.cpuUsPer1000.toFixed(0)} µs/1000 lines\t${row.cpuCores.toFixed(2)} cores\trss ${row.rssMiB.toFixed(0)} MiB`,
        );
      }
    } finally {
      await r.stop();
    }
  }
  if (!SCRAPE) return;
  const scrape = await scrapeBench(100_000);
  console.log(`/metrics with ${scrape.series} series (${(scrape.bytes / 1e6).toFixed(1)} MB): median ${scrape.medianMs.toFixed(0)} ms, max ${scrape.maxMs.toFixed(0)} ms, render ${scrape.renderMs.toFixed(0)} ms, agent RSS ${scrape.rssMiB.toFixed(0)} MiB`);

  const bareBy = new Map(rows.filter((r) => r.receiver.startsWith('bare')).map((r) => [r.rate, r]));
  const fmtRate = (r: number): string => (r ? `${(r / 1e6).toFixed(2)}M` : 'flat out');
  const lines: string[] = [
    `Command: \`npm run build && node dist/bench/statsd-throughput.js --seconds ${SECONDS}\` (receiver pinned to CPU 0, sender to CPU 1).`,
    `Machine: ${machineLine()}; net.core.rmem_max = ${fs.readFileSync('/proc/sys/net/core/rmem_max', 'latin1').trim()}. Run: ${new Date().toISOString()}.`,
    '',
    '| receiver | offered lines/s | accepted lines/s | loss | CPU µs / 1000 lines | × bare socket | cores | RSS MiB |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const bare = bareBy.get(r.rate);
    const ratio = bare && bare.cpuUsPer1000 > 0 ? (r.cpuUsPer1000 / bare.cpuUsPer1000).toFixed(2) : '';
    lines.push(
      `| ${r.receiver} | ${fmtRate(r.rate)} | ${Math.round(r.acceptedPerS).toLocaleString('en')} | ${r.lossPct.toFixed(3)}% | ${r.cpuUsPer1000.toFixed(0)} | ${ratio} | ${r.cpuCores.toFixed(2)} | ${r.rssMiB.toFixed(0)} |`,
    );
  }
  lines.push('');
  for (const name of new Set(rows.map((r) => r.receiver))) {
    const ok = rows.filter((r) => r.receiver === name && r.rate > 0 && r.lossPct < 0.1).map((r) => r.rate);
    lines.push(`- ${name}: highest fixed rate with < 0.1% loss: ${ok.length ? fmtRate(Math.max(...ok)) + ' lines/s' : 'none of the rates tried'}.`);
  }
  lines.push(
    `- /metrics with ${scrape.series.toLocaleString('en')} series (${(scrape.bytes / 1e6).toFixed(1)} MB of text): median ${scrape.medianMs.toFixed(0)} ms, worst ${scrape.maxMs.toFixed(0)} ms end to end (render alone ${scrape.renderMs.toFixed(0)} ms); agent RSS ${scrape.rssMiB.toFixed(0)} MiB.`,
  );
  if (WRITE) writeSection('Statsd throughput', lines.join('\n'));
  console.log('written to bench/RESULTS.md');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
