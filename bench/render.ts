/**
 * /metrics render cost: Redline vs statsd_exporter, measured in one run.
 *
 * Each receiver (pinned to CPU 0) is fed 100,000 histogram series (12 buckets: statsd_exporter's
 * default 11 bounds plus +Inf) or 100,000 counters over TCP (no loss while filling), then
 * /metrics is read end to end (request to last byte) several times in each format it serves.
 * Then, with the 100k histograms held, the sender (CPU 1) offers 300,000 lines/s over UDP while
 * one scrape a second runs: the loss says whether rendering holds up ingestion.
 *
 *   npm run build && flock /tmp/redline-bench.lock node dist/bench/render.js \
 *     [--statsd-exporter PATH] [--series 100000] [--seconds 10] [--rate 300000] [--no-write] \
 *     [--rmem-max BYTES] [--loss-only]
 *
 * Both receivers ask for a 32 MiB UDP receive buffer, which Linux caps at net.core.rmem_max
 * (often 4 MiB or less); run as root, the benchmark raises rmem_max to `--rmem-max` (default
 * 32 MiB; 0 leaves it) for the run, for both receivers alike, and puts it back afterwards.
 * Why pinned: on a 2-core machine the sender needs a core of its own, and a receiver left free
 * would take the sender's core too; pinned, both receivers get the same single core. The issue
 * does not require one core: on a bigger host gzip (libuv's thread pool) runs beside the loop.
 * `--loss-only` skips the /metrics timings (the UDP loss with the 100k histograms only).
 *
 * statsd_exporter is built from source as /work/shared/tools/statsd_exporter/README.md says;
 * without `--statsd-exporter` (or STATSD_EXPORTER) only Redline is measured.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { cpuNs, rssBytes, writeSection, machineLine, sleep, ROOT, kill, freePort, pin, sendStatsd } from './results.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : args[i + 1]!;
};
const SERIES = Math.min(Number(opt('series', '100000')), 1_000_000);
const SECONDS = Math.min(Number(opt('seconds', '10')), 60);
const RATE = Number(opt('rate', '300000'));
const READS = 5;
const WRITE = !args.includes('--no-write');
const LOSS_ONLY = args.includes('--loss-only');
const RMEM_MAX = Number(opt('rmem-max', String(32 * 1024 * 1024)));
const RMEM_FILE = '/proc/sys/net/core/rmem_max';

/**
 * Raises net.core.rmem_max to `want` when it is lower and this process may (root); returns what
 * the run had and how to put the old value back.
 */
function raiseRmemMax(want: number): { before: number; during: number; restore: () => void } {
  const before = Number(fs.readFileSync(RMEM_FILE, 'latin1').trim());
  if (want <= before) return { before, during: before, restore: () => undefined };
  try {
    fs.writeFileSync(RMEM_FILE, String(want));
  } catch {
    return { before, during: before, restore: () => undefined };
  }
  return { before, during: want, restore: () => fs.writeFileSync(RMEM_FILE, String(before)) };
}
const EXPORTER = opt('statsd-exporter', process.env['STATSD_EXPORTER'] ?? '');
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const MAPPING = `defaults:\n  observer_type: histogram\n  histogram_options:\n    buckets: [${BUCKETS.join(', ')}]\nmappings: []\n`;

export const TEXT = 'text/plain;version=0.0.4';
export const OPENMETRICS = 'application/openmetrics-text;version=1.0.0';
export const PROTOBUF = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited';

interface Receiver {
  name: string;
  pid: number;
  udp: number;
  tcp: number;
  http: number;
  /** Formats it serves, by label. */
  formats: Record<string, string>;
  /** Lines it has read so far. */
  lines(): Promise<number>;
  stop(): Promise<void>;
}

/** A value from a text exposition read whole (small self-metric families only). */
async function scalar(url: string, re: RegExp): Promise<number> {
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const m of text.matchAll(re)) sum += Number(m[1]);
  return sum;
}

