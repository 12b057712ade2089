/**
 * The agent's own metrics: statsd intake counters, listener stats, and the agent process and
 * Node runtime (so "is the observer itself healthy?" has an answer). All of it is sampled when
 * a sink reads the store; nothing here runs on the statsd hot path.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Store, OwnMetric } from '../core/store.js';
import type { StatsdIngest } from './statsd/ingest.js';
import { LINE_ERROR_REASONS, SAMPLE_TYPES } from './statsd/ingest.js';
import type { TransportStats } from './statsd/listeners.js';

export function registerStatsdMetrics(store: Store, getIngest: () => StatsdIngest, transport: TransportStats): void {
  const packets = store.counter('redline_statsd_packets_total', 'Datagrams (UDP, unixgram) and TCP reads received, by transport.', ['transport']);
  const lines = store.counter('redline_statsd_lines_total', 'Statsd lines received, valid or not (events and service checks included).');
  const accepted = store.counter('redline_statsd_lines_accepted_total', 'Statsd lines that parsed; every line is accepted, rejected (line_errors) or skipped (events).');
  const samples = store.counter('redline_statsd_samples_total', 'Statsd samples parsed and accepted, by statsd type.', ['type']);
  const errors = store.counter('redline_statsd_line_errors_total', 'Statsd lines rejected as malformed, by reason; nothing of a rejected line is applied.', ['reason']);
  const dropped = store.counter('redline_statsd_dropped_total', 'Valid statsd samples that could not be stored, by reason (series_limit, type_conflict, name_conflict).', ['reason']);
  const mappingDrops = store.counter('redline_statsd_mapping_drops_total', 'Statsd samples dropped on purpose by a mapping rule with action: drop.');
  const events = store.counter('redline_statsd_events_total', 'DogStatsD events and service checks received; they are counted and skipped.', ['kind']);
  const tagErrors = store.counter('redline_statsd_tag_errors_total', 'Tags that could not become labels (no key, or an invalid label name) and were skipped.');
  const series = store.gauge('redline_statsd_series', 'Statsd series currently held, by type.', ['type']);
  const maxSeries = store.gauge('redline_statsd_max_series', 'The series cap (--statsd.max-series): new series above it are dropped.');
  const cacheGets = store.counter('redline_statsd_mapping_cache_gets_total', 'Lookups of raw statsd keys in the mapping cache.');
  const cacheHits = store.counter('redline_statsd_mapping_cache_hits_total', 'Lookups of raw statsd keys answered from the mapping cache.');
  const tcpConns = store.counter('redline_statsd_tcp_connections_total', 'TCP connections accepted by the statsd listener.');
  const tcpOpen = store.gauge('redline_statsd_tcp_connections', 'TCP connections currently open to the statsd listener.');
  const tcpErrors = store.counter('redline_statsd_tcp_connection_errors_total', 'TCP connections that ended in an error.');
  const rcvbuf = store.gauge('redline_statsd_udp_receive_buffer_bytes', 'Effective UDP receive buffer size reported by the kernel.');
  const relayed = store.counter('redline_statsd_relayed_packets_total', 'Packets forwarded to --statsd.relay.address.');

  store.onCollect(() => {
    const ingest = getIngest();
    packets.set(['udp'], transport.udpPackets);
    packets.set(['tcp'], transport.tcpPackets);
    packets.set(['unixgram'], transport.unixgramPackets);
    lines.set([], ingest.lines);
    accepted.set([], ingest.linesAccepted);
    SAMPLE_TYPES.forEach((t, i) => samples.set([t], ingest.samples[i]!));
    for (const r of LINE_ERROR_REASONS) errors.set([r], ingest.lineErrors.get(r) ?? 0);
    for (const [r, n] of ingest.dropped) if (r !== 'mapping_drop') dropped.set([r], n);
    dropped.set(['internal_error'], ingest.internalErrors);
    mappingDrops.set([], ingest.dropped.get('mapping_drop') ?? 0);
    events.set(['event'], ingest.events);
    events.set(['service_check'], ingest.serviceChecks);
    tagErrors.set([], ingest.tagErrors);
    for (const [t, n] of Object.entries(store.statsdSeriesByType)) series.set([t], n);
    maxSeries.set([], store.maxSeries);
    cacheGets.set([], ingest.cacheHits + ingest.cacheMisses);
    cacheHits.set([], ingest.cacheHits);
    tcpConns.set([], transport.tcpConnections);
    tcpOpen.set([], transport.tcpOpen);
    tcpErrors.set([], transport.tcpErrors);
    rcvbuf.set([], transport.udpRecvBufferBytes);
    relayed.set([], transport.relayedPackets);
  });
}

/**
 * The agent process and its Node runtime, from prom-client's default metrics (`process_*`,
 * `nodejs_*`, named exactly as prom-client names them, so every Node dashboard reads them) on a
 * registry of the agent's own, copied into the store before each read by an asynchronous sink
 * (prom-client's collection API is asynchronous). Plus `redline_build_info`.
 */
