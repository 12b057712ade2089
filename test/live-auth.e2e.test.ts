/**
 * The live view behind `--web.config.file` (TLS and basic auth): the page, its data, its event
 * stream and its report download ask for the same credentials as /metrics, and a real Chromium
 * given those credentials draws the page and receives the pushed ticks over TLS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { chromium, type Browser } from 'playwright-core';
import { startScenario, type Scenario } from '../bench/live-scenario.js';
import { CHROMIUM } from '../scripts/chromium.js';
import { makeCerts, type TestCerts } from './helpers/tls.js';
import { eventually } from './helpers/wait.js';

let dir = '';
let certs: TestCerts;
let sc: Scenario;
let browser: Browser;
let base = '';
const GOOD = 'alice:s3cret';

interface Answer {
  status: number;
  authenticate: string | undefined;
  type: string | undefined;
  /** The body's first bytes (an event stream is left open: what came within a second). */
  body: string;
}

/** One GET over TLS (trusting the test CA), with or without credentials. */
function get(p: string, auth?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.get(`${base}${p}`, { ca: fs.readFileSync(certs.ca), agent: false, ...(auth ? { auth } : {}), timeout: 20_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      const done = (): void => {
        clearTimeout(timer);
        req.destroy();
        resolve({ status: res.statusCode ?? 0, authenticate: res.headers['www-authenticate'], type: res.headers['content-type'], body });
      };
      // An event stream never ends: read until its first message, at most 5 s.
      const timer = setTimeout(done, 5000);
      res.on('data', (d: string) => {
        body += d;
        if (body.includes('\ndata: ') || body.startsWith('data: ')) done();
      });
      res.on('end', done);
      res.on('error', done);
    });
    req.on('error', reject);
  });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-live-auth-'));
  certs = makeCerts(path.join(dir, 'certs'));
  const file = path.join(dir, 'web.yml');
  // Cost 4 keeps the test quick; the agent reads any cost.
  fs.writeFileSync(file, `tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.serverKey}\nbasic_auth_users:\n  alice: ${bcrypt.hashSync('s3cret', 4)}\n`);
  sc = await startScenario({ args: [`--web.config.file=${file}`] });
  base = sc.url.replace(/^http:/, 'https:');
  browser = await chromium.launch(CHROMIUM);
});

afterAll(async () => {
  await browser?.close();
  await sc?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('the live view behind TLS and basic auth', () => {
  it('asks for the same credentials as /metrics on the page, its data, its event stream and its report', async () => {
    const paths = ['/metrics', '/', '/api/v1/live?range=5m', '/api/v1/live/events', '/live/assets/app.js', '/live/uplot/uPlot.iife.min.js', '/live/report.html'];
    for (const p of paths) {
      const none = await get(p);
      expect(none.status, p).toBe(401);
      expect(none.authenticate, p).toBe('Basic');
      const wrong = await get(p, 'alice:wrong');
      expect(wrong.status, p).toBe(401);
    }
    const metrics = await get('/metrics', GOOD);
    expect(metrics.status).toBe(200);
    expect((await get('/', GOOD)).body).toContain('<title>Redline — live load test</title>');
    const snap = await get('/api/v1/live?range=5m', GOOD);
    expect(snap.status).toBe(200);
    expect(JSON.parse(snap.body)).toHaveProperty('series');
    // The stream opens with the credentials and carries a tick.
    const events = await eventually(() => get('/api/v1/live/events', GOOD), (a) => a.body.includes('data: {'), { timeoutMs: 30_000, intervalMs: 500, what: 'a tick on the stream' });
    expect(events.status).toBe(200);
    expect(events.type).toContain('text/event-stream');
    expect(events.body).toMatch(/data: \{"catalogVersion":\d+,"t":\d+/);
  });

  it('draws in Chromium with the credentials and receives pushed ticks; without them gets 401', async () => {
    const anon = await browser.newContext({ ignoreHTTPSErrors: true });
    // Chromium answers the challenge with no credentials: the navigation fails (or shows the 401).
    const refused = await (await anon.newPage()).goto(base + '/').then(
      (r) => `HTTP ${r?.status()}`,
      (e: Error) => e.message,
    );
    expect(refused).toMatch(/HTTP 401|ERR_INVALID_AUTH_CREDENTIALS/);
    await anon.close();

    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, httpCredentials: { username: 'alice', password: 's3cret' } });
    const page = await ctx.newPage();
    const errors: string[] = [];
    const foreign: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (q) => new URL(q.url()).hostname !== '127.0.0.1' && foreign.push(q.url()));
    const ok = await page.goto(base + '/');
    expect(ok?.status()).toBe(200);
    const read = (): Promise<{ charts: number; ticks: number }> => page.evaluate('({ charts: window.__redline.charts.length, ticks: window.__redline.ticks })') as Promise<{ charts: number; ticks: number }>;
    const first = await eventually(read, (v) => v.charts > 0 && v.ticks > 0, { timeoutMs: 30_000, intervalMs: 250, what: 'charts and a tick' });
    expect(first.charts).toBeGreaterThan(0);
    const later = await eventually(read, (v) => v.ticks > first.ticks, { timeoutMs: 30_000, intervalMs: 250, what: 'the next tick' });
    expect(later.ticks).toBeGreaterThan(first.ticks);
    const updated = await eventually(() => page.locator('#updated').textContent(), (t) => /^updated \d\d:\d\d:\d\d$/.test(t ?? ''), { timeoutMs: 30_000, intervalMs: 250, what: 'the footer saying when the view was updated' });
    expect(updated).toMatch(/^updated \d\d:\d\d:\d\d$/);
    expect(errors).toEqual([]);
    expect(foreign).toEqual([]);
    await ctx.close();
  });
});
