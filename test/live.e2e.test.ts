/**
 * The live view in a real Chromium, against a real agent with real SUT and injector processes and
 * a statsd feed: no console errors, nothing fetched from anywhere but 127.0.0.1, charts drawing
 * the values /metrics shows, ticks arriving, the verdict following a saturation, and 100 groups.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startScenario, type Scenario } from '../bench/live-scenario.js';
import { CHROMIUM } from '../scripts/chromium.js';
import { valueOf } from './helpers/exposition.js';
import { eventually } from './helpers/wait.js';
import { run } from './helpers/process.js';
import { BIN } from './helpers/agent.js';

let sc: Scenario;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];
const foreign: string[] = [];

/** The suite's bounded wait, throwing with what it saw last when the deadline passes. */
async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const v = await eventually(fn, ok, { timeoutMs, intervalMs: 250, what });
  if (!ok(v)) throw new Error(`${what}: still ${JSON.stringify(v)} after ${timeoutMs} ms`);
  return v;
}

/** Runs `src` in the page (a string: the page's globals are not this program's types). */
const js = <T>(p: Page, src: string): Promise<T> => p.evaluate(src) as Promise<T>;

/** The chips of every chart: chart id → series id → the value the page shows. */
async function shown(): Promise<Record<string, Record<string, number | null>>> {
  return js(page, `(() => {
    const out = {};
    for (const fig of document.querySelectorAll('figure.chart')) {
      const m = {};
      for (const c of fig.querySelectorAll('.chip')) m[c.dataset.seriesId] = c.dataset.value ? Number(c.dataset.value) : null;
      out[fig.dataset.chartId] = m;
    }
    return out;
  })()`);
}

beforeAll(async () => {
  // A declared group whose pattern matches nothing (not even the agent's own command line).
  sc = await startScenario({ args: ['--sut=ghost=^redline-no-such-[p]rocess$'] });
  browser = await chromium.launch(CHROMIUM);
  page = await browser.newPage({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.hostname !== '127.0.0.1') foreign.push(r.url());
  });
  // Let a few seconds of load and a few host ticks accumulate before the page opens.
  await until('host collector ticks', async () => valueOf(await sc.metrics(), 'redline_injector_processes{group="load"}'), (v) => v === 1);
  await until('load seconds', async () => sc.seconds(), (n) => n >= 7);
  await page.goto(sc.url + '/');
});

afterAll(async () => {
  await browser?.close();
  await sc?.stop();
});

