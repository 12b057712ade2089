/**
 * The probe's statsd wire output, read with a plain UDP socket: real Node programs loaded with
 * the built probe (`npm run build` first), the way a user loads it (NODE_OPTIONS, --import,
 * the package name).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { start, stopAll, type Proc } from '../../test/helpers/process.js';
import { waitFor } from '../../test/helpers/wait.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PROBE = path.join(ROOT, 'dist', 'collector', 'probe', 'probe.cjs');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-probe-wire-'));
const sockets: dgram.Socket[] = [];

interface Line {
  name: string;
  value: number;
  type: string;
  tags: Record<string, string>;
}

function parse(line: string): Line | null {
  const m = /^([^:]+):([^|]+)\|([a-z]+)(?:\|#(.*))?$/.exec(line);
  if (!m) return null;
  const tags: Record<string, string> = {};
  for (const t of (m[4] ?? '').split(',').filter(Boolean)) {
    const i = t.indexOf(':');
    tags[t.slice(0, i)] = t.slice(i + 1);
  }
  return { name: m[1]!, value: Number(m[2]), type: m[3]!, tags };
}

/** A UDP receiver on 127.0.0.1 (or ::1) collecting datagrams. */
async function receiver(type: 'udp4' | 'udp6' = 'udp4'): Promise<{ port: number; packets: string[] }> {
  const sock = dgram.createSocket(type);
  sockets.push(sock);
  const packets: string[] = [];
  sock.on('message', (m) => packets.push(m.toString()));
  await new Promise<void>((r) => sock.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', () => r()));
  return { port: sock.address().port, packets };
}

/** Waits for `cond`; the assertions after it say what was missing. */
async function until(cond: () => boolean): Promise<void> {
  await waitFor(cond, { timeoutMs: 20_000, intervalMs: 50 }).catch(() => {});
}

function run(args: string[], env: NodeJS.ProcessEnv, cwd = dir): Proc {
  return start(process.execPath, args, { cwd, env });
}

const lines = (packets: string[]): Line[] => packets.flatMap((p) => p.split('\n')).map(parse).filter((l): l is Line => l !== null);

beforeAll(() => {
  expect(fs.existsSync(PROBE), `${PROBE} missing: run npm run build`).toBe(true);
  fs.writeFileSync(path.join(dir, 'wait.js'), 'setTimeout(() => {}, 6000);\n');
});
afterAll(async () => {
  await stopAll();
  for (const s of sockets) s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('probe wire format', () => {
  it('sends every metric each interval in datagrams that fit an MTU, tagged service, role and pid', async () => {
    const rx = await receiver();
    const child = run([path.join(dir, 'wait.js')], {
      NODE_OPTIONS: `--require ${PROBE}`,
      REDLINE_STATSD: `127.0.0.1:${rx.port}`,
      REDLINE_PROBE_INTERVAL_MS: '200',
      REDLINE_ROLE: 'injector',
      REDLINE_SERVICE: '',
    });
    const reports = (): number => lines(rx.packets).filter((l) => l.name === 'redline_nodejs_eventloop_utilization').length;
    await until(() => reports() >= 3);
    await child.stop();
    expect(reports()).toBeGreaterThanOrEqual(3);
    // Batched: a report is a couple of datagrams, not one per metric, none above 1400 bytes. The
    // watchdog thread sends its own reading (one line) in a datagram of its own each interval.
    for (const p of rx.packets) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(1400);
    const watchdog = rx.packets.filter((p) => p.startsWith('redline_nodejs_eventloop_stalled_seconds:') && !p.includes('\n'));
    expect(rx.packets.length - watchdog.length).toBeLessThanOrEqual(reports() * 2 + 1);
    for (const p of watchdog) expect(parse(p)).toMatchObject({ value: 0, type: 'g', tags: { service: 'wait', role: 'injector', pid: String(child.pid) } });
    // The first report: everything up to the second blocked-share reading (the first line of each).
    const all = lines(rx.packets.filter((p) => !watchdog.includes(p)));
    const cut = all.findIndex((l, i) => i > 0 && l.name === 'redline_nodejs_eventloop_blocked_ratio');
    const ls = all.slice(0, cut);
    const names = new Set(ls.map((l) => l.name));
    for (const n of [
      'redline_nodejs_eventloop_blocked_ratio',
      'redline_nodejs_eventloop_delay_seconds',
      'redline_nodejs_eventloop_lag_seconds',
      'redline_nodejs_eventloop_lag_mean_seconds',
      'redline_nodejs_eventloop_utilization',
      'redline_nodejs_heap_bytes',
      'redline_nodejs_memory_bytes',
      'redline_nodejs_active_handles',
      'redline_nodejs_active_requests',
      'redline_nodejs_cpu_seconds_total',
    ]) {
      expect(names, n).toContain(n);
    }
    for (const l of ls) {
      // An empty REDLINE_SERVICE falls back to the entry script's name.
      expect(l.tags).toMatchObject({ service: 'wait', role: 'injector', pid: String(child.pid) });
      expect(Number.isFinite(l.value)).toBe(true);
      expect(l.value).toBeGreaterThanOrEqual(0);
      expect(l.name.endsWith('_total') ? 'c' : 'g').toBe(l.type);
    }
    const quantiles = ls.filter((l) => l.name === 'redline_nodejs_eventloop_lag_seconds').map((l) => l.tags['quantile']);
    expect(quantiles).toEqual(['0', '0.5', '0.9', '0.99', '1']);
    const delay = ls.filter((l) => l.name === 'redline_nodejs_eventloop_delay_seconds');
    expect(delay.map((l) => l.tags['quantile'])).toEqual(['0.5', '0.9', '0.99', '1']);
    for (let i = 1; i < delay.length; i++) expect(delay[i]!.value).toBeGreaterThanOrEqual(delay[i - 1]!.value);
    const blocked = ls.find((l) => l.name === 'redline_nodejs_eventloop_blocked_ratio')!.value;
    expect(blocked).toBeGreaterThanOrEqual(0);
    expect(blocked).toBeLessThanOrEqual(1);
    const q = (k: string): number => ls.find((l) => l.name === 'redline_nodejs_eventloop_lag_seconds' && l.tags['quantile'] === k)!.value;
    expect(q('0')).toBeLessThanOrEqual(q('0.5'));
    expect(q('0.5')).toBeLessThanOrEqual(q('0.99'));
    expect(q('0.99')).toBeLessThanOrEqual(q('1'));
    const heap = (t: string): number => ls.find((l) => l.name === 'redline_nodejs_heap_bytes' && l.tags['type'] === t)!.value;
    expect(heap('used')).toBeGreaterThan(1e6);
    expect(heap('used')).toBeLessThanOrEqual(heap('total'));
    const rss = ls.find((l) => l.name === 'redline_nodejs_memory_bytes' && l.tags['type'] === 'rss')!.value;
    expect(rss).toBeGreaterThan(heap('total'));
    const elu = ls.find((l) => l.name === 'redline_nodejs_eventloop_utilization')!.value;
    expect(elu).toBeGreaterThanOrEqual(0);
    expect(elu).toBeLessThanOrEqual(1);
  });

  it('reports a loop blocked longer than the interval as the stall, not as a missing reading', async () => {
    const rx = await receiver();
    fs.writeFileSync(path.join(dir, 'stall.js'), 'setTimeout(() => { const end = Date.now() + 1500; while (Date.now() < end) {} }, 300);\nsetTimeout(() => {}, 4000);\n');
    const child = run([path.join(dir, 'stall.js')], { NODE_OPTIONS: `--require ${PROBE}`, REDLINE_STATSD: `127.0.0.1:${rx.port}`, REDLINE_PROBE_INTERVAL_MS: '200' });
    const maxLag = (): number => Math.max(0, ...lines(rx.packets).filter((l) => l.name === 'redline_nodejs_eventloop_lag_seconds' && l.tags['quantile'] === '1').map((l) => l.value));
    await until(() => maxLag() > 1);
    await child.stop();
    // The loop was blocked 1.5 s by the clock, so the stall reads at least that; it is one stall,
    // not the sum of the intervals it covered (7 of them would read over 10 s).
    expect(maxLag()).toBeGreaterThan(1.4);
    expect(maxLag()).toBeLessThan(6);
    // The report right after the stall shows a busy loop.
    expect(Math.max(...lines(rx.packets).filter((l) => l.name === 'redline_nodejs_eventloop_utilization').map((l) => l.value))).toBeGreaterThan(0.5);
  });

  it('counts a stall that starts right after each report, where the delay histogram was just reset', async () => {
    // The program's 500 ms timer shares the probe's timer list and runs right after the report
    // callback in the same turn, every time: the histogram's reset drops the gap its stall falls
    // in, so only the window's unaccounted time shows it. Each window then holds one stall.
    const rx = await receiver();
    fs.writeFileSync(path.join(dir, 'after-report.js'), 'setInterval(() => { const end = Date.now() + 150; while (Date.now() < end) {} }, 500);\nsetTimeout(() => process.exit(0), 20000);\n');
    const child = run([path.join(dir, 'after-report.js')], { NODE_OPTIONS: `--require ${PROBE}`, REDLINE_STATSD: `127.0.0.1:${rx.port}`, REDLINE_PROBE_INTERVAL_MS: '500' });
    const reports = (): Line[][] => {
      const out: Line[][] = [];
      for (const l of lines(rx.packets.filter((p) => !p.startsWith('redline_nodejs_eventloop_stalled_seconds:')))) {
        if (l.name === 'redline_nodejs_eventloop_blocked_ratio') out.push([]);
        out[out.length - 1]?.push(l);
      }
      return out;
    };
    // Six complete reports: the first (start-up) and the last (maybe cut) are not judged.
    await until(() => reports().length >= 7);
    await child.stop();
    const judged = reports().slice(1, 6);
    expect(judged).toHaveLength(5);
    for (const r of judged) {
      const v = (name: string, q?: string): number => r.find((l) => l.name === name && l.tags['quantile'] === q)!.value;
      const text = JSON.stringify(r.map((l) => `${l.name}${l.tags['quantile'] ?? ''}=${l.value}`));
      // 150 ms (at least, by the clock) of a ~500 ms window, known to within two 10 ms ticks.
      expect(v('redline_nodejs_eventloop_blocked_ratio'), text).toBeGreaterThan(0.2);
      expect(v('redline_nodejs_eventloop_blocked_ratio'), text).toBeLessThanOrEqual(1);
      expect(v('redline_nodejs_eventloop_delay_seconds', '1'), text).toBeGreaterThan(0.13);
      expect(v('redline_nodejs_eventloop_lag_seconds', '1'), text).toBeGreaterThan(0.13);
    }
  });

  it('accepts REDLINE_STATSD as host name, IPv6 in brackets, and ignores a bad port', async () => {
    const v4 = await receiver();
    const c1 = run([path.join(dir, 'wait.js')], { NODE_OPTIONS: `--require ${PROBE}`, REDLINE_STATSD: `localhost:${v4.port}`, REDLINE_PROBE_INTERVAL_MS: '200' });
    const v6 = await receiver('udp6');
    const c2 = run([path.join(dir, 'wait.js')], { NODE_OPTIONS: `--require ${PROBE}`, REDLINE_STATSD: `[::1]:${v6.port}`, REDLINE_PROBE_INTERVAL_MS: '200' });
    await until(() => v4.packets.length > 0 && v6.packets.length > 0);
    await c1.stop();
    await c2.stop();
    expect(v4.packets.length).toBeGreaterThan(0);
    expect(v6.packets.length).toBeGreaterThan(0);
    // A port that is not a port: the program still runs, prints and exits 0.
    const r = spawnSync(process.execPath, ['-e', 'console.log("ok")'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, NODE_OPTIONS: `--require ${PROBE}`, REDLINE_STATSD: 'nowhere:99999999', REDLINE_PROBE_INTERVAL_MS: 'soon' },
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('ok\n');
    expect(r.stderr).toBe('');
  });

  it('reports from the main thread only, not again from each worker thread (same pid)', async () => {
    const rx = await receiver();
    fs.writeFileSync(
      path.join(dir, 'workers.js'),
      "const { Worker } = require('node:worker_threads');\nfor (let i = 0; i < 2; i++) new Worker('setTimeout(() => {}, 3000)', { eval: true });\n",
    );
    const child = run([path.join(dir, 'workers.js')], { NODE_OPTIONS: `--require ${PROBE}`, REDLINE_STATSD: `127.0.0.1:${rx.port}`, REDLINE_PROBE_INTERVAL_MS: '200', REDLINE_PROBE_DEBUG: '1' });
    const reports = (): number => lines(rx.packets).filter((l) => l.name === 'redline_nodejs_eventloop_utilization').length;
    await until(() => reports() >= 4);
    await child.stop();
    // Workers share the process's stderr: each started reporter would have said so.
    expect(child.stderr().match(/reporting to/g)).toHaveLength(1);
    expect(reports()).toBeGreaterThanOrEqual(4);
  });

  it('loads by package name with --require and --import (CommonJS and ESM entry points)', async () => {
    // A project with redline in its node_modules, as after `npm install redline`.
    const app = path.join(dir, 'app');
    fs.mkdirSync(path.join(app, 'node_modules'), { recursive: true });
    fs.symlinkSync(ROOT, path.join(app, 'node_modules', 'redline'), 'dir');
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'shop-api', type: 'module' }));
    fs.writeFileSync(path.join(app, 'main.js'), "import { setTimeout as wait } from 'node:timers/promises';\nawait wait(5000);\n");
    const rx = await receiver();
    const env = { REDLINE_STATSD: `127.0.0.1:${rx.port}`, REDLINE_PROBE_INTERVAL_MS: '200' };
    const a = run(['--import', 'redline/probe', 'main.js'], env, app);
    const b = run(['main.js'], { ...env, NODE_OPTIONS: '--require redline/probe' }, app);
    const pidsSeen = (): Set<string> => new Set(lines(rx.packets).map((l) => `${l.tags['service']}/${l.tags['pid']}`));
    await until(() => pidsSeen().size >= 2);
    await a.stop();
    await b.stop();
    // The service defaults to the package's name.
    expect([...pidsSeen()].sort()).toEqual([`shop-api/${a.pid}`, `shop-api/${b.pid}`].sort());
  });

  it('an unref\'d probe never keeps a program alive, and never prints without REDLINE_PROBE_DEBUG', async () => {
    const rx = await receiver();
    const r = spawnSync(process.execPath, ['-e', 'setTimeout(() => process.stdout.write("bye"), 300)'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, NODE_OPTIONS: `--require ${PROBE}`, REDLINE_STATSD: `127.0.0.1:${rx.port}`, REDLINE_PROBE_INTERVAL_MS: '100' },
    });
    expect(r.status).toBe(0);
    expect(r.signal).toBeNull();
    expect(r.stdout).toBe('bye');
    expect(r.stderr).toBe('');
    // Exit code and an uncaught exception pass through unchanged.
    const e = spawnSync(process.execPath, ['-e', 'setTimeout(() => { throw new Error("boom") }, 150)'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, NODE_OPTIONS: `--require ${PROBE}`, REDLINE_STATSD: `127.0.0.1:${rx.port}`, REDLINE_PROBE_INTERVAL_MS: '100' },
    });
    expect(e.status).toBe(1);
    expect(e.stderr).toContain('Error: boom');
    expect(e.stderr).not.toContain('redline');
    const x = spawnSync(process.execPath, ['-e', 'process.exitCode = 7'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, NODE_OPTIONS: `--require ${PROBE}`, REDLINE_STATSD: '127.0.0.1:9' },
    });
    expect(x.status).toBe(7);
  });
});
