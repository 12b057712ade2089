/**
 * Regenerates docs/img/report.png, the README's picture of `redline report --out`, from the
 * recorded ramp in ramp-fixture.ts, drawn by real Chromium; and docs/img/report.png.sha256, the
 * hash of the HTML it was made from (test/report-screenshot.test.ts fails when they drift apart).
 *
 * Run: npm run docs:report
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM } from './chromium.js';
import { DOCS_IMG, reportFixtureHash, reportFixtureHtml } from './ramp-fixture.js';

const html = reportFixtureHtml();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-shot-'));
const file = path.join(tmp, 'report.html');
fs.writeFileSync(file, html);
const browser = await chromium.launch({ ...CHROMIUM, args: [...CHROMIUM.args, '--font-render-hinting=none'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
  await page.goto(`file://${file}`);
  await page.waitForSelector('body[data-charts]');
  const out = path.join(DOCS_IMG, 'report.png');
  // The banner, the step table and the first charts: what a reader of the README needs to see.
  await page.screenshot({ path: out, clip: { x: 0, y: 0, width: 1280, height: 1500 }, fullPage: true });
  fs.writeFileSync(`${out}.sha256`, reportFixtureHash(html) + '\n');
  process.stdout.write(`wrote ${out}\n`);
} finally {
  await browser.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
