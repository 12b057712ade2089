/**
 * Regenerates docs/img/report.png, the README's picture of `redline report --out`, from the
 * recorded ramp in report-fixture.ts, drawn by real Chromium; and docs/img/report.png.sha256, the
 * hash of the HTML it was made from (test/report-screenshot.test.ts fails when they drift apart).
 *
 * Run: npm run docs:report
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { fixtureHtml } from './report-fixture.js';

const root = [path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'), path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')].find((p) =>
  fs.existsSync(path.join(p, 'package.json')),
)!;
const html = fixtureHtml();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-shot-'));
const file = path.join(tmp, 'report.html');
fs.writeFileSync(file, html);
const browser = await chromium.launch({
  executablePath: process.env['CHROMIUM'] ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--font-render-hinting=none'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
  await page.goto(`file://${file}`);
  await page.waitForSelector('body[data-charts]');
  const out = path.join(root, 'docs', 'img', 'report.png');
  // The banner, the step table and the first charts: what a reader of the README needs to see.
  await page.screenshot({ path: out, clip: { x: 0, y: 0, width: 1280, height: 1500 }, fullPage: true });
  fs.writeFileSync(`${out}.sha256`, crypto.createHash('sha256').update(html).digest('hex') + '\n');
  process.stdout.write(`wrote ${path.relative(root, out)}\n`);
} finally {
  await browser.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
