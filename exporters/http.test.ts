/**
 * The /metrics handler over a real socket: concurrent scrapes share one streamed render (and one
 * gzip), a large body arrives in chunks, and /-/ready turns 503 while /metrics cannot be served.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Store, type Family, type Series } from '../core/store.js';
import { silentLogger } from '../core/log.js';
import { WebServer } from './http.js';
import { render } from './exposition.js';
import zlib from 'node:zlib';
import { valueOf } from '../test/helpers/exposition.js';
import { waitFor } from '../test/helpers/wait.js';

const servers: WebServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serve(store: Store): Promise<string> {
  const web = new WebServer(
    store,
    { host: '127.0.0.1', port: 0, telemetryPath: '/metrics', reload: () => Promise.resolve(''), describe: () => [], enableLifecycle: false, quit: () => {}, version: 'test' },
    silentLogger,
  );
  servers.push(web);
  const port = await web.listen();
  web.setReady(true);
  return `http://127.0.0.1:${port}`;
}

/** A raw GET (no automatic decompression), with the body's bytes and how many chunks carried them. */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer; chunks: number }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts), chunks: parts.length }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

function big(store: Store, n: number): void {
  for (let i = 0; i < n; i++) {
    const s = store.statsdSeries({ name: 'lat', help: 'Latency.', type: 'histogram', labelNames: ['route'], labelValues: [`/items/${i}`], buckets: [0.1, 1, 10], ttlMs: 0, isSet: false });
    if (typeof s === 'string') throw new Error(s);
    s.observe(0.5, 1, 0);
  }
}

describe('/metrics', () => {
  it('streams one shared render to concurrent scrapers, plain and gzip', async () => {
    const store = new Store({ maxSeries: 100_000, setIntervalMs: 1000 });
    big(store, 20_000);
    const url = await serve(store);
    const first = await get(`${url}/metrics`);
    expect(first.status).toBe(200);
    expect(first.headers['transfer-encoding']).toBe('chunked');
    expect(first.chunks).toBeGreaterThan(1);
    const count = (name: string): number => [...store.families.get(name)!.series.values()].reduce((a, s) => a + s.value, 0);
    const renders = count('redline_scrape_renders_total');
    // The next render waits at its refresh until all four scrapers have arrived.
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    store.onRefresh(() => gate);
    const pending = Promise.all([get(`${url}/metrics`), get(`${url}/metrics`), get(`${url}/metrics`, { 'accept-encoding': 'gzip' }), get(`${url}/metrics`, { 'accept-encoding': 'gzip' })]);
    await waitFor(() => count('redline_scrapes_total') === 5, { what: 'four scrapes in flight' });
    open();
    const all = await pending;
    expect(count('redline_scrape_renders_total')).toBe(renders + 1);
    const bodies = all.map((r) => (r.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(r.body) : r.body).toString());
    for (const b of bodies) expect(b).toBe(bodies[0]);
    expect(bodies[0]!.split('\n').filter((l) => l.startsWith('lat_count{')).length).toBe(20_000);
  });

  it('answers 500 and turns /-/ready to 503 while a render fails, and recovers', async () => {
    const store = new Store({ maxSeries: 10, setIntervalMs: 1000 });
    const url = await serve(store);
    expect((await get(`${url}/-/ready`)).status).toBe(200);
    const broken = { name: 'zz_broken', own: false, get series(): never { throw new Error('broken family'); } } as unknown as Family;
    store.families.set('zz_broken', broken);
    expect((await get(`${url}/metrics`)).status).toBe(500);
    const ready = await get(`${url}/-/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body.toString()).toContain('broken family');
    store.families.delete('zz_broken');
    const ok = await get(`${url}/metrics`);
    expect(ok.status).toBe(200);
    expect(valueOf(ok.body.toString(), 'redline_exposition_render_failures_total')).toBe(1);
    expect((await get(`${url}/-/ready`)).status).toBe(200);
  });

  it('reuses chunk Buffers across renders but never those of a body still being read', async () => {
    const store = new Store({ maxSeries: 100_000, setIntervalMs: 1000 });
    big(store, 60_000);
    const series: Series[] = [...store.families.get('lat')!.series.values()];
    const url = await serve(store);
    const latLines = (body: string): string => body.split('\n').filter((l) => l.startsWith('lat')).join('\n');
    /** What a render from scratch serves now (kept bytes forgotten first). */
    const expected = (format: 'text' | 'openmetrics'): string => {
      for (const s of series) s.rendered = null;
      return latLines(render(store, format));
    };
    const count = (name: string): number => [...store.families.get(name)!.series.values()].reduce((a, s) => a + s.value, 0);
    // A scraper that stops reading after its first bytes: its body (~15 MB, more than the socket
    // buffers hold) stays referenced by the server while the renders below run.
    const slowWant = expected('text');
    const renders = count('redline_scrape_renders_total');
    let slowRes: http.IncomingMessage | null = null;
    const slowParts: Buffer[] = [];
    const slowDone = new Promise<string>((resolve, reject) => {
      http
        .get(`${url}/metrics`, (res) => {
          slowRes = res;
          res.once('data', () => res.pause());
          res.on('data', (c: Buffer) => slowParts.push(c));
          res.on('end', () => resolve(Buffer.concat(slowParts).toString()));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    await waitFor(() => slowRes !== null && count('redline_scrape_renders_total') === renders + 1, { what: 'the slow scrape rendered' });
    for (let round = 0; round < 6; round++) {
      // Some series move between renders: their lines are written again, the others are copied.
      for (let i = round; i < series.length; i += 5) series[i]!.observe(round + 0.05, 1, 0);
      const format = round % 2 === 0 ? 'text' : 'openmetrics';
      const accept = format === 'text' ? 'text/plain' : 'application/openmetrics-text;version=1.0.0';
      const want = expected(format);
      const res = await get(`${url}/metrics`, { accept, ...(round % 3 === 0 ? { 'accept-encoding': 'gzip' } : {}) });
      const body = (res.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(res.body) : res.body).toString();
      expect(latLines(body)).toBe(want);
      // The same format again with nothing changed: served from the kept bytes.
      const again = await get(`${url}/metrics`, { accept });
      expect(latLines(again.body.toString())).toBe(want);
    }
    slowRes!.resume();
    expect(latLines(await slowDone)).toBe(slowWant);
  });
});