describe('live view', () => {
  it('loads with no console error and nothing requested from outside 127.0.0.1', async () => {
    await until('charts built', () => js<number>(page, 'window.__redline.charts.length'), (n) => n > 0);
    expect(await page.title()).toContain('Redline');
    // The landing page's links sit in the corner.
    expect(await page.locator('nav.corner a[href="/metrics"]').count()).toBe(1);
    expect(consoleErrors).toEqual([]);
    expect(foreign).toEqual([]);
  });

  it('receives a pushed update (Server-Sent Events)', async () => {
    const before = await js<number>(page, 'window.__redline.ticks');
    const t0 = Date.now();
    await until('next tick', () => js<number>(page, 'window.__redline.ticks'), (n) => n > before);
    // Reported, not asserted: the machine may be busy.
    process.stdout.write(`live view: next update arrived ${Date.now() - t0} ms after asking\n`);
    expect(await page.locator('#updated').textContent()).toMatch(/^updated \d\d:\d\d:\d\d$/);
  });

  it('draws every chart with the values /metrics shows', async () => {
    // Every chart with series is drawn (offscreen ones in idle time), canvas and all.
    await until(
      'charts drawn',
      () => js<string[]>(page, `[...document.querySelectorAll('figure.chart:not(.empty)')].filter((f) => !f.querySelector('canvas') || !Number(f.dataset.points)).map((f) => f.dataset.chartId)`),
      (missing) => missing.length === 0,
    );
    const ids = await js<string[]>(page, `[...document.querySelectorAll('figure.chart')].map((f) => f.dataset.chartId)`);
    for (const id of ['load', 'throughput', 'latency', 'errors', 'knee.throughput', 'knee.latency', 'intake', 'saturation.api.fds', 'saturation.api.cpu_thread', 'injector.load.cpu_thread']) {
      expect(ids).toContain(id);
    }

    // Gauges read straight from /metrics: polled until one reading of each side agrees.
    const close = (a: number | null | undefined, b: number | undefined, tol = 1e-6): boolean =>
      a !== null && a !== undefined && b !== undefined && Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
    const pairs: [string, string, string][] = [
      ['load', 'load.injectors', 'redline_injector_processes{group="load"}'],
      ['load', 'load.users', 'loadtest_active_users'],
      ['throughput', 'throughput.offered', 'loadtest_offered_rate'],
      ['saturation.api.fds', 'saturation.api.fds', 'redline_process_fd_ratio{group="api",role="sut"}'],
      ['saturation.api.memory_maps', 'saturation.api.memory_maps', 'redline_process_memory_maps_ratio{group="api",role="sut"}'],
      ['injector.load.fds', 'injector.load.fds', 'redline_process_fd_ratio{group="load",role="injector"}'],
    ];
    for (const [chart, series, metric] of pairs) {
      await until(
        `${chart}/${series} against ${metric}`,
        async () => {
          const [s, m] = await Promise.all([shown(), sc.metrics()]);
          return { page: s[chart]?.[series] ?? null, metrics: valueOf(m, metric) };
        },
        (v) => close(v.page, v.metrics),
        20_000,
      );
    }

    // Rates and quantiles from the counters and the histogram the feed fills: 100 req/s,
    // 10 % errors, every request 40 ms (so p50/p95/p99 interpolate inside the 25–50 ms bucket).
    const s = await until('rates settle', shown, (v) => close(v['throughput']?.['throughput.achieved'], 100, 0.25));
    expect(s['errors']!['errors.ratio']).toBeCloseTo(0.1, 2);
    expect(s['latency']!['latency.p50']).toBeCloseTo(0.0375, 6);
    expect(s['latency']!['latency.p95']).toBeCloseTo(0.04875, 6);
    expect(s['latency']!['latency.p99']).toBeCloseTo(0.04975, 6);
    // Intake: lines per second, against the rate of redline_statsd_lines_total over 5 s.
    const m1 = valueOf(await sc.metrics(), 'redline_statsd_lines_total')!;
    await new Promise((r) => setTimeout(r, 5000));
    const m2 = valueOf(await sc.metrics(), 'redline_statsd_lines_total')!;
    const perSecond = (m2 - m1) / 5;
    const intake = (await shown())['intake']!['intake.lines']!;
    expect(intake).toBeGreaterThan(perSecond * 0.6);
    expect(intake).toBeLessThan(perSecond * 1.4);
    // The knee chart has the one load level of a steady test.
    const knee = await js<{ load: number; throughput: number }[]>(page, 'window.__redline.knees[0]?.steps ?? []');
    expect(knee.length).toBeGreaterThanOrEqual(1);
  });

  it('is reachable by keyboard in page order, with the focus drawn', async () => {
    await page.evaluate('document.activeElement && document.activeElement.blur()');
    await page.evaluate('window.scrollTo(0, 0)');
    const seen: string[] = [];
    const outlines: string[] = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press('Tab');
      const f = await js<{ what: string; outline: string }>(page, `(() => {
        const el = document.activeElement;
        const what = el.matches('a.skip') ? 'skip' : el.matches('input[name=range]') ? 'range' : el.matches('a.report') ? 'report' : el.matches('#run') ? 'run' : el.matches('nav.corner summary') ? 'agent' : el.matches('figure.chart') ? 'chart:' + el.dataset.chartId : el.tagName;
        const s = getComputedStyle(el.matches('input[name=range]') ? el.closest('label') : el);
        return { what, outline: s.outlineStyle + ' ' + s.outlineWidth };
      })()`);
      seen.push(f.what);
      outlines.push(f.outline);
    }
    // The run picker is hidden with a single run; the charts follow in page order.
    expect(seen.slice(0, 6)).toEqual(['skip', 'range', 'report', 'agent', 'chart:load', 'chart:throughput']);
    for (const o of outlines) expect(o).toBe('solid 3px');
  });

  it('says which declared group matches no process, and for how long', async () => {
    const line = page.locator('#empty-groups p.empty-group[data-group="ghost"]');
    const text = await until('empty group banner', async () => ((await line.count()) > 0 ? await line.textContent() : ''), (t) => t !== '');
    expect(text).toMatch(/^group ghost matches no process for (\d+ min )?\d+ s — check its pattern/);
    // Only the empty one: api and load have their processes.
    expect(await page.locator('#empty-groups p.empty-group').count()).toBe(1);
    expect(await page.locator('#empty-groups').isVisible()).toBe(true);
  });

  it('downloads the same HTML report as redline report', async () => {
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click('a.report')]);
    const file = await download.path();
    const html = fs.readFileSync(file, 'utf8');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-live-'));
    try {
      const out = path.join(dir, 'report.html');
      const r = await run(process.execPath, [BIN, 'report', '--agent', sc.url, '--out', out], { timeoutMs: 30_000 });
      expect(r.code).toBe(0);
      const cli = fs.readFileSync(out, 'utf8');
      const title = (h: string): string => /<title>(.*?)<\/title>/.exec(h)?.[1] ?? '';
      expect(html).toContain('<meta name="generator" content="redline report">');
      expect(title(html)).toBe(title(cli));
      expect(title(html)).toMatch(/Redline report/);
      // The same document, but for the seconds that passed between the two reads.
      expect(Math.abs(html.length - cli.length)).toBeLessThan(cli.length * 0.2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('changes the verdict banner when the SUT, then the injector, saturates', async () => {
    const banner = page.locator('#verdict');
    expect(await banner.getAttribute('data-state')).toBe('ok');
    sc.saturate('sut');
    await until('SUT verdict', () => banner.getAttribute('data-state'), (s) => s === 'sut_saturated', 60_000);
    expect(await banner.getAttribute('data-group')).toBe('api');
    expect(await banner.getAttribute('data-resource')).toBe('fds');
    expect(await banner.locator('.verdict-text').textContent()).toMatch(/^SUT saturated — api: file descriptors/);
    expect(await banner.locator('.verdict-onset').textContent()).toMatch(/^since \d\d:\d\d:\d\d at 1 injector process/);
    sc.saturate('injector');
    await until('both verdict', () => banner.getAttribute('data-state'), (s) => s === 'both', 60_000);
    expect(await banner.locator('.verdict-text').textContent()).toContain('results invalid');
    expect(consoleErrors).toEqual([]);
  });
});

describe('live view with 100 groups', () => {
  let sc2: Scenario;
  afterAll(async () => {
    await sc2?.stop();
  });

  it('draws 100 SUT groups and stays responsive (frame time measured)', async () => {
    sc2 = await startScenario({ extraGroups: 100 });
    const p = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(e.message));
    const t0 = Date.now();
    await p.goto(sc2.url + '/');
    await until(
      '100 groups on the page',
      () => js<number>(p, `document.querySelectorAll('section.panel-group h2').length`),
      (n) => n >= 100,
      60_000,
    );
    process.stdout.write(`live view: 100 groups laid out ${Date.now() - t0} ms after navigation\n`);
    // Frame times while the page scrolls from top to bottom by keyboard and ticks keep arriving.
    const stats = await js<{ frames: number; p50: number; p95: number; max: number; ticks: number; updateP95: number; charts: number }>(p, `(async () => {
      const frames = [];
      let last = performance.now();
      let running = true;
      const loop = (now) => {
        frames.push(now - last);
        last = now;
        if (running) requestAnimationFrame(loop);
      };
      requestAnimationFrame(loop);
      const r = window.__redline;
      const ticks0 = r.ticks;
      const end = performance.now() + 8000;
      while (performance.now() < end) {
        window.scrollBy(0, window.innerHeight * 0.8);
        await new Promise((res) => setTimeout(res, 100));
      }
      running = false;
      frames.sort((a, b) => a - b);
      const q = (x) => frames[Math.min(frames.length - 1, Math.floor(x * frames.length))];
      const upd = [...r.updateMs].sort((a, b) => a - b);
      return { frames: frames.length, p50: q(0.5), p95: q(0.95), max: frames[frames.length - 1], ticks: r.ticks - ticks0, updateP95: upd[Math.floor(upd.length * 0.95)] ?? 0, charts: document.querySelectorAll('figure.chart').length };
    })()`);
    process.stdout.write(
      `live view, 100 groups, ${stats.charts} charts: ${stats.frames} frames in 8 s of scrolling, frame time p50 ${stats.p50.toFixed(1)} ms, p95 ${stats.p95.toFixed(1)} ms, max ${stats.max.toFixed(1)} ms; tick handling p95 ${stats.updateP95.toFixed(1)} ms; ${stats.ticks} ticks\n`,
    );
    expect(stats.charts).toBeGreaterThanOrEqual(200);
    expect(stats.frames).toBeGreaterThan(0);
    // Still responsive: a keyboard user reaches the range control and changes it.
    await p.keyboard.press('Home');
    await p.locator('input[name=range][value="30m"]').focus();
    await p.keyboard.press('Space');
    expect(await p.locator('input[name=range][value="30m"]').isChecked()).toBe(true);
    expect(errors).toEqual([]);
    await p.close();
  });
});

