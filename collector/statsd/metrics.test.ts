import { describe, expect, it } from 'vitest';
import { Store } from '../../core/store.js';
import { silentLogger } from '../../core/log.js';
import { render } from '../../exporters/exposition.js';
import { StatsdIngest } from './ingest.js';
import { Mapper } from './mapper.js';
import { TransportStats } from './listeners.js';
import { registerStatsdMetrics, LINE_ERROR_REASONS, STATSD_FAMILIES } from './metrics.js';

function setup() {
  const store = new Store({ maxSeries: 2, setIntervalMs: 10_000 });
  const tags = { dogstatsd: true, influx: true, librato: true, signalfx: true };
  const ingest = new StatsdIngest(store, Mapper.empty(), { tags, cacheSize: 100, logger: silentLogger, passthrough: Mapper.empty() });
  const transport = new TransportStats();
  registerStatsdMetrics(store, () => ingest, transport);
  const value = (series: string): number | undefined => {
    for (const line of render(store, 'text').split('\n')) {
      const sp = line.lastIndexOf(' ');
      if (line.slice(0, sp) === series) return Number(line.slice(sp + 1));
    }
    return undefined;
  };
  return { store, ingest, transport, value };
}

describe('statsd self-metrics', () => {
  it('publishes the ingest and listener counters when /metrics is read', () => {
    const t = setup();
    t.transport.udpPackets = 3;
    t.transport.tcpOpen = 2;
    t.ingest.handle(Buffer.from('a:1|c\na:1|c\nb:2|ms|#k:v,:bad\nc:1|g\nbroken\n_e{1,1}:a|b'));
    expect(t.value('redline_statsd_packets_total{transport="udp"}')).toBe(3);
    expect(t.value('redline_statsd_tcp_open_connections')).toBe(2);
    expect(t.value('redline_statsd_lines_total')).toBe(6);
    expect(t.value('redline_statsd_lines_accepted_total')).toBe(4);
    expect(t.value('redline_statsd_samples_total{type="counter"}')).toBe(2);
    expect(t.value('redline_statsd_samples_total{type="timer"}')).toBe(1);
    expect(t.value('redline_statsd_line_errors_total{reason="malformed_line"}')).toBe(1);
    expect(t.value('redline_statsd_events_total{kind="event"}')).toBe(1);
    expect(t.value('redline_statsd_tag_errors_total')).toBe(1);
    // Cap of 2: `c` was refused.
    expect(t.value('redline_statsd_dropped_total{reason="series_limit"}')).toBe(1);
    expect(t.value('redline_statsd_dropped_total{reason="internal_error"}')).toBe(0);
    expect(t.value('redline_statsd_series{type="histogram"}')).toBe(1);
    expect(t.value('redline_statsd_mapping_cache_gets_total')).toBe(4);
    expect(t.value('redline_statsd_mapping_cache_hits_total')).toBe(1);
  });

  it('publishes every reason at 0 from the start', () => {
    const t = setup();
    for (const r of LINE_ERROR_REASONS) expect(t.value(`redline_statsd_line_errors_total{reason="${r}"}`)).toBe(0);
  });

  it('declares each family once, with units and _total where they belong', () => {
    const defs = STATSD_FAMILIES;
    const names = defs.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    for (const d of defs) {
      expect(d.name).toMatch(/^redline_/);
      if (d.type === 'counter') expect(d.name).toMatch(/_total$/);
      else expect(d.name).not.toMatch(/_total$/);
      expect(d.help).toMatch(/^[A-Z].*\.$/);
    }
    const t = setup();
    const text = render(t.store, 'text');
    for (const n of names) expect(text).toContain(`# TYPE ${n} `);
  });
});
