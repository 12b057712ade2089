import { describe, it, expect, afterAll } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Store } from '../../core/store.js';
import { render } from '../../exporters/exposition.js';
import { HttpProbe, parseHttpTargetFlag } from './http.js';
import { valueOf } from '../../test/helpers/exposition.js';
import { waitFor } from '../../test/helpers/wait.js';

describe('parseHttpTargetFlag', () => {
  it('splits NAME=URL at the first =', () => {
    expect(parseHttpTargetFlag('api=http://127.0.0.1:3000/health?x=1')).toEqual({ name: 'api', url: 'http://127.0.0.1:3000/health?x=1' });
    expect(parseHttpTargetFlag('web.front:1=https://example.invalid/')).toEqual({ name: 'web.front:1', url: 'https://example.invalid/' });
  });
  const bad: [string, RegExp][] = [
    ['', /NAME=URL/],
    ['http://127.0.0.1:3000/health', /NAME=URL/],
    ['=http://127.0.0.1/', /NAME=URL/],
    ['my api=http://127.0.0.1/', /target name/],
    ['api=', /invalid URL/],
    ['api=not a url', /invalid URL/],
    ['api=ftp://127.0.0.1/', /only http and https/],
  ];
  for (const [v, msg] of bad) it(`refuses ${JSON.stringify(v)}`, () => expect(() => parseHttpTargetFlag(v)).toThrow(msg));
});

const servers: (http.Server | net.Server)[] = [];
afterAll(() => {
  for (const s of servers) {
    if (s instanceof http.Server) s.closeAllConnections();
    s.close();
  }
});
async function listen<S extends http.Server | net.Server>(s: S): Promise<number> {
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as AddressInfo).port;
}
const line = valueOf;

describe('HttpProbe', () => {
  it('classifies every outcome and keeps up, duration and counts per target', async () => {
    const ok = await listen(http.createServer((_q, r) => r.end('ok')));
    const redirect = await listen(http.createServer((_q, r) => {
      r.writeHead(301, { location: 'http://127.0.0.1:1/' });
      r.end();
    }));
    const missing = await listen(http.createServer((_q, r) => {
      r.statusCode = 404;
      r.end();
    }));
    // Never answers: a timeout however fast or slow the machine is.
    const slow = await listen(http.createServer(() => {}));
    const garbage = await listen(net.createServer((c) => c.end('this is not http\r\n\r\n')));
    const hangup = await listen(net.createServer((c) => c.destroy()));
    const truncated = await listen(net.createServer((c) => {
      c.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort');
      setTimeout(() => c.destroy(), 20);
    }));
    const closed = await listen(net.createServer());
    await new Promise((r) => servers.pop()!.close(r));

    const store = new Store({ maxSeries: 1000, setIntervalMs: 1000 });
    const u = (p: number): string => `http://127.0.0.1:${p}/health`;
    const probe = new HttpProbe(
      store,
      [
        { name: 'ok', url: u(ok) },
        { name: 'redirect', url: u(redirect) },
        { name: 'missing', url: u(missing) },
        { name: 'slow', url: u(slow) },
        { name: 'garbage', url: u(garbage) },
        { name: 'hangup', url: u(hangup) },
        { name: 'truncated', url: u(truncated) },
        { name: 'closed', url: u(closed) },
      ],
      // A timeout far above what any answer here takes on a loaded machine.
      { intervalMs: 60_000, timeoutMs: 3000 },
    );
    await probe.probeOnce();
    await probe.probeOnce();
    const text = render(store, 'text');
    const expected: Record<string, [string, number]> = {
      ok: ['2xx', 1],
      redirect: ['3xx', 1],
      missing: ['4xx', 0],
      slow: ['timeout', 0],
      garbage: ['error', 0],
      hangup: ['reset', 0],
      truncated: ['reset', 0],
      closed: ['refused', 0],
    };
    for (const [target, [outcome, up]] of Object.entries(expected)) {
      expect(line(text, `redline_probe_http_requests_total{target="${target}",outcome="${outcome}"}`), target).toBe(2);
      expect(line(text, `redline_probe_http_up{target="${target}"}`), target).toBe(up);
      expect(line(text, `redline_probe_http_duration_seconds_count{target="${target}"}`), target).toBe(2);
    }
    // Timeouts are observed at the timeout.
    expect(line(text, 'redline_probe_http_duration_seconds_sum{target="slow"}')).toBeCloseTo(6, 5);
    expect(line(text, 'redline_probe_http_last_duration_seconds{target="slow"}')).toBeCloseTo(3, 5);
    expect(line(text, 'redline_probe_http_duration_seconds_bucket{target="slow",le="2.5"}')).toBe(0);
    expect(line(text, 'redline_probe_http_duration_seconds_bucket{target="slow",le="5"}')).toBe(2);
    // Exactly one outcome per target per probe.
    expect(text.match(/^redline_probe_http_requests_total\{/gm)).toHaveLength(8);
    await probe.stop();
  });

  it('does not pile up requests on a target that is still answering', async () => {
    let received = 0;
    // The first answer is held until the test releases it, so the second probe surely overlaps it.
    let release = (): void => {};
    const held = new Promise<void>((r) => (release = r));
    const port = await listen(http.createServer((_q, r) => {
      received++;
      void held.then(() => r.end('ok'));
    }));
    const store = new Store({ maxSeries: 100, setIntervalMs: 1000 });
    const probe = new HttpProbe(store, [{ name: 'x', url: `http://127.0.0.1:${port}/` }], { intervalMs: 60_000, timeoutMs: 30_000 });
    const first = probe.probeOnce();
    await waitFor(() => received === 1, { what: 'the first request' });
    await probe.probeOnce(); // skipped: the first is in flight
    release();
    await first;
    expect(received).toBe(1);
    expect(line(render(store, 'text'), 'redline_probe_http_requests_total{target="x",outcome="2xx"}')).toBe(1);
  });

  it('probes on its interval once started, and stops', async () => {
    let received = 0;
    const port = await listen(http.createServer((_q, r) => {
      received++;
      r.end('ok');
    }));
    const store = new Store({ maxSeries: 100, setIntervalMs: 1000 });
    const probe = new HttpProbe(store, [{ name: 'x', url: `http://127.0.0.1:${port}/` }], { intervalMs: 100, timeoutMs: 1000 });
    probe.start();
    await waitFor(() => received >= 3, { what: '3 probes' });
    await probe.stop();
    const after = received;
    // Stopped: at most a request already on its way still arrives, however long we look
    // (three intervals here; a slower machine would only send fewer).
    await new Promise((r) => setTimeout(r, 350));
    expect(received).toBeLessThanOrEqual(after + 1);
  });
});
