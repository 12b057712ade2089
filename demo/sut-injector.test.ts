/**
 * The demo service and injector on their own, over real sockets: the service's routes and costs,
 * and the injector's statsd lines exactly as they go on the wire (caught by a UDP socket).
 */
import { describe, it, expect, afterAll } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import type http from 'node:http';
import { startSut, calibrateIterations } from './sut.js';
import { Injector, parseInjectorArgs } from './injector.js';
import { waitFor } from '../test/helpers/wait.js';

const servers: http.Server[] = [];
afterAll(() => {
  for (const s of servers) {
    s.close();
    s.closeAllConnections();
  }
});

async function statsdSink(): Promise<{ port: number; lines: string[]; close: () => void }> {
  const sock = dgram.createSocket('udp4');
  const lines: string[] = [];
  sock.on('message', (m) => lines.push(...m.toString('utf8').split('\n').filter(Boolean)));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return { port: sock.address().port, lines, close: () => sock.close() };
}

describe('demo service', () => {
  it('answers each route; /work holds its request; the backlog is what was asked', async () => {
    const { server, port } = await startSut({ host: '127.0.0.1', port: 0, loginMs: 1, holdMs: 300, backlog: 7, maxSeconds: 0 });
    servers.push(server);
    const base = `http://127.0.0.1:${port}`;
    const login = await fetch(`${base}/login`, { method: 'POST', body: '{"user":"u"}' });
    expect(login.status).toBe(200);
    expect(((await login.json()) as { token: string }).token).toMatch(/^[0-9a-f]{16}$/);
    const t = performance.now();
    const work = await fetch(`${base}/work`);
    expect(work.status).toBe(200);
    expect(performance.now() - t).toBeGreaterThanOrEqual(290);
    expect((await fetch(`${base}/logout`, { method: 'POST' })).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    // ss shows a listening socket's backlog in Send-Q.
    const ss = spawnSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' });
    if (ss.status === 0) expect(ss.stdout.trim().split(/\s+/)[2]).toBe('7');
  });

  it('calibrates pbkdf2 iterations to the CPU time asked for', () => {
    expect(calibrateIterations(0)).toBe(1);
    const few = calibrateIterations(1);
    const many = calibrateIterations(10);
    expect(few).toBeGreaterThan(0);
    // Proportional to the time asked for (same measurement, rounding aside); noisy machines vary the base.
    expect(many / few).toBeGreaterThan(2);
    expect(many / few).toBeLessThan(50);
  });
});

describe('demo injector', () => {
  it('sends the loadtest_* names with DogStatsD tags, per request, and zero gauges on stop', async () => {
    const { server, port } = await startSut({ host: '127.0.0.1', port: 0, loginMs: 0.5, holdMs: 0, backlog: 64, maxSeconds: 0 });
    servers.push(server);
    const sink = await statsdSink();
    try {
      const inj = new Injector(parseInjectorArgs([`--target=http://127.0.0.1:${port}`, '--rate=20', `--statsd=127.0.0.1:${sink.port}`, '--scenario=unit']));
      const count = (re: RegExp): number => sink.lines.filter((l) => re.test(l)).length;
      const loginLine = /^loadtest_requests_total:1\|c\|#scenario:unit,step:login,status:200$/;
      const t0 = performance.now();
      inj.start();
      // As many as the machine manages: wait for 15 logins, not for a time.
      await waitFor(() => count(loginLine) >= 15, { what: '15 logins' });
      await inj.stop();
      const seconds = (performance.now() - t0) / 1000;
      // The final gauges are the last lines the injector sends.
      await waitFor(() => sink.lines.some((l) => l.startsWith('loadtest_offered_rate:0|g')), { what: 'the final gauges' });
      const logins = count(loginLine);
      // An open-loop injector never starts more than its rate: 20 scenarios/s for the time it ran.
      expect(logins).toBeGreaterThanOrEqual(15);
      expect(logins).toBeLessThanOrEqual(Math.ceil(20 * seconds) + 1);
      expect(count(/^loadtest_request_duration_seconds:\d+(\.\d+)?\|ms\|#scenario:unit,step:login$/)).toBe(logins);
      // Scenarios still in flight when it stopped are never reported (how many depends on the
      // machine's speed); every one that finished had its login.
      const ok = count(/^loadtest_scenarios_total:1\|c\|#scenario:unit,outcome:ok$/);
      expect(ok).toBeGreaterThanOrEqual(1);
      expect(ok).toBeLessThanOrEqual(logins);
      expect(count(/^loadtest_errors_total/)).toBe(0);
      expect(sink.lines).toContain(`loadtest_offered_rate:60|g|#scenario:unit,pid:${process.pid}`);
      // The last gauges say: no load from this process any more.
      const gauges = sink.lines.filter((l) => l.startsWith('loadtest_offered_rate') || l.startsWith('loadtest_active_users'));
      expect(gauges.slice(-2).sort()).toEqual([`loadtest_active_users:0|g|#scenario:unit,pid:${process.pid}`, `loadtest_offered_rate:0|g|#scenario:unit,pid:${process.pid}`]);
    } finally {
      sink.close();
    }
  });

  it('counts refused connections as errors, and keeps going', async () => {
    const closed = await new Promise<number>((r) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => r(p));
      });
    });
    const sink = await statsdSink();
    try {
      const inj = new Injector(parseInjectorArgs([`--target=http://127.0.0.1:${closed}`, '--rate=10', `--statsd=127.0.0.1:${sink.port}`]));
      const refused = (): number => sink.lines.filter((l) => l === 'loadtest_errors_total:1|c|#scenario:demo,step:login,reason:econnrefused').length;
      inj.start();
      await waitFor(() => refused() >= 4, { what: '4 refused logins' });
      await inj.stop();
      await waitFor(() => sink.lines.some((l) => l.startsWith('loadtest_offered_rate:0|g')), { what: 'the final gauges' });
      const errors = refused();
      expect(errors).toBeGreaterThanOrEqual(4);
      expect(sink.lines.filter((l) => l === 'loadtest_requests_total:1|c|#scenario:demo,step:login,status:none').length).toBe(errors);
      expect(sink.lines.some((l) => l.includes('step:work'))).toBe(false);
    } finally {
      sink.close();
    }
  });

  it('refuses bad flags naming them', () => {
    expect(() => parseInjectorArgs(['--statsd=nope'])).toThrow(/--statsd: expected host:port/);
    expect(() => parseInjectorArgs(['--arrivals=burst'])).toThrow(/--arrivals/);
    expect(() => parseInjectorArgs(['--target=https://x'])).toThrow(/--target: only http/);
    expect(() => parseInjectorArgs(['--scenario=a b'])).toThrow(/--scenario/);
    expect(() => parseInjectorArgs(['--max-active=1.5'])).toThrow(/--max-active/);
  });
});
