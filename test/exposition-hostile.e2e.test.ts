/**
 * No statsd input can make an invalid exposition: hostile label names and family names go to a
 * real agent over TCP, then a strict OpenMetrics parser reads /metrics in OpenMetrics, promtool
 * parses the text format, and a real Prometheus (which asks for OpenMetrics first) scrapes it
 * and stays up. A seeded fuzz run of the statsd grammar's hostile corners follows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentProcess } from './helpers/agent.js';
import { run, stopAll } from './helpers/process.js';
import { waitFor } from './helpers/wait.js';
import { startScrapedAgent, type InstantSample, type ScrapedAgent } from './helpers/prometheus.js';
import { sendTcp } from './helpers/net.js';
import { seededRandom } from './helpers/random.js';
import { parseOpenMetrics } from './helpers/openmetrics.js';
import { valueOf } from './helpers/exposition.js';

const PROMTOOL = process.env['PROMTOOL'] ?? '/usr/bin/promtool';
const OM = 'application/openmetrics-text;version=1.0.0';

/** Lines that each broke, or could break, one of the two formats. */
const HOSTILE = [
  // le / quantile on observers (ms, h, d are histograms by default; sum.* are summaries below)
  'x:1|h|#le:5',
  'x,le=5:1|h',
  'x#le=6:2|ms',
  'x[le=7]:3|d',
  'x:1|h|#le:5,exported_le:9',
  'sum.lat:5|ms|#quantile:0.5',
  'sum.lat,quantile=0.9:5|h',
  // __-prefixed and invalid label names
  'y:1|c|#__name__:evil,__x:1',
  'y:1|c|#9lives:1,ok:2',
  'y,__meta=1:1|g',
  // X and X_total, histogram parts, Redline's own names
  'cnt:1|c',
  'cnt_total:1|c',
  'gg:1|g',
  'gg_total:1|c',
  'hist:1|h',
  'hist_total:1|c',
  'hist_bucket:1|g',
  'hist_count:1|c',
  'redline_statsd_tcp_open_connections:5|g',
  'redline_statsd_lines:1|c',
  // negative observations and odd values
  'neg:-5|h',
  'neg:3|h',
  'sum.neg:-2|ms',
  'big:1e308|c|@0.5',
  'biggauge:1e308|g',
  'biggauge:+1e308|g',
  'tiny:1e-320|g',
  // quotes, backslashes, newlines-as-text and unicode in values and names
  'q:1|c|#path:a"b\\c,uni:žluťoučký 😀',
  'wé.ird-name--x:1|c',
  'dd:1|c|#k:v|c:container"id',
  'php:1|c|#env:prod,#region:eu',
];

const MAPPING = `mappings:
  - match: "sum.*"
    name: "sum_$1"
    observer_type: summary
    help: 'Summaries with "quotes" and a \\ backslash.'
`;

const NAMES = ['f', 'f_total', 'f_bucket', 'f_sum', 'f_count', 'f_created', 'sum.f', 'sum.f_total', 'redline_x', '_', '9', 'f:g', 'f.le', 'ü'];
const KEYS = ['le', 'quantile', '__name__', '__x', 'exported_le', 'a', 'a', 'b-c', '', '#le', '1', 'ü', 'container_id'];
const VALUES = ['1', '', '"', '\\', 'x"y\\z', '😀', 'a b', ',', ':', '=', '#'];
const NUMS = ['1', '-1', '+2', '0', '1e308', '-1e308', '3.5', '.5', '1e-300', 'NaN', 'x'];
const TYPES = ['c', 'g', 'ms', 'h', 'd', 's', 'x'];

function fuzzLine(r: () => number): string {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const tags = Array.from({ length: Math.floor(r() * 4) }, () => `${pick(KEYS)}${pick([':', '=', ''])}${pick(VALUES)}`);
  const name = pick(NAMES);
  const value = `${pick(NUMS)}|${pick(TYPES)}${r() < 0.2 ? `|@${pick(['0.5', '0.1', '1', '0'])}` : ''}`;
  switch (Math.floor(r() * 4)) {
    case 0:
      return `${name}:${value}${tags.length ? `|#${tags.join(',')}` : ''}`;
    case 1:
      return `${name},${tags.join(',')}:${value}`;
    case 2:
      return `${name}#${tags.join(',')}:${value}`;
    default:
      return `${name}[${tags.join(',')}]:${value}`;
  }
}

/** Lines the agent has counted so far. */
async function linesSeen(agent: AgentProcess): Promise<number> {
  return valueOf(await agent.metrics(), 'redline_statsd_lines_total') ?? 0;
}

