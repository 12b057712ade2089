/**
 * OTLP in and out, next to statsd in the same run.
 *
 * - Ingest: CPU per 1,000 data points of decode (the published protobufjs code) + translate +
 *   store, for a k6-like export (1,000 counter series and 100 histogram series per request,
 *   cumulative, repeated: the steady state of a sender), and per 1,000 statsd lines of
 *   `StatsdIngest.handle` over the throughput benchmark's datagrams, alternated round by round
 *   so a busy machine slows both alike. Points/s = 1e9 / ns per point (one core).
 * - Export: CPU of one OTLP push of 10,000 series (counters, gauges and 20-bucket histograms)
 *   through the SDK's protobuf exporter to a local OTLP/HTTP server that drains the body: read
 *   of the store, SDK collection, encoding, HTTP. The server runs in this process too; it only
 *   counts bytes.
 *
 *   npm run build && node dist/bench/otlp.js [--rounds 9]
 */
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import { Store } from '../core/store.js';
import { silentLogger } from '../core/log.js';
import { StatsdIngest } from '../collector/statsd/ingest.js';
import { Mapper } from '../collector/statsd/mapper.js';
import { OtlpIngest } from '../collector/otlp/translate.js';
import { decodeRequest, encodeRequest } from '../collector/otlp/schema.js';
import { OtlpPusher } from '../exporters/otlp/push.js';
import { buildDatagrams } from './statsd-sender.js';
import { writeSection } from './results.js';

const args = process.argv.slice(2);
const ROUNDS = Math.min(Number(args[args.indexOf('--rounds') + 1] ?? 9) || 9, 50);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

/** One k6-like OTLP request: `counters` sum series and `histograms` 16-bucket histogram series. */
function otlpPayload(counters: number, histograms: number): { body: Uint8Array; points: number } {
  const attr = (i: number): unknown[] => [
    { key: 'method', value: { stringValue: i % 2 ? 'GET' : 'POST' } },
    { key: 'name', value: { stringValue: `http://sut/api/${i % 50}` } },
    { key: 'status', value: { stringValue: String(200 + (i % 3)) } },
    { key: 'scenario', value: { stringValue: `s${i % 10}` } },
  ];
  const bounds = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];
  const metrics = [
    {
      name: 'k6_http_reqs',
      sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: Array.from({ length: counters }, (_, i) => ({ attributes: attr(i), asDouble: 1000 + i, timeUnixNano: '1' })) },
    },
    {
      name: 'k6_http_req_duration',
      unit: 'ms',
      histogram: {
        aggregationTemporality: 2,
        dataPoints: Array.from({ length: histograms }, (_, i) => ({
          attributes: attr(i),
          explicitBounds: bounds,
          bucketCounts: bounds.map((_, j) => String(j * 10 + i)).concat(['1']),
          count: String(bounds.reduce((a, _, j) => a + j * 10 + i, 1)),
          sum: 12345.5,
          timeUnixNano: '1',
        })),
      },
    },
  ];
  const body = encodeRequest({ resourceMetrics: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'k6' } }] }, scopeMetrics: [{ metrics }] }] });
  return { body, points: counters + histograms };
}

function otlpRound(body: Uint8Array, points: number, requests: number): number {
  const store = new Store({ maxSeries: 100_000, setIntervalMs: 10_000 });
  const ingest = new OtlpIngest(store, { ttlMs: 0, logger: silentLogger });
  for (let i = 0; i < 20; i++) ingest.ingest(decodeRequest(body));
  const t0 = cpuNow();
  for (let i = 0; i < requests; i++) ingest.ingest(decodeRequest(body));
  return (cpuNow() - t0) / (requests * points);
}

function statsdRound(datagrams: Buffer[], count: number, linesPer: number): number {
  const store = new Store({ maxSeries: 100_000, setIntervalMs: 10_000 });
  const tags = { dogstatsd: true, influx: true, librato: true, signalfx: true };
  const ingest = new StatsdIngest(store, Mapper.empty(), { tags, cacheSize: 10_000, logger: silentLogger, passthrough: Mapper.empty() });
  for (let i = 0; i < datagrams.length; i++) ingest.handle(datagrams[i]!);
  const t0 = cpuNow();
  for (let i = 0; i < count; i++) ingest.handle(datagrams[i % datagrams.length]!);
  return (cpuNow() - t0) / (count * linesPer);
}

