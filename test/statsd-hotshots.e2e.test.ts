/**
 * hot-shots as a real client, sending to a real agent over UDP, TCP and unix datagram; the
 * test scrapes /metrics and asserts exact values.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import StatsD from 'hot-shots';
import { startAgent, eventually, parseValue, type AgentProcess } from './helpers/agent.js';

const sockDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-uds-'));
const sockPath = path.join(sockDir, 'statsd.sock');
let agent: AgentProcess;

beforeAll(async () => {
  agent = await startAgent([`--statsd.listen-unixgram=${sockPath}`]);
});
afterAll(async () => {
  await agent?.stop();
  fs.rmSync(sockDir, { recursive: true, force: true });
});

type Client = InstanceType<typeof StatsD>;

function client(opts: ConstructorParameters<typeof StatsD>[0]): Client {
  return new StatsD({ host: '127.0.0.1', errorHandler: () => {}, ...opts });
}

async function close(c: Client): Promise<void> {
  await new Promise<void>((resolve) => c.close(() => resolve()));
}

/** The series' value once it equals `expected` (or the last value seen, for the assertion). */
async function settled(series: string, expected: number): Promise<number | undefined> {
  return eventually(
    async () => parseValue(await agent.metrics(), series),
    (v) => v !== undefined && Math.abs(v - expected) < 1e-9,
  );
}

describe.each(['udp', 'tcp', 'uds'] as const)('hot-shots over %s', (protocol) => {
  const p = protocol;
  const opts = () =>
    p === 'udp'
      ? { protocol: 'udp' as const, port: agent.udpPort! }
      : p === 'tcp'
        ? { protocol: 'tcp' as const, port: agent.tcpPort! }
        : { protocol: 'uds' as const, path: sockPath };

  it('sends every metric type with exact values', async () => {
    const c = client({ ...opts(), prefix: `${p}.`, globalTags: { env: 'test' } });
    c.increment('requests', 3);
    c.increment('requests');
    c.decrement('requests', 1); // a negative counter increment: rejected and counted
    c.gauge('users', 40);
    c.gaugeDelta('users', 2);
    c.gaugeDelta('users', -12);
    c.timing('latency', 250);
    c.timing('latency', 750);
    c.histogram('payload', 2048);
    c.distribution('dist', 0.3);
    c.set('visitors', 'alice');
    c.set('visitors', 'bob');
    c.event('deploy', 'version 2');
    c.check('health', 0);
    await close(c);
    expect(await settled(`${p}_requests{env="test"}`, 4)).toBe(4);
    expect(await settled(`${p}_users{env="test"}`, 30)).toBe(30);
    expect(await settled(`${p}_latency_count{env="test"}`, 2)).toBe(2);
    expect(parseValue(await agent.metrics(), `${p}_latency_sum{env="test"}`)).toBeCloseTo(1.0);
    expect(parseValue(await agent.metrics(), `${p}_latency_bucket{env="test",le="0.25"}`)).toBe(1);
    expect(parseValue(await agent.metrics(), `${p}_payload_sum{env="test"}`)).toBe(2048);
    expect(parseValue(await agent.metrics(), `${p}_dist_sum{env="test"}`)).toBeCloseTo(0.3);
    // Sets show the distinct members of the last closed interval (10 s by default): present, typed gauge.
    expect(await agent.metrics()).toContain(`# TYPE ${p}_visitors gauge`);
  });

  it('applies prefix, suffix, sample rates and telegraf-style tags', async () => {
    const c = client({ ...opts(), prefix: 'app.', suffix: '.v2', telegraf: true, globalTags: { region: 'eu' } });
    c.increment(`${p}_sampled`, 1, 1, { route: 'home' });
    c.increment(`${p}_sampled`, 1, 1, { route: 'home' });
    await close(c);
    expect(await settled(`app_${p}_sampled_v2{region="eu",route="home"}`, 2)).toBe(2);
  });

  it('batches many metrics per datagram with maxBufferSize', async () => {
    const c = client({ ...opts(), maxBufferSize: 1400, bufferFlushInterval: 20 });
    for (let i = 0; i < 500; i++) c.increment(`${p}.batched`, 1, { shard: String(i % 5) });
    await close(c);
    for (let s = 0; s < 5; s++) expect(await settled(`${p}_batched{shard="${s}"}`, 100)).toBe(100);
  });
});

describe('agent self-metrics after hot-shots traffic', () => {
  it('counts packets by transport, the rejected decrement and skipped events', async () => {
    const text = await eventually(
      () => agent.metrics(),
      (t) => (parseValue(t, 'redline_statsd_line_errors_total{reason="illegal_negative_counter"}') ?? 0) >= 3,
    );
    expect(parseValue(text, 'redline_statsd_line_errors_total{reason="illegal_negative_counter"}')).toBe(3);
    expect(parseValue(text, 'redline_statsd_packets_total{transport="udp"}')).toBeGreaterThan(0);
    expect(parseValue(text, 'redline_statsd_packets_total{transport="tcp"}')).toBeGreaterThan(0);
    expect(parseValue(text, 'redline_statsd_packets_total{transport="unixgram"}')).toBeGreaterThan(0);
    expect(parseValue(text, 'redline_statsd_events_total{kind="event"}')).toBe(3);
    expect(parseValue(text, 'redline_statsd_events_total{kind="service_check"}')).toBe(3);
  });
});