describe('live view with two load tests on one agent (env/run picker)', () => {
  let sc3: Scenario;
  afterAll(async () => {
    await sc3?.stop();
  });

  it('offers a picker of env/run and draws the load, throughput and latency of the one picked', async () => {
    sc3 = await startScenario({ runs: ['staging/r1', 'prod/r2'] });
    await until('both runs on /metrics', async () => {
      const m = await sc3.metrics();
      return [valueOf(m, 'loadtest_active_users{env="staging",run="r1"}'), valueOf(m, 'loadtest_active_users{env="prod",run="r2"}')];
    }, (v) => v[0] === 10 && v[1] === 20);
    const p = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(sc3.url + '/');
    const picker = p.locator('label.run');
    await until('picker shown', () => picker.isVisible(), (v) => v);
    const options = await p.locator('#run option').allTextContents();
    expect(options.sort()).toEqual(['env prod, run r2', 'env staging, run r1']);
    const chip = (run: string, id: string): Promise<number | null> =>
      js<number | null>(p, `(() => { const c = document.querySelector('figure.chart .chip[data-series-id="${id}@${run}"]'); return c && c.dataset.value ? Number(c.dataset.value) : null; })()`);
    const picked = await p.locator('#run').inputValue();
    const other = picked === 'staging/r1' ? 'prod/r2' : 'staging/r1';
    const users = (run: string): number => (run === 'staging/r1' ? 10 : 20);
    await until(`users of ${picked}`, () => chip(picked, 'load.users'), (v) => v === users(picked));
    // Only the picked run's series are drawn.
    expect(await chip(other, 'load.users')).toBeNull();
    await p.locator('#run').selectOption(other);
    await until(`users of ${other}`, () => chip(other, 'load.users'), (v) => v === users(other));
    await until(`offered of ${other}`, () => chip(other, 'throughput.offered'), (v) => v === 10 * users(other));
    expect(await chip(picked, 'load.users')).toBeNull();
    expect(await p.locator('#run').inputValue()).toBe(other);
    // The saturation charts and the knee are the agent's, whatever the run (docs/live.md).
    expect(await p.locator('figure.chart[data-chart-id="saturation.api.fds"]').count()).toBe(1);
    expect(await p.locator('p.note.all-runs').count()).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    await p.close();
  });
});