async function exportCost(series: number, rounds: number): Promise<{ nsPerExport: number; bytes: number }> {
  let bytes = 0;
  const server = http.createServer((req, res) => {
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const store = new Store({ maxSeries: 100_000, setIntervalMs: 10_000 });
  const third = Math.floor(series / 3);
  const c = store.counter('bench_requests_total', 'Requests.', ['route', 'status']);
  const g = store.gauge('bench_in_flight', 'In flight.', ['route', 'status']);
  const h = store.histogram('bench_latency_seconds', 'Latency.', ['route', 'status'], [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200]);
  for (let i = 0; i < third; i++) {
    c.set([`/r${i}`, '200'], i);
    g.set([`/r${i}`, '200'], i);
    h.observe([`/r${i}`, '200'], (i % 100) / 100);
  }
  const pusher = new OtlpPusher(
    store,
    { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/metrics`, headers: {}, protocol: 'http/protobuf', intervalMs: 60_000, timeoutMs: 30_000, temporality: 'cumulative', maxQueue: 1, version: 'bench' },
    silentLogger,
  );
  await pusher.exportOnce();
  const costs: number[] = [];
  let lastBytes = 0;
  for (let i = 0; i < rounds; i++) {
    const b0 = bytes;
    const t0 = cpuNow();
    await pusher.exportOnce();
    costs.push(cpuNow() - t0);
    lastBytes = bytes - b0;
  }
  if (pusher.stats.exports.failure > 0) throw new Error('an export failed');
  await pusher.stop();
  await new Promise<void>((r) => server.close(() => r()));
  return { nsPerExport: median(costs), bytes: lastBytes };
}

async function main(): Promise<void> {
  const { body, points } = otlpPayload(1000, 100);
  const datagrams = buildDatagrams(2000);
  const linesPer = datagrams[0]!.toString().split('\n').length;
  const otlp: number[] = [];
  const statsd: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    otlp.push(otlpRound(body, points, 200));
    statsd.push(statsdRound(datagrams, Math.ceil(220_000 / linesPer), linesPer));
  }
  const o = median(otlp);
  const s = median(statsd);
  const exp = await exportCost(10_000, Math.max(5, Math.ceil(ROUNDS / 2)));
  const lines = [
    `Command: \`npm run build && node dist/bench/otlp.js --rounds ${ROUNDS}\` (${new Date().toISOString().slice(0, 10)}, ${process.version}; median of ${ROUNDS} alternating rounds, one core; load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores while it ran).`,
    '',
    '| path | CPU per 1,000 | per second, one core |',
    '|---|---|---|',
    `| OTLP ingest: protobuf decode + translate + store (k6-like request: ${points} points, ${body.length} bytes) | ${o.toFixed(0)} µs per 1,000 points | ${Math.round(1e9 / o).toLocaleString('en')} points |`,
    `| statsd ingest: parse + map + store (the throughput benchmark's datagrams) | ${s.toFixed(0)} µs per 1,000 lines | ${Math.round(1e9 / s).toLocaleString('en')} lines |`,
    '',
    `OTLP costs ${(o / s).toFixed(2)}× the CPU of statsd per sample; an OTLP point is a whole series' state (a histogram point is ${16} buckets), a statsd line one observation.`,
    '',
    `OTLP push of 10,000 series (counters, gauges, 20-bucket histograms; protobuf, cumulative): ${(exp.nsPerExport / 1e6).toFixed(1)} ms of CPU per export (${exp.bytes.toLocaleString('en')} bytes), i.e. ${((exp.nsPerExport / 1e9 / 15) * 100).toFixed(2)}% of a core at the default 15 s interval.`,
  ];
  const text = lines.join('\n');
  process.stdout.write(text + '\n');
  writeSection('OTLP ingest and push', text);
}

void main();
