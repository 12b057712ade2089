/**
 * What the live view costs, in one run against its named peer (the same agent without viewers):
 *
 * 1. Agent CPU with 0 and with 50 connected Server-Sent Events viewers, rounds alternating, the
 *    agent a real one (`bench/live-scenario.ts`: host collector, SUT and injector processes,
 *    statsd load, 20 extra probed groups so a tick carries ~200 series).
 * 2. Statsd intake at a fixed line rate with 0 and with 5 viewers: loss and agent CPU per
 *    1,000 lines, rounds alternating.
 * 3. The page in Chromium with 100 groups: time until every chart in view is drawn, at
 *    1280×800 and at 3840×2160, and frame times while scrolling with ticks arriving.
 *
 * Results go to bench/RESULTS.md ("Live view") with the load average.
 *
 *   npm run build && flock /tmp/redline-bench.lock node dist/bench/live.js [--rounds 3] [--seconds 8]
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startScenario, type Scenario } from './live-scenario.js';
import { CHROMIUM } from '../scripts/chromium.js';
import { cpuNs, machineLine, sleep, writeSection, ROOT } from './results.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : args[i + 1]!;
};
const ROUNDS = Math.min(Number(opt('rounds', '3')), 10);
const SECONDS = Math.min(Number(opt('seconds', '8')), 30);
const RATE = Number(opt('rate', '100000'));
const WRITE = !args.includes('--no-write');
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(', ');

interface Viewer {
  messages: number;
  bytes: number;
  close(): void;
}

/** A viewer as a browser is one: the page's snapshot, then the event stream, read as it comes. */
async function viewer(url: string): Promise<Viewer> {
  await (await fetch(`${url}/api/v1/live?range=5m`)).text();
  return new Promise((resolve, reject) => {
    const v: Viewer = { messages: 0, bytes: 0, close: () => {} };
    const req = http.get(`${url}/api/v1/live/events`, { agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`events: HTTP ${res.statusCode}`));
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        v.bytes += d.length;
        v.messages += d.split('\n\ndata: ').length - 1 + (d.startsWith('data: ') ? 1 : 0);
      });
      res.on('error', () => {});
      v.close = () => req.destroy();
      resolve(v);
    });
    req.on('error', reject);
  });
}

async function viewers(url: string, n: number): Promise<Viewer[]> {
  const out: Viewer[] = [];
  for (let i = 0; i < n; i++) out.push(await viewer(url));
  return out;
}

/** Agent CPU (share of one core) over `SECONDS`. */
async function agentCpu(sc: Scenario): Promise<number> {
  const c0 = cpuNs(sc.agentPid);
  const t0 = process.hrtime.bigint();
  await sleep(SECONDS * 1000);
  return (cpuNs(sc.agentPid) - c0) / Number(process.hrtime.bigint() - t0);
}

async function viewerCost(): Promise<string[]> {
  const sc = await startScenario({ extraGroups: 20 });
  try {
    await sleep(8000);
    const without: number[] = [];
    const withV: number[] = [];
    let perViewer = 0;
    let tickBytes = 0;
    for (let r = 0; r < ROUNDS; r++) {
      without.push(await agentCpu(sc));
      const vs = await viewers(sc.url, 50);
      await sleep(2000);
      const m0 = vs.map((v) => v.messages);
      const b0 = vs.reduce((a, v) => a + v.bytes, 0);
      withV.push(await agentCpu(sc));
      const got = vs.map((v, i) => v.messages - m0[i]!);
      perViewer = Math.min(...got) / SECONDS;
      tickBytes = (vs.reduce((a, v) => a + v.bytes, 0) - b0) / Math.max(1, got.reduce((a, b) => a + b, 0));
      for (const v of vs) v.close();
      console.log(`round ${r + 1}: agent ${(without[r]! * 100).toFixed(2)} % of a core without viewers, ${(withV[r]! * 100).toFixed(2)} % with 50; slowest viewer ${perViewer.toFixed(2)} ticks/s (load ${load()})`);
      await sleep(2000);
    }
    const diffs = withV.map((w, i) => w - without[i]!);
    return [
      `**50 viewers** (agent with host collector, SUT and injector processes, statsd load and 20 extra probed groups; ${ROUNDS} rounds of ${SECONDS} s alternating 0 and 50 viewers; each viewer reads the page's snapshot, then the event stream):`,
      '',
      '| | agent CPU, median of rounds (share of one core) | by round |',
      '|---|---|---|',
      `| no viewer | ${(median(without) * 100).toFixed(2)} % | ${without.map((x) => (x * 100).toFixed(2)).join(', ')} |`,
      `| 50 viewers | ${(median(withV) * 100).toFixed(2)} % | ${withV.map((x) => (x * 100).toFixed(2)).join(', ')} |`,
      `| **cost of 50 viewers** (paired, median) | **${(median(diffs) * 100).toFixed(2)} % of one core** (target < 5 %) | ${diffs.map((x) => (x * 100).toFixed(2)).join(', ')} |`,
      '',
      `- Each viewer received ${perViewer.toFixed(2)} ticks/s (the slowest of 50); one tick is ${Math.round(tickBytes).toLocaleString('en')} bytes on the wire, serialised once for all of them.`,
    ];
  } finally {
    await sc.stop();
  }
}