async function startRedline(dir: string): Promise<Receiver> {
  const [cmd, argv] = pin(0, [
    process.execPath,
    path.join(ROOT, 'bin', 'redline.js'),
    '--statsd.listen-udp=127.0.0.1:0',
    '--statsd.listen-tcp=127.0.0.1:0',
    '--web.listen-address=127.0.0.1:0',
    '--otlp.listen-address=',
    '--host.enabled=false',
    `--statsd.max-series=${SERIES * 2}`,
    `--statsd.mapping-config=${path.join(dir, 'mapping.yml')}`,
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
  const field = (k: string): number => Number(new RegExp(`${k}=(\\d+)`).exec(line)![1]);
  const http = field('http_port');
  const url = `http://127.0.0.1:${http}/metrics`;
  return {
    name: 'Redline',
    pid: child.pid!,
    udp: field('udp_port'),
    tcp: field('tcp_port'),
    http,
    formats: { text: TEXT, openmetrics: OPENMETRICS, protobuf: PROTOBUF },
    lines: () => scalar(url, /^redline_statsd_lines_total (\S+)$/gm),
    stop: () => kill(child),
  };
}

async function startExporter(dir: string): Promise<Receiver> {
  const [udp, http] = [await freePort(), await freePort()];
  const [cmd, argv] = pin(0, [
    EXPORTER,
    `--statsd.listen-udp=127.0.0.1:${udp}`,
    `--statsd.listen-tcp=127.0.0.1:${udp}`,
    `--web.listen-address=127.0.0.1:${http}`,
    `--statsd.mapping-config=${path.join(dir, 'mapping.yml')}`,
    '--statsd.read-buffer=33554432',
    `--statsd.cache-size=${SERIES * 2}`,
  ]);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'ignore'] });
  const url = `http://127.0.0.1:${http}/metrics`;
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(url);
      break;
    } catch {
      await sleep(100);
    }
  }
  return {
    name: 'statsd_exporter (master, built from source)',
    pid: child.pid!,
    udp,
    tcp: udp,
    http,
    formats: { text: TEXT, openmetrics: OPENMETRICS, protobuf: PROTOBUF },
    lines: () => scalar(url, /^statsd_exporter_lines_total (\S+)$/gm),
    stop: () => kill(child),
  };
}

/** Writes lines over one TCP connection, respecting backpressure. */
async function feedTcp(port: number, line: (i: number) => string, n: number): Promise<void> {
  const c = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  const PER = 500;
  for (let i = 0; i < n; i += PER) {
    let chunk = '';
    for (let j = i; j < Math.min(n, i + PER); j++) chunk += line(j) + '\n';
    if (!c.write(chunk)) await new Promise<void>((r) => c.once('drain', () => r()));
  }
  await new Promise<void>((r) => c.end(() => r()));
}

