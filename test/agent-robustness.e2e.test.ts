/**
 * Robustness of the real agent: a bounded fuzz run over UDP and TCP, exposition checked by
 * `promtool check metrics`; the series cap and TTL under a cardinality flood with real time.
 */
import { describe, it, expect, afterEach } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAgent, eventually, parseValue, waitFor, type AgentProcess } from './helpers/agent.js';
import { parseExposition, sum } from './helpers/exposition.js';

const running: AgentProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.stop()));
});

async function agentWith(args: string[]): Promise<AgentProcess> {
  const a = await startAgent(args);
  running.push(a);
  return a;
}

/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x9e3779b9) >>> 0;
    return s / 2 ** 32;
  };
}

function nearValidLine(r: () => number): string {
  const names = ['api.req', 'db.pool', 'x', 'a.b.c', 'ünï', 'weird name', '9start', 'tag,k=v', 'sfx[k=v]', 'lib#k=v'];
  const values = ['1', '-1', '+2', '0.5', '1e3', 'NaN', 'Inf', '', 'abc', '1:2:3', '3.14159'];
  const types = ['c', 'g', 'ms', 'h', 'd', 's', 'x', '', 'msx'];
  const extras = ['', '|@0.5', '|@0', '|@2', '|#env:prod', '|#bare', '|#k:v,k2:v2', '|c:abc', '|T123', '||', '|#a:1|#b:2'];
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)]!;
  return `${pick(names)}:${pick(values)}|${pick(types)}${pick(extras)}`;
}