interface IntakeRow {
  sent: number;
  accepted: number;
  cpuUsPer1000: number;
}

async function lines(sc: Scenario): Promise<number> {
  const m = /^redline_statsd_lines_total (\S+)$/m.exec(await sc.metrics());
  return m ? Number(m[1]) : 0;
}

async function intakePhase(sc: Scenario): Promise<IntakeRow> {
  const before = await lines(sc);
  const c0 = cpuNs(sc.agentPid);
  const sender = spawn(process.execPath, [path.join(ROOT, 'dist', 'bench', 'statsd-sender.js'), String(sc.udpPort), String(RATE), String(SECONDS * 1000)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  sender.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve) => sender.once('exit', () => resolve()));
  await sleep(500);
  const cpuUs = (cpuNs(sc.agentPid) - c0) / 1000;
  const accepted = (await lines(sc)) - before;
  const sent = (JSON.parse(out) as { lines: number }).lines;
  return { sent, accepted, cpuUsPer1000: cpuUs / (accepted / 1000) };
}

async function intakeCost(): Promise<string[]> {
  const sc = await startScenario({ extraGroups: 20, args: ['--statsd.max-series=200000'] });
  try {
    await sleep(5000);
    const rows: { viewers: number; r: IntakeRow }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      rows.push({ viewers: 0, r: await intakePhase(sc) });
      const vs = await viewers(sc.url, 5);
      await sleep(1000);
      rows.push({ viewers: 5, r: await intakePhase(sc) });
      for (const v of vs) v.close();
      const [a, b] = rows.slice(-2);
      console.log(`round ${r + 1}: 0 viewers ${a!.r.cpuUsPer1000.toFixed(0)} µs/1000 lines, loss ${(100 * (1 - a!.r.accepted / a!.r.sent)).toFixed(3)} %; 5 viewers ${b!.r.cpuUsPer1000.toFixed(0)} µs/1000 lines, loss ${(100 * (1 - b!.r.accepted / b!.r.sent)).toFixed(3)} % (load ${load()})`);
    }
    const of = (n: number): IntakeRow[] => rows.filter((x) => x.viewers === n).map((x) => x.r);
    const loss = (xs: IntakeRow[]): string => xs.map((x) => `${Math.max(0, 100 * (1 - x.accepted / x.sent)).toFixed(3)} %`).join(', ');
    const cpu = (xs: IntakeRow[]): number[] => xs.map((x) => x.cpuUsPer1000);
    const ratio = of(5).map((x, i) => x.cpuUsPer1000 / of(0)[i]!.cpuUsPer1000);
    return [
      '',
      `**Statsd with 5 viewers** (the same agent, the throughput benchmark's datagrams at ${RATE.toLocaleString('en')} lines/s for ${SECONDS} s; ${ROUNDS} rounds alternating 0 and 5 viewers):`,
      '',
      '| viewers | agent CPU µs / 1,000 lines, median | by round | loss by round |',
      '|---|---|---|---|',
      `| 0 | ${median(cpu(of(0))).toFixed(0)} | ${cpu(of(0)).map((x) => x.toFixed(0)).join(', ')} | ${loss(of(0))} |`,
      `| 5 | ${median(cpu(of(5))).toFixed(0)} | ${cpu(of(5)).map((x) => x.toFixed(0)).join(', ')} | ${loss(of(5))} |`,
      `| **5 / 0, paired** | **${median(ratio).toFixed(3)}** | ${ratio.map((x) => x.toFixed(3)).join(', ')} | |`,
      '',
      "- Loss is 1 − accepted ÷ sent, floored at 0: the scenario's own load feed (~100 lines/s) is accepted too. A ratio under 1 is noise of the shared machine: viewers cost no intake.",
    ];
  } finally {
    await sc.stop();
  }
}

