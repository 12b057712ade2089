/**
 * statsd_exporter parity, one row per documented behaviour: statsd lines sent over real UDP to a
 * real agent, and the exposition lines statsd_exporter serves for them (from its README, its
 * mapping examples and its line parser's documented handling), or the series it refuses to
 * serve. Rows where Redline differs on purpose are in docs/statsd.md's table, not here, except
 * where the row pins Redline's documented side of the difference (marked "difference").
 * Every scrape must also be a valid strict OpenMetrics exposition.
 */
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAgent, waitFor, type AgentProcess } from './helpers/agent.js';
import { parseLine, parseExposition } from './helpers/exposition.js';
import { parseOpenMetrics } from './helpers/openmetrics.js';
import { README_GLOB_MAPPINGS, README_REGEX_MAPPING } from './fixtures/statsd-readme-mappings.js';

interface Row {
  behaviour: string;
  /** Sent in one datagram, in order. */
  lines: string[];
  /** Exposition lines statsd_exporter serves for them (labels in any order). */
  expect: string[];
  /** Metric names that must not be served. */
  absent?: string[];
}

// A mapping file exercising the README's examples; every name below is unique to its row.
const MAPPING = `
defaults:
  observer_type: summary
mappings:
${README_GLOB_MAPPINGS}- match: "order\\\\..*"
  match_type: regex
  name: "regex_won"
- match: "order.*"
  name: "glob_won"
${README_REGEX_MAPPING}- match: "typed.*"
  match_metric_type: gauge
  name: "typed_gauge"
- match: "typed.*"
  name: "typed_other"
- match: "dropme.*"
  action: drop
  name: "dropped"
- match: "honor.*"
  name: "honor"
  honor_labels: true
  labels: {env: mapping}
- match: "nohonor.*"
  name: "nohonor"
  labels: {env: mapping}
- &hist
  match: "hist.*"
  name: "hist_$1"
  observer_type: histogram
- <<: *hist
  match: "merged.*"
  name: "merged_$1"
  labels: {via: merge}
- match: "big.*"
  name: "big_$1"
  observer_type: histogram
  histogram_options:
    buckets: [0.5, 1000000, 25000000]
- match: "sum.*"
  name: "sum_$1"
- match: "scaled.*"
  name: "scaled_$1"
  scale: 1000
- match: "negscale.*"
  name: "negscale_$1"
  scale: -1
---
mappings:
- match: "second.*"
  name: "second_document_was_read"
`;

