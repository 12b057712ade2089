/**
 * Native histograms end to end: statsd timers into a real agent, a real Prometheus 2.42 with
 * `--enable-feature=native-histograms` (which asks for the protobuf exposition first) scraping
 * it. histogram_count()/histogram_sum() work on the native histogram; the classic buckets are
 * still in every format; the mapping's native_histogram_bucket_factor / _max_buckets are honoured;
 * hostile label names keep the scrape up.
 */
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentProcess } from './helpers/agent.js';
import { stopAll } from './helpers/process.js';
import { waitFor } from './helpers/wait.js';
import { startScrapedAgent, type InstantSample, type ScrapedAgent } from './helpers/prometheus.js';
import { sendTcp } from './helpers/net.js';
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

afterAll(stopAll);

describe('native histograms over statsd', () => {
  let scraped: ScrapedAgent | undefined;
  let agent: AgentProcess;
  beforeAll(async () => {
    scraped = await startScrapedAgent({ name: 'native', mapping: MAPPING, features: ['native-histograms'] });
    agent = scraped.agent;
  }, 120_000);
  afterAll(async () => scraped?.stop());
  const query = (q: string): Promise<InstantSample[]> => scraped!.prometheus.query(q);

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
    await scraped!.prometheus.scrapedAfter(sentAt, 'a successful Prometheus scrape after the lines');
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
