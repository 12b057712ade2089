/**
 * The shared test helpers are test code other tests trust: the parser on the exposition corners
 * the agent serves, the process stopper on a child that ignores SIGTERM, the wait on its deadline.
 */
import { describe, it, expect, afterAll } from 'vitest';
import fs from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import { parseExposition, parseLine, select, sum, valueOf, valueWith } from './exposition.js';
import { freePort, sendTcp, sendUdp } from './net.js';
import { seededRandom } from './random.js';
import { run, start, stopAll } from './process.js';
import { eventually, waitFor } from './wait.js';

afterAll(stopAll);

describe('exposition reader', () => {
  const text = [
    '# HELP a_total Things.',
    '# TYPE a_total counter',
    'a_total{k="v"} 2',
    'a_total{k="with \\"quote\\" and } brace",z="\\\\n"} 3 1700000000000',
    'plain 1.5e3',
    'om_count_total 7 # {trace_id="x"} 1 1.1',
    'inf_bucket{le="+Inf"} +Inf',
    'nan_value NaN',
    'not a sample',
    'broken{k="v" 1',
    '',
  ].join('\n');

  it('reads names, unescaped labels, values, and skips what does not parse', () => {
    const m = parseExposition(text);
    expect([...m.keys()]).toEqual(['a_total', 'plain', 'om_count_total', 'inf_bucket', 'nan_value']);
    expect(select(m, 'a_total', { k: /quote/ })[0]!.labels).toEqual({ k: 'with "quote" and } brace', z: '\\n' });
    expect(sum(m, 'a_total')).toBe(5);
    expect(valueOf(text, 'plain')).toBe(1500);
    expect(valueOf(text, 'om_count_total')).toBe(7);
    expect(valueOf(text, 'inf_bucket{le="+Inf"}')).toBe(Infinity);
    expect(Number.isNaN(valueOf(text, 'nan_value'))).toBe(true);
    expect(valueOf(text, 'a_total{k="v"}')).toBe(2);
    expect(valueOf(text, 'absent')).toBeUndefined();
    expect(parseLine('broken{k="v" 1')).toBeNull();
  });

  it('matches exact label sets in any order', () => {
    const t = 'x{b="2",a="1"} 4\nx{a="1"} 5\n';
    expect(valueWith(t, 'x', { a: '1', b: '2' })).toBe(4);
    expect(valueWith(t, 'x', { a: '1' })).toBe(5);
    expect(valueWith(t, 'x')).toBeUndefined();
  });
});

describe('processes', () => {
  it('stops a child that ignores SIGTERM with SIGKILL, by pid, and it is reaped', async () => {
    const p = start(process.execPath, ['-e', "process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000);"]);
    await p.until((out) => out.includes('up'));
    const exit = await p.stop(300);
    expect(exit.signal).toBe('SIGKILL');
    expect(p.running()).toBe(false);
    // Reaped: no /proc entry, not even a zombie.
    expect(fs.existsSync(`/proc/${p.pid}`)).toBe(false);
  });

  it('runs to completion with output, and a run past its bound is stopped and reported', async () => {
    const ok = await run(process.execPath, ['-e', 'console.log("out"); console.error("err"); process.exitCode = 3']);
    expect(ok).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    await expect(run(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { timeoutMs: 300 })).rejects.toThrow(/did not finish within 300 ms/);
  });

  it('until() fails at once when the child exits first, and on its deadline otherwise', async () => {
    const gone = start(process.execPath, ['-e', 'process.exit(4)']);
    await expect(gone.until(() => false, { what: 'never' })).rejects.toThrow(/exited \(4\) before never/);
    const quiet = start(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    await expect(quiet.until(() => false, { timeoutMs: 200, what: 'a word' })).rejects.toThrow(/no a word within 200 ms/);
    await quiet.stop();
  });
});

describe('waiting', () => {
  it('returns the first truthy value, and throws naming what it waited for past the deadline', async () => {
    let n = 0;
    expect(await waitFor(() => ++n >= 3 && n, { intervalMs: 1 })).toBe(3);
    await expect(waitFor(() => false, { timeoutMs: 50, intervalMs: 10, what: 'Godot' })).rejects.toThrow(/waiting for Godot/);
    expect(await eventually(async () => 7, (v) => v > 10, { timeoutMs: 50, intervalMs: 10 })).toBe(7);
  });
});

describe('ports', () => {
  it('finds a port on 127.0.0.1 that can be bound', async () => {
    const port = await freePort();
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(port, '127.0.0.1', () => r()));
    expect((s.address() as net.AddressInfo).port).toBe(port);
    await new Promise((r) => s.close(r));
  });
});

describe('statsd sends', () => {
  it('sendTcp writes the lines, each ended by a newline, on one connection; sendUdp one datagram', async () => {
    const got: string[] = [];
    const tcp = net.createServer((c) => {
      let body = '';
      c.on('data', (d) => (body += d.toString()));
      c.on('end', () => got.push(body));
    });
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
    await sendTcp((tcp.address() as net.AddressInfo).port, ['a:1|c', 'b:2|g']);
    await sendTcp((tcp.address() as net.AddressInfo).port, 'c:3|ms');
    await waitFor(() => got.length === 2, { timeoutMs: 10_000, what: 'both TCP bodies' });
    expect(got.sort()).toEqual(['a:1|c\nb:2|g\n', 'c:3|ms']);
    await new Promise((r) => tcp.close(r));

    const udp = dgram.createSocket('udp4');
    const datagrams: string[] = [];
    udp.on('message', (m) => datagrams.push(m.toString()));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    await sendUdp(udp.address().port, 'x:1|c\ny:2|c');
    await waitFor(() => datagrams.length === 1, { timeoutMs: 10_000, what: 'the datagram' });
    expect(datagrams).toEqual(['x:1|c\ny:2|c']);
    udp.close();
  });
});

describe('seeded randomness', () => {
  it('repeats its sequence for a seed, differs across seeds, stays in [0, 1)', () => {
    const a = seededRandom(12);
    const b = seededRandom(12);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(seededRandom(13)()).not.toBe(xs[0]);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(xs.reduce((s, x) => s + x, 0) / xs.length).toBeCloseTo(0.5, 1);
  });
});