const ROWS: Row[] = [
  { behaviour: 'counter: no _total added, dots become _', lines: ['par.count:1|c', 'par.count:2|c'], expect: ['par_count 3'] },
  { behaviour: 'escaping: other characters _, -- collapses', lines: ['my.app-x--y:1|c'], expect: ['my_app_x_y 1'] },
  { behaviour: 'escaping: a leading digit gets _', lines: ['1st.par:1|c'], expect: ['_1st_par 1'] },
  { behaviour: 'gauge: set, then +/- are deltas', lines: ['par.gauge:5|g', 'par.gauge:+3|g', 'par.gauge:-1|g'], expect: ['par_gauge 7'] },
  { behaviour: 'gauge: the sample rate is ignored', lines: ['par.grate:4|g|@0.5'], expect: ['par_grate 4'] },
  { behaviour: 'counter: divided by the sample rate', lines: ['par.crate:1|c|@0.1'], expect: ['par_crate 10'] },
  { behaviour: 'negative counter increments are refused', lines: ['par.negc:-1|c'], expect: [], absent: ['par_negc'] },
  {
    behaviour: 'timer in ms observed in seconds; observer_type histogram without buckets: client_golang DefBuckets',
    lines: ['hist.t:250|ms'],
    expect: ['hist_t_bucket{le="0.005"} 0', 'hist_t_bucket{le="0.1"} 0', 'hist_t_bucket{le="0.25"} 1', 'hist_t_bucket{le="10"} 1', 'hist_t_bucket{le="+Inf"} 1', 'hist_t_sum 0.25', 'hist_t_count 1'],
  },
  { behaviour: 'h is observed as sent (no unit change)', lines: ['hist.h:3|h'], expect: ['hist_h_bucket{le="2.5"} 0', 'hist_h_bucket{le="5"} 1', 'hist_h_sum 3'] },
  { behaviour: 'a sampled observation counts int(1/rate) times', lines: ['hist.s:100|ms|@0.5'], expect: ['hist_s_count 2', 'hist_s_sum 0.2'] },
  { behaviour: 'DogStatsD extended aggregation a:1:2:3|h', lines: ['hist.multi:1:2:3|h'], expect: ['hist_multi_count 3', 'hist_multi_sum 6'] },
  { behaviour: 'bucket bounds written as client_golang writes them (le="1e+06")', lines: ['big.b:3|h'], expect: ['big_b_bucket{le="0.5"} 0', 'big_b_bucket{le="1e+06"} 1', 'big_b_bucket{le="2.5e+07"} 1'] },
  { behaviour: 'summary (defaults.observer_type: summary) with the default quantiles', lines: ['sum.lat:100|ms'], expect: ['sum_lat{quantile="0.5"} 0.1', 'sum_lat{quantile="0.9"} 0.1', 'sum_lat{quantile="0.99"} 0.1', 'sum_lat_sum 0.1', 'sum_lat_count 1'] },
  { behaviour: 'unmapped observer under defaults.observer_type: summary', lines: ['par.unmapped:20|ms'], expect: ['par_unmapped{quantile="0.5"} 0.02', 'par_unmapped_count 1'] },
  { behaviour: 'a counter X_bucket beside a summary X: both served', lines: ['sum.xb_bucket:1|c', 'sum.xb:100|ms'], expect: ['sum_xb_bucket 1', 'sum_xb_count 1'] },
  { behaviour: 'a counter X_count first: the histogram X is refused', lines: ['hist.hc_count:1|c', 'hist.hc:1|h'], expect: ['hist_hc_count 1'], absent: ['hist_hc_sum', 'hist_hc_bucket'] },
  { behaviour: 'DogStatsD tags', lines: ['par.dd:1|c|#a:b,c:d'], expect: ['par_dd{a="b",c="d"} 1'] },
  { behaviour: 'DogStatsD tags written #key:value (Datadog PHP client)', lines: ['par.php:1|c|#key:v,#k2:w'], expect: ['par_php{key="v",k2="w"} 1'] },
  { behaviour: 'a tag with an empty value is skipped', lines: ['par.etag:1|c|#a:,b:c'], expect: ['par_etag{b="c"} 1'] },
  { behaviour: 'InfluxDB tags', lines: ['par.influx,a=b,c=d:1|c'], expect: ['par_influx{a="b",c="d"} 1'] },
  { behaviour: 'Librato tags', lines: ['par.librato#a=b:1|c'], expect: ['par_librato{a="b"} 1'] },
  { behaviour: 'SignalFx tags', lines: ['par.sfx[a=b,c=d]:1|c'], expect: ['par_sfx{a="b",c="d"} 1'] },
  { behaviour: 'SignalFx: a lone [ keeps the name as sent', lines: ['par.sfxopen[a=b:1|c'], expect: ['par_sfxopen_a_b 1'] },
  { behaviour: 'SignalFx: text after the first ] stays in the name', lines: ['par.sfxtwice[a=b]]:1|c'], expect: ['par_sfxtwice_{a="b"} 1'] },
  { behaviour: 'SignalFx: a lone [ stops InfluxDB parsing too', lines: ['par.sfxinf[x,b=c:1|c'], expect: ['par_sfxinf_x_b_c 1'] },
  { behaviour: 'mixing a name tag style with |# is refused', lines: ['par.mixed,a=b:1|c|#c:d'], expect: [], absent: ['par_mixed'] },
  { behaviour: 'DogStatsD |c: container id', lines: ['par.cont:1|c|c:abc123'], expect: ['par_cont{container_id="abc123"} 1'] },
  { behaviour: 'DogStatsD |T timestamp accepted and ignored', lines: ['par.tstamp:1|c|T1656581400'], expect: ['par_tstamp 1'] },
  { behaviour: 'several samples in one line (a:1|c:2|c)', lines: ['par.multic:1|c:2|c'], expect: ['par_multic 3'] },
  { behaviour: 'README glob with captures as labels', lines: ['test.dispatcher.FooProcessor.send.success:1|c'], expect: ['dispatcher_events_total{processor="FooProcessor",action="send",outcome="success",job="test_dispatcher"} 1'] },
  { behaviour: 'README glob with ${1} in a label', lines: ['foo_product.signup.facebook.failure:1|c'], expect: ['signup_events_total{provider="facebook",outcome="failure",job="foo_product_server"} 1'] },
  { behaviour: 'README regex with captures', lines: ['web1.srv--http.status.200.count:1|c'], expect: ['request_total{hostname="web1",exec="srv",protocol="http",code="200"} 1'] },
  { behaviour: 'globs are tried before regexes, whatever the file order', lines: ['order.placed:1|c'], expect: ['glob_won 1'], absent: ['regex_won'] },
  { behaviour: 'match_metric_type filters a rule', lines: ['typed.a:1|g', 'typed.b:1|c'], expect: ['typed_gauge 1', 'typed_other 1'] },
  { behaviour: 'action: drop', lines: ['dropme.x:1|c'], expect: [], absent: ['dropped', 'dropme_x'] },
  { behaviour: 'honor_labels: the tag wins over the mapping label', lines: ['honor.a:1|c|#env:tag'], expect: ['honor{env="tag"} 1'] },
  { behaviour: 'by default the mapping label wins over the tag', lines: ['nohonor.a:1|c|#env:tag'], expect: ['nohonor{env="mapping"} 1'] },
  { behaviour: 'YAML merge key: the merged mapping is a histogram with DefBuckets', lines: ['merged.m:2|h'], expect: ['merged_m_bucket{via="merge",le="2.5"} 1', 'merged_m_bucket{via="merge",le="1"} 0', 'merged_m_count{via="merge"} 1'] },
  { behaviour: 'only the first YAML document is read', lines: ['second.doc:1|c'], expect: ['second_doc 1'], absent: ['second_document_was_read'] },
  { behaviour: 'scale multiplies the value', lines: ['scaled.g:2|g'], expect: ['scaled_g 2000'] },
  { behaviour: 'scale -1 on a counter: the sample is refused', lines: ['negscale.c:1|c'], expect: [], absent: ['negscale_c'] },
];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-parity-'));
let agent: AgentProcess;
beforeAll(async () => {
  const file = path.join(dir, 'mapping.yml');
  fs.writeFileSync(file, MAPPING);
  agent = await startAgent([`--statsd.mapping-config=${file}`]);
  const s = dgram.createSocket('udp4');
  for (const row of ROWS) await new Promise<void>((r) => s.send(Buffer.from(row.lines.join('\n')), agent.udpPort!, '127.0.0.1', () => r()));
  s.close();
});
afterAll(async () => {
  await agent?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The served sample matching an expected line: same name, same labels in any order. */
function served(text: string, line: string): number | undefined {
  const want = parseLine(line);
  if (want === null) throw new Error(`bad expected line ${line}`);
  const keys = Object.keys(want.labels);
  for (const s of parseExposition(text).get(want.name) ?? []) {
    if (Object.keys(s.labels).length === keys.length && keys.every((k) => s.labels[k] === want.labels[k])) return s.value;
  }
  return undefined;
}

const allExpected = ROWS.flatMap((r) => r.expect);
let scrape = '';

describe('statsd_exporter parity', () => {
  it('serves every row (waits until the last datagram is in)', async () => {
    scrape = await waitFor(
      async () => {
        const t = await agent.metrics();
        return allExpected.every((l) => served(t, l) !== undefined) ? t : '';
      },
      { timeoutMs: 20_000, what: 'every expected series' },
    );
  });

  it.each(ROWS.map((r) => [r.behaviour, r] as const))('%s', (_, row) => {
    for (const line of row.expect) {
      const want = parseLine(line)!;
      expect(served(scrape, line), line).toBe(want.value);
    }
    for (const name of row.absent ?? []) expect(parseExposition(scrape).has(name), `${name} must not be served`).toBe(false);
  });

  it('counts what it refused as statsd_exporter would', () => {
    const v = (series: string): number | undefined => served(scrape, `${series} 0`);
    expect(v('redline_statsd_line_errors_total{reason="illegal_negative_counter"}')).toBe(1);
    expect(v('redline_statsd_line_errors_total{reason="mixed_tagging_styles"}')).toBe(1);
    expect(v('redline_statsd_dropped_total{reason="illegal_negative_counter"}')).toBe(1);
    expect(v('redline_statsd_dropped_total{reason="type_conflict"}')).toBe(1);
    expect(v('redline_statsd_mapping_drops_total')).toBe(1);
    // The empty tag value and the two malformed SignalFx names.
    expect(v('redline_statsd_tag_errors_total')).toBe(3);
  });

  it('the same series in OpenMetrics: valid for a strict parser, le written as client_golang does there', async () => {
    const om = await agent.metrics('application/openmetrics-text; version=1.0.0');
    const families = parseOpenMetrics(om);
    expect(families.length).toBeGreaterThan(0);
    expect(om).toContain('big_b_bucket{le="1e+06"} 1');
    expect(om).toContain('hist_t_bucket{le="10.0"} 1');
    expect(om).toContain('hist_t_bucket{le="0.25"} 1');
  });
});

describe('reload that changes an observer type (difference: the new mapping takes over)', () => {
  it('the first sample under the new mapping replaces the family; nothing is refused', async () => {
    const file = path.join(dir, 'reload.yml');
    fs.writeFileSync(file, 'mappings:\n- match: "rl.*"\n  name: "rl_$1"\n  observer_type: histogram\n');
    const a = await startAgent([`--statsd.mapping-config=${file}`]);
    try {
      const send = async (text: string): Promise<void> => {
        const s = dgram.createSocket('udp4');
        await new Promise<void>((r) => s.send(Buffer.from(text), a.udpPort!, '127.0.0.1', () => r()));
        s.close();
      };
      await send('rl.x:100|ms');
      await waitFor(async () => served(await a.metrics(), 'rl_x_count 1') === 1, { timeoutMs: 15_000, what: 'the histogram' });
      fs.writeFileSync(file, 'mappings:\n- match: "rl.*"\n  name: "rl_$1"\n  observer_type: summary\n');
      a.proc.signal('SIGHUP');
      await waitFor(async () => served(await a.metrics(), 'redline_config_reloads_total{outcome="success"} 0') === 1, { timeoutMs: 15_000, what: 'the reload' });
      await send('rl.x:200|ms');
      const t = await waitFor(async () => {
        const m = await a.metrics();
        return served(m, 'rl_x{quantile="0.5"} 0') !== undefined ? m : '';
      }, { timeoutMs: 15_000, what: 'the summary' });
      expect(served(t, 'rl_x_count 1')).toBe(1);
      expect(served(t, 'rl_x{quantile="0.5"} 0.2')).toBe(0.2);
      expect(parseExposition(t).has('rl_x_bucket')).toBe(false);
      expect(served(t, 'redline_statsd_dropped_total{reason="type_conflict"} 0')).toBe(0);
    } finally {
      await a.stop();
    }
  });
});