function randomBytes(r: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

function promtoolCheck(text: string): { ok: boolean; out: string } {
  const res = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  // promtool exits 3 for lint findings (statsd names such as counters without _total, which
  // statsd_exporter serves too) and 1 when the exposition does not parse.
  const out = `${res.stdout}${res.stderr}`;
  return { ok: (res.status === 0 || res.status === 3) && !/error while linting|parsing error/i.test(out), out };
}

describe('fuzzing the agent', () => {
  it('stays up, keeps /metrics valid and accounts for every line', async () => {
    const agent = await agentWith([]);
    const r = rng(42);
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((res) => udp.connect(agent.udpPort!, '127.0.0.1', () => res()));
    const tcp = net.connect(agent.tcpPort!, '127.0.0.1');
    await new Promise<void>((res) => tcp.once('connect', () => res()));
    // Bounded by count (the same input on any machine), with a generous time bound as a backstop.
    const deadline = Date.now() + 60_000;
    let garbagePackets = 0;
    for (let round = 0; round < 400 && Date.now() < deadline; round++) {
      const lines: string[] = [];
      const n = 1 + Math.floor(r() * 20);
      for (let i = 0; i < n; i++) lines.push(nearValidLine(r));
      const text = lines.join('\n');
      if (round % 2 === 0) udp.send(Buffer.from(text));
      else tcp.write(text + '\n');
      if (round % 10 === 0) {
        udp.send(randomBytes(r, 1 + Math.floor(r() * 2000)));
        garbagePackets++;
      }
      if (round % 50 === 0) await new Promise((res) => setTimeout(res, 5));
    }
    tcp.end();
    udp.close();
    expect(garbagePackets).toBeGreaterThan(10);

    // Wait until the agent has read the TCP stream and its line count has stopped moving (two
    // scrapes apart agree), then check the books on one scrape.
    let previous = -1;
    const final = await waitFor(
      async () => {
        const t = await agent.metrics();
        const n = parseValue(t, 'redline_statsd_lines_total') ?? 0;
        const settled = (parseValue(t, 'redline_statsd_packets_total{transport="tcp"}') ?? 0) > 0 && n === previous;
        previous = n;
        return settled && t;
      },
      { intervalMs: 300, what: 'the fuzzed lines to be counted' },
    );
    const m = parseExposition(final);
    const lines = parseValue(final, 'redline_statsd_lines_total')!;
    const samples = sum(m, 'redline_statsd_samples_total');
    const rejected = sum(m, 'redline_statsd_line_errors_total');
    const skipped = sum(m, 'redline_statsd_events_total');
    expect(lines).toBeGreaterThan(500);
    expect(rejected).toBeGreaterThan(100);
    expect(samples).toBeGreaterThan(100);
    // Every line is accepted, rejected or skipped (an event): the books balance exactly.
    const accepted = parseValue(final, 'redline_statsd_lines_accepted_total')!;
    expect(accepted + rejected + skipped).toBe(lines);
    // Multi-value lines carry several samples, so samples >= accepted lines.
    expect(samples).toBeGreaterThanOrEqual(accepted);

    const check = promtoolCheck(final);
    expect(check.ok, check.out).toBe(true);
    const om = await agent.metrics('application/openmetrics-text; version=1.0.0');
    expect(om.trimEnd().endsWith('# EOF')).toBe(true);
    // Still serving.
    expect((await fetch(`${agent.url}/-/healthy`)).status).toBe(200);
  });

  it('keeps lines = samples + rejected + skipped exactly for single-value traffic', async () => {
    const agent = await agentWith([]);
    // Over TCP, so that no line can be lost on a loaded machine and every count is exact.
    const tcp = net.connect(agent.tcpPort!, '127.0.0.1');
    await new Promise<void>((res) => tcp.once('connect', () => res()));
    const batch = ['ok.count:1|c', 'ok.gauge:5|g', 'bad:1|q', 'bad2:x|c', '_e{1,1}:a|b', 'ok.t:10|ms|@0.5', 'neg:-1|c', 'ok.s:u1|s'];
    for (let i = 0; i < 100; i++) tcp.write(batch.join('\n') + '\n');
    tcp.end();
    const final = await eventually(
      () => agent.metrics(),
      (t) => parseValue(t, 'redline_statsd_lines_total') === 800,
    );
    const get = (s: string): number => parseValue(final, s) ?? 0;
    const samples = ['counter', 'gauge', 'timer', 'histogram', 'distribution', 'set'].reduce((a, t) => a + get(`redline_statsd_samples_total{type="${t}"}`), 0);
    const rejected = ['invalid_type', 'invalid_value', 'illegal_negative_counter'].reduce((a, r) => a + get(`redline_statsd_line_errors_total{reason="${r}"}`), 0);
    expect(samples).toBe(400);
    expect(rejected).toBe(300);
    expect(get('redline_statsd_events_total{kind="event"}')).toBe(100);
    expect(get('ok_count')).toBe(100);
    expect(get('ok_t_count')).toBe(200);
  });
});

describe('cardinality flood and TTL', () => {
  it('caps series, keeps existing ones updating, and bounds memory', async () => {
    const agent = await agentWith(['--statsd.max-series=2000', '--statsd.cache-size=5000']);
    // Over TCP: nothing is lost however slow the agent is, so every count below is exact.
    const tcp = net.connect(agent.tcpPort!, '127.0.0.1');
    await new Promise<void>((res) => tcp.once('connect', () => res()));
    const write = (text: string): Promise<void> => new Promise((res) => (tcp.write(text) ? res() : tcp.once('drain', () => res())));
    const rssOf = (): number => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${agent.pid}/status`, 'latin1'))![1]) * 1024;
    const lines = async (): Promise<number> => parseValue(await agent.metrics(), 'redline_statsd_lines_total') ?? 0;
    let sent = 0;
    let id = 0;
    const sendFlood = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i += 50) {
        const batch: string[] = [];
        for (let j = 0; j < 50; j++) batch.push(`flood.users:1|c|#user:${id++}`);
        await write(batch.join('\n') + '\n');
        sent += 50;
      }
      await waitFor(async () => (await lines()) === sent, { timeoutMs: 60_000, intervalMs: 200, what: `${sent} lines counted` });
    };
    await write('keep.me:1|c\n');
    sent++;
    // Two floods warm every cache and pool up; the next three must not grow memory much.
    await sendFlood(40_000);
    const rssWarm = rssOf();
    await sendFlood(120_000);
    await write('keep.me:1|c\n');
    sent++;
    const text = await eventually(() => agent.metrics(), (t) => parseValue(t, 'keep_me') === 2);
    tcp.end();
    expect(parseValue(text, 'keep_me')).toBe(2);
    expect(parseValue(text, 'redline_statsd_series{type="counter"}')).toBe(2000);
    // The first 1999 users fit next to keep_me; every later one is dropped and counted.
    expect(parseValue(text, 'redline_statsd_dropped_total{reason="series_limit"}')).toBe(160_000 - 1999);
    // Unbounded, 120,000 more series would cost well over 100 MiB; bounded, the growth is GC slack.
    expect(rssOf() - rssWarm).toBeLessThan(48 * 1024 * 1024);
  });

  it('expires idle series after their TTL with real time', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-ttl-'));
    const file = path.join(dir, 'mapping.yml');
    fs.writeFileSync(file, 'defaults:\n  ttl: 2s\nmappings:\n  - match: "keep.*"\n    name: keep_$1\n    ttl: 1h\n');
    const agent = await agentWith([`--statsd.mapping-config=${file}`]);
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((res) => udp.connect(agent.udpPort!, '127.0.0.1', () => res()));
    udp.send(Buffer.from('keep.forever:1|g'));
    // Re-sent until seen, so a slow first scrape cannot miss a series that has already expired.
    await waitFor(async () => {
      udp.send(Buffer.from('short.lived:1|g'));
      return parseValue(await agent.metrics(), 'short_lived') === 1 && parseValue(await agent.metrics(), 'keep_forever') === 1;
    }, { intervalMs: 200, what: 'short_lived and keep_forever' });
    const gone = await eventually(() => agent.metrics(), (t) => parseValue(t, 'short_lived') === undefined, { timeoutMs: 30_000, intervalMs: 250 });
    expect(parseValue(gone, 'short_lived')).toBeUndefined();
    expect(parseValue(gone, 'keep_forever')).toBe(1);
    // It comes back, starting from zero, when it is sent again.
    udp.send(Buffer.from('short.lived:3|g'));
    const back = await eventually(() => agent.metrics(), (t) => parseValue(t, 'short_lived') === 3);
    expect(parseValue(back, 'short_lived')).toBe(3);
    udp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('statsd TCP limits', () => {
  it('caps open connections: past the cap a connection is closed at once and counted; /metrics stays reachable', async () => {
    const agent = await agentWith(['--statsd.tcp-max-connections=5']);
    expect(await agent.value('redline_statsd_tcp_max_connections')).toBe(5);
    const conns: net.Socket[] = [];
    const closed: boolean[] = [];
    for (let i = 0; i < 8; i++) {
      const c = net.connect(agent.tcpPort!, '127.0.0.1');
      c.on('error', () => {});
      const idx = i;
      closed[idx] = false;
      c.on('close', () => (closed[idx] = true));
      await new Promise<void>((r) => c.once('connect', () => r()));
      // The agent counts a connection when it accepts it; wait so the order is known.
      await waitFor(async () => (await agent.value('redline_statsd_tcp_connections_total')) === Math.min(idx + 1, 5) && (idx < 5 || closed[idx]), { timeoutMs: 20_000, what: `connection ${idx} handled` });
      conns.push(c);
    }
    expect(await agent.value('redline_statsd_tcp_connections_refused_total')).toBe(3);
    expect(closed).toEqual([false, false, false, false, false, true, true, true]);
    expect(await agent.value('redline_statsd_tcp_open_connections')).toBe(5);
    // The five accepted ones still ingest.
    for (const c of conns.slice(0, 5)) c.write('capped.ok:1|c\n');
    await waitFor(async () => (await agent.value('capped_ok')) === 5, { timeoutMs: 20_000, what: 'a line over each accepted connection' });
    for (const c of conns) c.destroy();
  });

  it('closes a connection that sends nothing for --statsd.tcp-idle-timeout, counted', async () => {
    const agent = await agentWith(['--statsd.tcp-idle-timeout=1s']);
    const c = net.connect(agent.tcpPort!, '127.0.0.1');
    c.on('error', () => {});
    let closed = false;
    c.on('close', () => (closed = true));
    await new Promise<void>((r) => c.once('connect', () => r()));
    c.write('idle.before:1|c\n');
    await waitFor(() => closed, { timeoutMs: 30_000, what: 'the idle connection closed by the agent' });
    expect(await agent.value('idle_before')).toBe(1);
    expect(await agent.value('redline_statsd_tcp_idle_timeouts_total')).toBe(1);
    expect(await agent.value('redline_statsd_tcp_open_connections')).toBe(0);
  });

  it('reassembles a line dripped one byte per write', async () => {
    const agent = await agentWith([]);
    const c = net.connect(agent.tcpPort!, '127.0.0.1');
    c.setNoDelay(true);
    await new Promise<void>((r) => c.once('connect', () => r()));
    const name = `drip.${'x'.repeat(3000)}`;
    const line = Buffer.from(`${name}:7|g\n`);
    for (let i = 0; i < line.length; i++) {
      c.write(line.subarray(i, i + 1));
      // Let each byte go out on its own now and then (the kernel may still merge some).
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    await waitFor(async () => (await agent.value(name.replace('.', '_'))) === 7, { timeoutMs: 30_000, what: 'the dripped line' });
    expect(await agent.value('redline_statsd_lines_total')).toBe(1);
    c.destroy();
  });
});
