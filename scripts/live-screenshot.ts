/**
 * Regenerates docs/img/live-light.png and docs/img/live-dark.png, the README's and docs/live.md's
 * pictures of the live view, from the recorded ramp in ramp-fixture.ts: the real express app on
 * 127.0.0.1, drawn by real Chromium in each colour scheme the browser can ask for, with the page's
 * clock frozen at the fixture's last tick. Next to each, `.sha256` holds the hash of what it was
 * made from (test/live-screenshot.test.ts fails when they drift apart).
 *
 * Run: npm run docs:live
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { createLiveApp } from '../exporters/live/server.js';
import { CHROMIUM } from './chromium.js';
import { DOCS_IMG, FIXTURE_END_MS, liveFixtureHash, rampFixture } from './ramp-fixture.js';

const fixture = rampFixture();
const hash = liveFixtureHash(fixture);
const app = createLiveApp({ live: fixture.live, telemetryPath: '/metrics', report: () => '<!doctype html><title>report</title>' });
const server = http.createServer(app);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
const browser = await chromium.launch({ ...CHROMIUM, args: [...CHROMIUM.args, '--font-render-hinting=none'] });
try {
  for (const scheme of ['light', 'dark'] as const) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: scheme, timezoneId: 'UTC', locale: 'en-GB', bypassCSP: true });
    await page.clock.setFixedTime(FIXTURE_END_MS);
    await page.goto(url);
    // Every chart with series drawn (those below the fold in idle time), the verdict written.
    await page.waitForFunction(
      `(() => { const figs = [...document.querySelectorAll('figure.chart:not(.empty)')]; return figs.length > 0 && figs.every((f) => f.querySelector('canvas') && Number(f.dataset.points) > 0); })()`,
      undefined,
      { timeout: 30_000 },
    );
    await page.waitForFunction(`document.querySelector('#verdict').dataset.state !== 'ok'`, undefined, { timeout: 30_000 });
    const out = path.join(DOCS_IMG, `live-${scheme}.png`);
    // The verdict, load and results, and the SUT's saturation against the load.
    await page.screenshot({ path: out, clip: { x: 0, y: 0, width: 1280, height: 1400 }, fullPage: true });
    fs.writeFileSync(`${out}.sha256`, hash + '\n');
    process.stdout.write(`wrote ${out}\n`);
    await page.close();
  }
} finally {
  await browser.close();
  server.close();
}