interface Frames {
  p50: number;
  p95: number;
  max: number;
  n: number;
  update: number;
}

async function pageCost(): Promise<string[]> {
  const sc = await startScenario({ extraGroups: 100 });
  const browser = await chromium.launch(CHROMIUM);
  try {
    await sleep(8000);
    const out: string[] = ['', '**The page with 100 SUT groups** (≈ 220 charts; Chromium headless, software rendering, on the same 2 cores as the agent):', '', '| viewport | loads | DOMContentLoaded, median | every chart in view drawn, median (worst) |', '|---|---|---|---|'];
    let frames = null as Frames | null;
    for (const [w, h] of [
      [1280, 800],
      [3840, 2160],
    ] as const) {
      const dcl: number[] = [];
      const drawn: number[] = [];
      for (let i = 0; i < 5; i++) {
        const page = await browser.newPage({ viewport: { width: w, height: h }, bypassCSP: true });
        await page.goto(sc.url + '/');
        await page.waitForFunction('window.__redline && window.__redline.firstDrawMs !== null', undefined, { timeout: 30_000 });
        const t = (await page.evaluate(`({ dcl: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd, drawn: window.__redline.firstDrawMs })`)) as { dcl: number; drawn: number };
        dcl.push(t.dcl);
        drawn.push(t.drawn);
        if (w === 1280 && i === 4) {
          frames = (await page.evaluate(`(async () => {
            const f = [];
            let last = performance.now();
            let on = true;
            const loop = (now) => { f.push(now - last); last = now; if (on) requestAnimationFrame(loop); };
            requestAnimationFrame(loop);
            const end = performance.now() + 8000;
            while (performance.now() < end) { window.scrollBy(0, window.innerHeight * 0.8); await new Promise((r) => setTimeout(r, 100)); }
            on = false;
            f.sort((a, b) => a - b);
            const q = (x) => f[Math.min(f.length - 1, Math.floor(x * f.length))];
            const u = [...window.__redline.updateMs].sort((a, b) => a - b);
            return { p50: q(0.5), p95: q(0.95), max: f[f.length - 1], n: f.length, update: u[Math.floor(u.length * 0.95)] ?? 0 };
          })()`)) as Frames;
        }
        await page.close();
      }
      console.log(`${w}×${h}: DOMContentLoaded ${median(dcl).toFixed(0)} ms, charts in view drawn ${median(drawn).toFixed(0)} ms (worst ${Math.max(...drawn).toFixed(0)}) (load ${load()})`);
      out.push(`| ${w}×${h} | 5 | ${median(dcl).toFixed(0)} ms | ${median(drawn).toFixed(0)} ms (${Math.max(...drawn).toFixed(0)} ms) (target < 1 s) |`);
    }
    if (frames) {
      console.log(`frames: p50 ${frames.p50.toFixed(1)} p95 ${frames.p95.toFixed(1)} max ${frames.max.toFixed(1)} ms`);
      out.push('', `- Frame time while scrolling the 100-group page top to bottom for 8 s with ticks arriving (1280×800): p50 ${frames.p50.toFixed(1)} ms, p95 ${frames.p95.toFixed(1)} ms, worst ${frames.max.toFixed(1)} ms over ${frames.n} frames; handling one tick, p95 ${frames.update.toFixed(1)} ms. Charts out of view are redrawn every 10th tick in idle time only.`);
    }
    return out;
  } finally {
    await browser.close();
    await sc.stop();
  }
}

async function main(): Promise<void> {
  const startLoad = load();
  const a = await viewerCost();
  const b = await intakeCost();
  const c = await pageCost();
  const body = [
    `Command: \`npm run build && flock /tmp/redline-bench.lock node dist/bench/live.js --rounds ${ROUNDS} --seconds ${SECONDS}\`.`,
    `Machine: ${machineLine()}, shared with other engineers' builds and tests; 1-minute load average ${startLoad.split(',')[0]} at the start and ${load().split(',')[0]} at the end (${new Date().toISOString()}). Figures are paired against the same agent without viewers in the same run.`,
    '',
    ...a,
    ...b,
    ...c,
    '',
    '- `/metrics` stays on the agent\'s node:http server; only the other paths go through express.',
  ];
  if (WRITE) writeSection('Live view', body.join('\n'));
  console.log(body.join('\n'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