/** Both formats are valid: the strict OpenMetrics parser accepts one, promtool parses the other. */
async function expectValid(agent: AgentProcess): Promise<string> {
  const om = await agent.metrics(OM);
  expect(() => parseOpenMetrics(om)).not.toThrow();
  const text = await agent.metrics();
  const r = await run(PROMTOOL, ['check', 'metrics'], { input: text, timeoutMs: 60_000 });
  // promtool lints too (it wants _total on counters and units in names); parse errors are what matter.
  expect(r.output).not.toMatch(/pars(e|ing) error|error while linting|duplicate|invalid/i);
  return om;
}

afterAll(stopAll);

describe('an exposition no statsd input can break', () => {
  let scraped: ScrapedAgent | undefined;
  let agent: AgentProcess;
  beforeAll(async () => {
    scraped = await startScrapedAgent({ name: 'hostile', mapping: MAPPING, features: ['native-histograms'] });
    agent = scraped.agent;
  }, 120_000);
  afterAll(async () => scraped?.stop());
  const query = (q: string): Promise<InstantSample[]> => scraped!.prometheus.query(q);

  it('hostile label and family names: served, renamed or refused and counted; Prometheus stays up', async () => {
    const before = await linesSeen(agent);
    await sendTcp(agent.tcpPort!, HOSTILE);
    await waitFor(async () => (await linesSeen(agent)) >= before + HOSTILE.length, { timeoutMs: 30_000, what: 'the agent to read every line' });
    const om = await expectValid(agent);
    const text = await agent.metrics();

    // le and quantile renamed, the sample kept.
    expect(valueOf(text, 'x_bucket{exported_le="5",le="+Inf"}')).toBe(2);
    expect(valueOf(text, 'x_count{exported_le="6"}')).toBe(1);
    expect(valueOf(text, 'x_count{exported_exported_le="5",exported_le="9"}')).toBe(1);
    expect(valueOf(text, 'sum_lat_count{exported_quantile="0.5"}')).toBe(1);
    expect(valueOf(text, 'redline_renamed_labels_total{label="le"}')).toBeGreaterThanOrEqual(4);
    // __ names never reach a label.
    expect(text).not.toMatch(/\{[^}]*__/);
    // X_total beside X refused; Redline's own names kept.
    expect(valueOf(text, 'cnt')).toBe(1);
    expect(text).not.toMatch(/^cnt_total /m);
    expect(text).not.toMatch(/^gg_total /m);
    expect(text).not.toMatch(/^hist_total /m);
    expect(valueOf(text, 'redline_statsd_dropped_total{reason="type_conflict"}')).toBeGreaterThanOrEqual(5);
    expect(valueOf(text, 'redline_statsd_dropped_total{reason="name_conflict"}')).toBeGreaterThanOrEqual(1);
    // Negative observations: the text format keeps _sum, OpenMetrics leaves it out.
    expect(valueOf(text, 'neg_sum')).toBe(-2);
    expect(om).not.toMatch(/^neg_sum /m);
    expect(om).toMatch(/^neg_count 2$/m);
    // The DogStatsD PHP client's #-prefixed tags.
    expect(valueOf(text, 'php{env="prod",region="eu"}')).toBe(1);
    // A summary's HELP with quotes, escaped for OpenMetrics.
    expect(om).toContain('# HELP sum_lat Summaries with \\"quotes\\" and a \\\\ backslash.\n');

    // A real Prometheus scrapes it (OpenMetrics first) after the hostile lines: up == 1, and the
    // renamed series arrived.
    const sentAt = Date.now() / 1000;
    await scraped!.prometheus.scrapedAfter(sentAt, 'a successful Prometheus scrape after the hostile lines');
    // Prometheus asks for protobuf (native histograms on): the histogram arrives native.
    const renamed = await query('histogram_count(x{exported_le="6"})');
    expect(renamed.map((r) => r.value[1])).toEqual(['1']);
    expect((await query('scrape_samples_scraped{job="redline"}'))[0]?.value[1]).not.toBe('0');
  }, 180_000);

  it('a seeded fuzz run of hostile lines leaves both formats valid and Prometheus up', async () => {
    const r = seededRandom(12); // a failing fuzz case replays from its seed
    const lines = Array.from({ length: 3000 }, () => fuzzLine(r));
    const before = await linesSeen(agent);
    for (let i = 0; i < lines.length; i += 500) await sendTcp(agent.tcpPort!, lines.slice(i, i + 500));
    await waitFor(async () => (await linesSeen(agent)) >= before + lines.length, { timeoutMs: 60_000, what: 'the agent to read every fuzz line' });
    await expectValid(agent);
    const sentAt = Date.now() / 1000;
    await scraped!.prometheus.scrapedAfter(sentAt, 'a successful Prometheus scrape after the fuzz run');
  }, 240_000);
});
