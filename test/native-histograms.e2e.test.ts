/**
 * Native histograms end to end: statsd timers into a real agent, a real Prometheus 2.42 with
 * `--enable-feature=native-histograms` (which asks for the protobuf exposition first) scraping
 * it. histogram_count()/histogram_sum() work on the native histogram; the classic buckets are
 * still in every format; the mapping's native_histogram_bucket_factor / _max_buckets are honoured;
 * hostile label names keep the scrape up.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from './helpers/agent.js';
import { stopAll } from './helpers/process.js';
import { waitFor } from './helpers/wait.js';
import { startPrometheus, type InstantSample, type PrometheusServer } from './helpers/prometheus.js';
import { valueOf } from './helpers/exposition.js';
import { metricFamilyType } from '../exporters/protobuf.js';

const PROTOBUF = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited';

const MAPPING = `defaults:
  histogram_options:
    native_histogram_bucket_factor: 1.1
mappings:
  - match: "coarse.*"
    name: "coarse_$1_seconds"
    observer_type: histogram
    histogram_options:
      buckets: [0.1, 1]
      native_histogram_bucket_factor: 2
      native_histogram_max_buckets: 4
  - match: "classic.*"
    name: "classic_$1_seconds"
    observer_type: histogram
    histogram_options:
      native_histogram_bucket_factor: 1
`;

async function sendTcp(port: number, lines: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.end(lines.join('\n') + '\n', () => resolve()));
    c.on('error', reject);
  });
}

interface Decoded {
  name: string;
  type: number;
  metric: { label?: { name: string; value: string }[]; histogram?: Record<string, unknown> }[];
}

async function scrapeProtobuf(agent: AgentProcess): Promise<Map<string, Decoded>> {
  const res = await fetch(`${agent.url}/metrics`, { headers: { accept: `${PROTOBUF};q=0.7,text/plain;version=0.0.4;q=0.3` } });
  expect(res.headers.get('content-type')).toBe('application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited');
  const reader = protobuf.Reader.create(new Uint8Array(await res.arrayBuffer()));
  const T = metricFamilyType();
  const out = new Map<string, Decoded>();
  while (reader.pos < reader.len) {
    const fam = T.toObject(T.decodeDelimited(reader), { longs: Number, defaults: false }) as Decoded;
    // One message per family.
    expect(out.has(fam.name)).toBe(false);
    out.set(fam.name, fam);
  }
  return out;
}

describe('native histograms over statsd', () => {
  let agent: AgentProcess;
  let dir = '';
  let prometheus: PrometheusServer | undefined;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-native-'));
    fs.writeFileSync(path.join(dir, 'mapping.yml'), MAPPING);
    agent = await startAgent([`--statsd.mapping-config=${path.join(dir, 'mapping.yml')}`]);
    prometheus = await startPrometheus({ dir, targets: [`127.0.0.1:${agent.httpPort}`], features: ['native-histograms'] });
  }, 120_000);

  afterAll(async () => {
    await prometheus?.proc.stop();
    await agent?.stop();
    await stopAll();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const query = (q: string): Promise<InstantSample[]> => prometheus!.query(q);

  it('reach Prometheus as native histograms, classic buckets alongside, options honoured', async () => {
    // 40 timers: 0 ms (zero bucket), 1..39 ms; a coarse histogram over six powers of ten; hostile tags.
    const lines = [
      ...Array.from({ length: 40 }, (_, i) => `api.latency:${i}|ms|#route:/items`),
      ...[0.001, 0.01, 0.1, 1, 10, 100].map((v) => `coarse.wait:${v * 1000}|ms`),
      'classic.wait:5|ms',
      'x:1|h|#le:5',
      'y:1|c|#__name__:evil,__x:1',
      'neg:-5|h',
    ];
    await sendTcp(agent.tcpPort!, lines);
    await waitFor(async () => (valueOf(await agent.metrics(), 'redline_statsd_lines_total') ?? 0) >= lines.length, { timeoutMs: 30_000, what: 'every line read' });

    // The agent's protobuf: classic and native buckets in one histogram.
    const fams = await scrapeProtobuf(agent);
    const api = fams.get('api_latency')!.metric[0]!.histogram!;
    expect(api['sample_count']).toBe(40);
    expect((api['bucket'] as unknown[]).length).toBeGreaterThan(5);
    expect(api['schema']).toBe(3);
    expect(api['zero_count']).toBe(1);
    const deltas = api['positive_delta'] as number[];
    let count = 0;
    let sum = 0;
    for (const d of deltas) sum += count += d;
    expect(sum).toBe(39);
    // factor 2 → schema 0; the 5th and 6th new buckets each halve the resolution once (as
    // client_golang does): schema -2, keys -2, -1, 0, 1, 2 (0.001 s … 100 s).
    const coarse = fams.get('coarse_wait_seconds')!.metric[0]!.histogram!;
    expect(coarse['schema']).toBe(-2);
    expect(coarse['positive_span']).toEqual([{ offset: -2, length: 5 }]);
    expect(coarse['positive_delta']).toEqual([1, 0, 1, -1, 0]);
    expect((coarse['bucket'] as unknown[]).length).toBe(2);
    // factor 1: classic only.
    expect(fams.get('classic_wait_seconds')!.metric[0]!.histogram!['schema']).toBeUndefined();
    // The text format still has the classic buckets.
    const text = await agent.metrics();
    expect(valueOf(text, 'api_latency_bucket{route="/items",le="+Inf"}')).toBe(40);

    // Prometheus scraped protobuf and stays up, hostile names included.
    const sentAt = Date.now() / 1000;
    await waitFor(
      async () => {
        const up = await query('up{job="redline"}');
        const ts = await query('timestamp(redline_statsd_lines_total)');
        return up[0]?.value[1] === '1' && Number(ts[0]?.value[1] ?? 0) > sentAt;
      },
      { timeoutMs: 60_000, what: 'a successful Prometheus scrape after the lines' },
    );
    expect(valueOf(await agent.metrics(), 'redline_scrapes_total{format="protobuf"}')).toBeGreaterThan(0);
    expect((await query('histogram_count(api_latency)'))[0]?.value[1]).toBe('40');
    expect(Number((await query('histogram_sum(api_latency)'))[0]?.value[1])).toBeCloseTo(0.78, 6);
    expect((await query('histogram_count(coarse_wait_seconds)'))[0]?.value[1]).toBe('6');
    // A classic-only histogram arrives as buckets.
    expect((await query('classic_wait_seconds_bucket{le="+Inf"}'))[0]?.value[1]).toBe('1');
    // Hostile `le`: renamed, and the histogram (native in Prometheus) arrived.
    expect((await query('histogram_count(x{exported_le="5"})'))[0]?.value[1]).toBe('1');
    expect((await query('histogram_count(neg)'))[0]?.value[1]).toBe('1');
  }, 180_000);
});