export function registerProcessMetrics(store: Store, version: string): () => void {
  const info = store.gauge('redline_build_info', 'Always 1; labels carry the Redline and Node.js versions.', ['version', 'nodejs']);
  info.set([version, process.versions.node], 1);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const mirror = new RuntimeMirror(store);
  let stopped = false;
  store.onRefresh(async () => {
    if (stopped) return;
    mirror.copy(await registry.getMetricsAsJSON());
  });
  return () => {
    stopped = true;
    registry.clear();
  };
}

type PromMetric = Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number];

/** Copies prom-client's JSON view into own families of the store, one family per metric. */
class RuntimeMirror {
  private readonly families = new Map<string, OwnMetric>();

  constructor(private readonly store: Store) {}

  copy(metrics: readonly PromMetric[]): void {
    for (const m of metrics) {
      try {
        // prom-client's typings call this an enum; at run time it is the type's name.
        const type = String(m.type);
        if (type === 'histogram') this.histogram(m);
        else if (type === 'counter' || type === 'gauge') this.scalar(m);
      } catch {
        // A name another part of the agent owns with another type: that metric is left out.
      }
    }
  }

  private metric(m: PromMetric, labelNames: string[], make: (names: string[]) => OwnMetric): OwnMetric {
    const key = `${m.name}{${labelNames.join(',')}}`;
    let fam = this.families.get(key);
    if (fam === undefined) {
      fam = make(labelNames);
      this.families.set(key, fam);
    }
    return fam;
  }

  private scalar(m: PromMetric): void {
    const names = [...new Set(m.values.flatMap((v) => Object.keys(v.labels)))].sort();
    const fam = this.metric(m, names, (n) => (String(m.type) === 'counter' ? this.store.counter(m.name, m.help, n) : this.store.gauge(m.name, m.help, n)));
    // Label sets come and go (active handles by type): each copy is the whole truth.
    fam.reset();
    for (const v of m.values) fam.set(names.map((n) => String(v.labels[n] ?? '')), v.value);
  }

  private histogram(m: PromMetric): void {
    const names = [...new Set(m.values.flatMap((v) => Object.keys(v.labels)))].filter((n) => n !== 'le').sort();
    const bounds = [...new Set(m.values.filter((v) => v.labels.le !== undefined && v.labels.le !== '+Inf').map((v) => Number(v.labels.le)))].sort((a, b) => a - b);
    const fam = this.metric(m, names, (n) => this.store.histogram(m.name, m.help, n, bounds));
    fam.reset();
    const groups = new Map<string, { values: string[]; cum: Map<number, number>; sum: number; count: number }>();
    for (const v of m.values) {
      const values = names.map((n) => String(v.labels[n] ?? ''));
      const key = values.join('\u0000');
      let g = groups.get(key);
      if (g === undefined) {
        g = { values, cum: new Map(), sum: 0, count: 0 };
        groups.set(key, g);
      }
      const metricName = (v as { metricName?: string }).metricName ?? '';
      if (metricName.endsWith('_bucket') && v.labels.le !== '+Inf') g.cum.set(Number(v.labels.le), v.value);
      else if (metricName.endsWith('_sum')) g.sum = v.value;
      else if (metricName.endsWith('_count')) g.count = v.value;
    }
    for (const g of groups.values()) {
      const s = fam.series(g.values);
      const fb = s.family.bounds!;
      let prev = 0;
      for (let i = 0; i < fb.length; i++) {
        const c = g.cum.get(fb[i]!) ?? prev;
        s.buckets![i] = c - prev;
        prev = c;
      }
      s.sum = g.sum;
      s.count = g.count;
    }
  }
}