async function fill(r: Receiver, type: 'histogram' | 'counter'): Promise<void> {
  const line =
    type === 'histogram'
      ? (i: number): string => `render.h${i % 100}:${(i % 997) * 3}|ms|#id:${i}\nrender.h${i % 100}:${(i % 13) * 7}|ms|#id:${i}`
      : (i: number): string => `render.c${i % 100}:${1 + (i % 5)}|c|#id:${i}`;
  await feedTcp(r.tcp, line, SERIES);
  // Both receivers apply samples after reading them (statsd_exporter through a queue): wait
  // until every series is in the exposition.
  const re = type === 'histogram' ? /^render_h\d+_count\{/gm : /^render_c\d+\{/gm;
  const held = async (): Promise<number> => ((await (await fetch(`http://127.0.0.1:${r.http}/metrics`)).text()).match(re) ?? []).length;
  const deadline = Date.now() + 120_000;
  for (let n = await held(); n < SERIES; n = await held()) {
    if (Date.now() > deadline) throw new Error(`${r.name}: ${n} of ${SERIES} ${type} series after 120 s`);
    await sleep(500);
  }
}

/** One full read of /metrics: request to last byte (gzip when asked, as Prometheus asks), and the receiver's CPU for it. */
async function read(r: Receiver, accept: string, gzip = false): Promise<{ ms: number; cpuMs: number; bytes: number; type: string }> {
  const cpu0 = cpuNs(r.pid);
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${r.http}/metrics`, { headers: { accept, 'accept-encoding': gzip ? 'gzip' : 'identity' } });
  // Node's fetch decompresses gzip itself; the body is read to its end either way.
  const body = Buffer.from(await res.arrayBuffer());
  const ms = performance.now() - t0;
  const cpuMs = (cpuNs(r.pid) - cpu0) / 1e6;
  if (res.status !== 200) throw new Error(`${r.name}: /metrics answered ${res.status}`);
  return { ms, cpuMs, bytes: body.length, type: res.headers.get('content-type') ?? '' };
}

interface Timing {
  receiver: string;
  kind: string;
  format: string;
  medianMs: number;
  maxMs: number;
  /** Receiver CPU (every thread: render, gzip, HTTP) per read, median. */
  cpuMs: number;
  bytes: number;
  rssMiB: number;
}

async function time(r: Receiver, kind: string): Promise<Timing[]> {
  const out: Timing[] = [];
  for (const [format, accept] of Object.entries(r.formats)) {
    for (const gzip of [false, true]) {
      const warm = await read(r, accept, gzip); // warm-up: caches, JIT
      if (!warm.type.startsWith(accept.split(';')[0]!)) {
        console.log(`${r.name} does not serve ${format} (answered ${warm.type})`);
        break;
      }
      const times: number[] = [];
      const cpus: number[] = [];
      let bytes = 0;
      for (let i = 0; i < READS; i++) {
        const t = await read(r, accept, gzip);
        times.push(t.ms);
        cpus.push(t.cpuMs);
        bytes = t.bytes;
      }
      times.sort((a, b) => a - b);
      cpus.sort((a, b) => a - b);
      const row = { receiver: r.name, kind, format: gzip ? `${format}+gzip` : format, medianMs: times[Math.floor(READS / 2)]!, maxMs: times[READS - 1]!, cpuMs: cpus[Math.floor(READS / 2)]!, bytes, rssMiB: rssBytes(r.pid) / 2 ** 20 };
      console.log(`${row.receiver} ${kind} ${row.format}: median ${row.medianMs.toFixed(0)} ms, max ${row.maxMs.toFixed(0)} ms, CPU ${row.cpuMs.toFixed(0)} ms, ${(bytes / 1e6).toFixed(1)} MB, RSS ${row.rssMiB.toFixed(0)} MiB`);
      out.push(row);
    }
  }
  return out;
}

interface Loss {
  receiver: string;
  scrape: boolean;
  sent: number;
  accepted: number;
  lossPct: number;
  scrapes: number;
  scrapeMedianMs: number;
  cpuCores: number;
}

/** UDP at RATE lines/s for SECONDS, with one scrape a second (text, gzip, as Prometheus asks) or none. */
async function loss(r: Receiver, scrape: boolean): Promise<Loss> {
  const before = await r.lines();
  const cpu0 = cpuNs(r.pid);
  const sending = sendStatsd(r.udp, RATE, SECONDS * 1000);
  let running = true;
  void sending.then(() => (running = false));
  const scrapeMs: number[] = [];
  const t0 = Date.now();
  while (scrape && running && Date.now() - t0 < (SECONDS + 5) * 1000) {
    const started = Date.now();
    scrapeMs.push((await read(r, TEXT, true)).ms);
    await sleep(Math.max(0, 1000 - (Date.now() - started)));
  }
  const sent = await sending;
  await sleep(1000); // the receiver drains its socket buffer (and statsd_exporter its queue)
  const accepted = (await r.lines()) - before;
  const cpu = (cpuNs(r.pid) - cpu0) / 1e9;
  scrapeMs.sort((a, b) => a - b);
  const row = {
    receiver: r.name,
    scrape,
    sent: sent.lines,
    // A scrape's own self-metric reads are not statsd lines; nothing else reaches the receiver.
    accepted,
    lossPct: Math.max(0, (1 - accepted / sent.lines) * 100),
    scrapes: scrapeMs.length,
    scrapeMedianMs: scrapeMs[Math.floor(scrapeMs.length / 2)] ?? NaN,
    cpuCores: cpu / ((sent.elapsedMs + 1000) / 1000),
  };
  console.log(`${row.receiver} UDP ${RATE}/s ${scrape ? '+ 1 scrape/s' : 'no scrape'}: loss ${row.lossPct.toFixed(3)}% (${row.accepted} of ${row.sent}), ${row.scrapes} scrapes (median ${row.scrapeMedianMs.toFixed(0)} ms), ${row.cpuCores.toFixed(2)} cores`);
  return row;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-render-bench-'));
  fs.writeFileSync(path.join(dir, 'mapping.yml'), MAPPING);
  const makers: [string, () => Promise<Receiver>][] = [['redline', () => startRedline(dir)]];
  if (EXPORTER && fs.existsSync(EXPORTER)) makers.push(['statsd_exporter', () => startExporter(dir)]);
  else console.log('statsd_exporter not given (--statsd-exporter PATH): measuring Redline alone');
  const load0 = os.loadavg();
  const timings: Timing[] = [];
  const losses: Loss[] = [];
  const rmem = RMEM_MAX > 0 ? raiseRmemMax(RMEM_MAX) : { before: Number(fs.readFileSync(RMEM_FILE, 'latin1').trim()), during: 0, restore: () => undefined };
  if (rmem.during === 0) rmem.during = rmem.before;
  console.log(`net.core.rmem_max ${rmem.before} -> ${rmem.during} for this run`);
  try {
    for (const kind of LOSS_ONLY ? (['histogram'] as const) : (['histogram', 'counter'] as const)) {
      for (const [, make] of makers) {
        const r = await make();
        try {
          await fill(r, kind);
          if (!LOSS_ONLY) timings.push(...(await time(r, kind)));
          if (kind === 'histogram') {
            losses.push(await loss(r, false));
            losses.push(await loss(r, true));
          }
        } finally {
          await r.stop();
        }
      }
    }
  } finally {
    rmem.restore();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const load1 = os.loadavg();
  const peer = (t: Timing): Timing | undefined => timings.find((x) => x.receiver !== t.receiver && x.kind === t.kind && x.format === t.format);
  const lines: string[] = [
    `Command: \`npm run build && node dist/bench/render.js --statsd-exporter PATH --series ${SERIES} --seconds ${SECONDS} --rate ${RATE}\` (receiver pinned to CPU 0, sender to CPU 1).`,
    `Machine: ${machineLine()}. Run: ${new Date().toISOString()}. Load average (1/5/15 min) at start ${load0.map((l) => l.toFixed(2)).join(' / ')}, at end ${load1.map((l) => l.toFixed(2)).join(' / ')}.`,
    `UDP receive buffer: both receivers ask for 32 MiB; net.core.rmem_max was ${rmem.before.toLocaleString('en')} bytes${rmem.during !== rmem.before ? `, raised to ${rmem.during.toLocaleString('en')} for the run (restored after)` : ' (left as it was)'}.`,
    '',
    `/metrics end to end (request to last byte, median of ${READS} after a warm-up), ${SERIES.toLocaleString('en')} series fed over TCP:`,
    '',
    '| receiver | series | format | median ms | worst ms | receiver CPU ms | body bytes | × statsd_exporter | RSS MiB |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const t of timings) {
    const p = peer(t);
    const ratio = t.receiver === 'Redline' && p ? (t.medianMs / p.medianMs).toFixed(2) : '';
    lines.push(`| ${t.receiver} | ${t.kind} | ${t.format} | ${t.medianMs.toFixed(0)} | ${t.maxMs.toFixed(0)} | ${t.cpuMs.toFixed(0)} | ${t.bytes.toLocaleString('en')} | ${ratio} | ${t.rssMiB.toFixed(0)} |`);
  }
  lines.push('', `UDP at ${RATE.toLocaleString('en')} lines/s for ${SECONDS} s with one scrape a second (text, gzip) of the ${SERIES.toLocaleString('en')} histogram series:`, '');
  lines.push('| receiver | scraping | lines sent | lines read | loss | scrapes | median scrape ms | CPU cores |', '|---|---|---|---|---|---|---|---|');
  for (const l of losses) lines.push(`| ${l.receiver} | ${l.scrape ? '1/s' : 'none'} | ${l.sent.toLocaleString('en')} | ${l.accepted.toLocaleString('en')} | ${l.lossPct.toFixed(3)}% | ${l.scrapes} | ${l.scrapeMedianMs.toFixed(0)} | ${l.cpuCores.toFixed(2)} |`);
  if (WRITE) {
    writeSection('Render', lines.join('\n'));
    console.log('written to bench/RESULTS.md');
  } else console.log(lines.join('\n'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
