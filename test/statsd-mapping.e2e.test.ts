/**
 * statsd_exporter's mapping documentation, end to end: one mapping file made of the README's
 * examples, the real agent (`node bin/redline.js --statsd.mapping-config=…`), real UDP, and the
 * values read back from /metrics. The rule-level cases are in collector/statsd/mapper.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAgent, eventually, type AgentProcess } from './helpers/agent.js';
import { samples, valueWith } from './helpers/exposition.js';
import { README_GLOB_MAPPINGS, README_REGEX_MAPPING } from './fixtures/statsd-readme-mappings.js';

const MAPPING = `
defaults:
  observer_type: histogram
mappings:
${README_GLOB_MAPPINGS}- match: "test.timing.*.*.*"
  observer_type: histogram
  histogram_options:
    buckets: [ 0.01, 0.025, 0.05, 0.1 ]
  name: "my_timer"
  labels:
    provider: "$2"
    outcome: "$3"
    job: "\${1}_server"
- match: "summ.timing.*"
  observer_type: summary
  name: "my_summary"
  labels: {provider: "$1"}
  summary_options:
    quantiles:
      - quantile: 0.5
        error: 0.005
    max_age: 30s
- match: "http.request.*"
  help: "Total number of http requests"
  name: "http_requests_total"
  labels:
    code: "$1"
- match: "honored.request.*"
  name: "honored_requests_total"
  honor_labels: true
  labels:
    code: "$1"
- match: "test.foo.*"
  name: "test_foo"
  match_metric_type: counter
  labels:
    provider: "$1"
- match: foo.latency_ms
  name: foo_latency_seconds
  scale: 0.001
- match: "api_*.calls"
  name: "api_calls_total"
  labels: {api: "$1"}
- match: "short.lived.*"
  name: "short_lived"
  ttl: 1s
  labels: {k: "$1"}
${README_REGEX_MAPPING}- match: "^zero\\\\..+"
  match_type: regex
  name: "zero_total"
  labels:
    statsd_metric_name: "$0"
- match: "^drop\\\\."
  match_type: regex
  action: drop
  name: "dropped"
`;

let agent: AgentProcess;
let dir: string;

async function send(lines: string[]): Promise<void> {
  const sock = dgram.createSocket('udp4');
  try {
    for (const l of lines) await new Promise<void>((res, rej) => sock.send(l, agent.udpPort!, '127.0.0.1', (e) => (e ? rej(e) : res())));
  } finally {
    sock.close();
  }
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-mapping-'));
  const file = path.join(dir, 'statsd_mapping.yml');
  fs.writeFileSync(file, MAPPING);
  agent = await startAgent([`--statsd.mapping-config=${file}`]);
  await send([
    'test.dispatcher.FooProcessor.send.success:1|c',
    'test.dispatcher.FooProcessor.send.success:2|c',
    'foo_product.signup.facebook.failure:3|c',
    'test.web-server.foo.bar:5|g',
    'test.timing.a.b.c:20|ms',
    'test.timing.a.b.c:70|ms',
    'summ.timing.aws:100|ms',
    'http.request.200:1|c|#code:500',
    'honored.request.200:1|c|#code:500',
    'honored.request.404:1|c',
    'test.foo.aws:1|c',
    'test.foo.aws:7|g',
    'foo.latency_ms:1500|h',
    'api_users.calls:4|c',
    'web01.checkout--https.status.503.count:1|c',
    'zero.my.metric:6|c',
    'drop.this.one:1|c',
    'short.lived.x:1|g',
  ]);
  await eventually(
    () => agent.metrics(),
    (t) => t.includes('short_lived{') && t.includes('zero_total{') && t.includes('api_calls_total{'),
  );
});

afterAll(async () => {
  await agent?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('statsd_exporter README mapping examples through the real agent', () => {
  it('glob captures into labels and names; unmatched names escaped', async () => {
    const t = await agent.metrics();
    expect(valueWith(t, 'dispatcher_events_total', { processor: 'FooProcessor', action: 'send', outcome: 'success', job: 'test_dispatcher' })).toBe(3);
    expect(valueWith(t, 'signup_events_total', { provider: 'facebook', outcome: 'failure', job: 'foo_product_server' })).toBe(3);
    expect(valueWith(t, 'test_web_server_foo_bar')).toBe(5);
    expect(valueWith(t, 'api_calls_total', { api: 'users' })).toBe(4);
  });

  it('per-mapping histogram buckets; timers in seconds', async () => {
    const t = await agent.metrics();
    const l = { provider: 'b', outcome: 'c', job: 'a_server' };
    expect(valueWith(t, 'my_timer_bucket', { ...l, le: '0.01' })).toBe(0);
    expect(valueWith(t, 'my_timer_bucket', { ...l, le: '0.025' })).toBe(1);
    expect(valueWith(t, 'my_timer_bucket', { ...l, le: '0.1' })).toBe(2);
    expect(valueWith(t, 'my_timer_bucket', { ...l, le: '+Inf' })).toBe(2);
    expect(valueWith(t, 'my_timer_count', l)).toBe(2);
    expect(valueWith(t, 'my_timer_sum', l)).toBeCloseTo(0.09, 9);
  });

  it('summary when the mapping asks for one, with its quantiles', async () => {
    const t = await agent.metrics();
    expect(t).toContain('# TYPE my_summary summary');
    expect(valueWith(t, 'my_summary', { provider: 'aws', quantile: '0.5' })).toBeCloseTo(0.1, 9);
    expect(valueWith(t, 'my_summary_count', { provider: 'aws' })).toBe(1);
    expect(samples(t).some((s) => s.name === 'my_summary' && s.labels.quantile === '0.99')).toBe(false);
  });

  it('help text; mapping labels win over tags unless honor_labels', async () => {
    const t = await agent.metrics();
    expect(t).toContain('# HELP http_requests_total Total number of http requests');
    expect(valueWith(t, 'http_requests_total', { code: '200' })).toBe(1);
    expect(valueWith(t, 'honored_requests_total', { code: '500' })).toBe(1);
    expect(valueWith(t, 'honored_requests_total', { code: '404' })).toBe(1);
  });

  it('match_metric_type, scale', async () => {
    const t = await agent.metrics();
    expect(valueWith(t, 'test_foo', { provider: 'aws' })).toBe(1);
    expect(valueWith(t, 'test_foo_aws')).toBe(7);
    expect(valueWith(t, 'foo_latency_seconds_sum')).toBeCloseTo(1.5, 9);
    expect(valueWith(t, 'foo_latency_seconds_count')).toBe(1);
  });

  it('regex rules with captures and $0; drop', async () => {
    const t = await agent.metrics();
    expect(valueWith(t, 'request_total', { hostname: 'web01', exec: 'checkout', protocol: 'https', code: '503' })).toBe(1);
    expect(valueWith(t, 'zero_total', { statsd_metric_name: 'zero.my.metric' })).toBe(6);
    expect(samples(t).some((s) => s.name.startsWith('drop_') || s.name === 'dropped')).toBe(false);
    expect(valueWith(t, 'redline_statsd_mapping_drops_total')).toBe(1);
  });

  it('ttl: a series expires after its mapping ttl without updates', async () => {
    const gone = await eventually(
      () => agent.metrics(),
      (t) => !t.includes('short_lived{'),
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(gone).not.toContain('short_lived{');
    // Others (no ttl) stay.
    expect(valueWith(gone, 'test_web_server_foo_bar')).toBe(5);
  });
});
