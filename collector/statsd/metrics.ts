/**
 * Redline's own statsd metrics: intake, refusals, the mapping cache and the listeners. Every
 * family is declared once here; the ingest and the listeners keep plain numbers on the hot path
 * and `registerStatsdMetrics` copies them into the store when /metrics is read.
 */
import { ownFamily, type OwnFamilyDef, type Store } from '../../core/store.js';
import { SAMPLE_TYPES } from './wire.js';
import type { StatsdIngest } from './ingest.js';
import type { TransportStats } from './listeners.js';

/** Why a line was rejected: the `reason` label of `redline_statsd_line_errors_total`. */
export const LINE_ERROR_REASONS = [
  'empty_line',
  'malformed_line',
  'empty_name',
  'invalid_value',
  'invalid_type',
  'invalid_sample_rate',
  'illegal_negative_counter',
  'invalid_utf8',
  'mixed_tagging_styles',
  'invalid_tag',
  'invalid_multi_value',
  'too_many_values',
  'line_too_long',
] as const;
export type LineErrorReason = (typeof LINE_ERROR_REASONS)[number];

/**
 * Why the store refused a valid sample: the `reason` label of `redline_statsd_dropped_total`
 * (which also counts `internal_error`, packets abandoned because of a bug in the ingest).
 */
export const DROP_REASONS = ['series_limit', 'type_conflict', 'name_conflict', 'label_conflict'] as const;

export const STATSD_PACKETS = ownFamily({
  name: 'redline_statsd_packets_total',
  help: 'Datagrams (UDP, unixgram) and TCP reads received, by transport.',
  type: 'counter',
  labelNames: ['transport'],
});
export const STATSD_LINES = ownFamily({
  name: 'redline_statsd_lines_total',
  help: 'Statsd lines received, valid or not (events and service checks included).',
  type: 'counter',
  labelNames: [],
});
export const STATSD_LINES_ACCEPTED = ownFamily({
  name: 'redline_statsd_lines_accepted_total',
  help: 'Statsd lines that parsed; every line is accepted, rejected (line_errors) or skipped (events).',
  type: 'counter',
  labelNames: [],
});
export const STATSD_SAMPLES = ownFamily({
  name: 'redline_statsd_samples_total',
  help: 'Statsd samples parsed and accepted, by statsd type.',
  type: 'counter',
  labelNames: ['type'],
});
export const STATSD_LINE_ERRORS = ownFamily({
  name: 'redline_statsd_line_errors_total',
  help: 'Statsd lines rejected as malformed, by reason; nothing of a rejected line is applied.',
  type: 'counter',
  labelNames: ['reason'],
});
export const STATSD_DROPPED = ownFamily({
  name: 'redline_statsd_dropped_total',
  help: 'Valid statsd samples that could not be stored, by reason (series_limit, type_conflict, name_conflict, label_conflict, illegal_negative_counter after a negative scale, regex_name_too_long: a regex rule needing captures matched a name over --statsd.regex-max-name-length).',
  type: 'counter',
  labelNames: ['reason'],
});
export const RENAMED_LABELS = ownFamily({
  name: 'redline_renamed_labels_total',
  help: 'Series whose le (histograms) or quantile (summaries) label, which the family serves itself, was renamed exported_le or exported_quantile.',
  type: 'counter',
  labelNames: ['label'],
});
export const STATSD_MAPPING_DROPS = ownFamily({
  name: 'redline_statsd_mapping_drops_total',
  help: 'Statsd samples dropped on purpose by a mapping rule with action: drop.',
  type: 'counter',
  labelNames: [],
});
export const STATSD_EVENTS = ownFamily({
  name: 'redline_statsd_events_total',
  help: 'DogStatsD events and service checks received; they are counted and skipped.',
  type: 'counter',
  labelNames: ['kind'],
});
export const STATSD_TAG_ERRORS = ownFamily({
  name: 'redline_statsd_tag_errors_total',
  help: 'Tags that could not become labels (no key, or an invalid label name) and were skipped.',
  type: 'counter',
  labelNames: [],
});
export const STATSD_SERIES = ownFamily({
  name: 'redline_statsd_series',
  help: 'Statsd series currently held, by type.',
  type: 'gauge',
  labelNames: ['type'],
});
export const STATSD_MAX_SERIES = ownFamily({
  name: 'redline_statsd_max_series',
  help: 'The series cap (--statsd.max-series): new series above it are dropped.',
  type: 'gauge',
  labelNames: [],
});
export const STATSD_CACHE_GETS = ownFamily({
  name: 'redline_statsd_mapping_cache_gets_total',
  help: 'Lookups of raw statsd keys in the mapping cache.',
  type: 'counter',
  labelNames: [],
});
export const STATSD_CACHE_HITS = ownFamily({
  name: 'redline_statsd_mapping_cache_hits_total',
  help: 'Lookups of raw statsd keys answered from the mapping cache.',
  type: 'counter',
  labelNames: [],
});
export const STATSD_TCP_CONNECTIONS = ownFamily({
  name: 'redline_statsd_tcp_connections_total',
  help: 'TCP connections accepted by the statsd listener.',
  type: 'counter',
  labelNames: [],
});
export const STATSD_TCP_OPEN = ownFamily({
  name: 'redline_statsd_tcp_open_connections',
  help: 'TCP connections currently open to the statsd listener.',
  type: 'gauge',
  labelNames: [],
});
export const STATSD_TCP_ERRORS = ownFamily({
  name: 'redline_statsd_tcp_connection_errors_total',
  help: 'TCP connections that ended in an error.',
  type: 'counter',
  labelNames: [],
});
export const STATSD_TCP_REFUSED = ownFamily({
  name: 'redline_statsd_tcp_connections_refused_total',
  help: 'TCP connections closed on arrival because --statsd.tcp-max-connections were open.',
  type: 'counter',
  labelNames: [],
});
export const STATSD_TCP_IDLE_CLOSED = ownFamily({
  name: 'redline_statsd_tcp_idle_timeouts_total',
  help: 'TCP connections closed after sending nothing for --statsd.tcp-idle-timeout.',
  type: 'counter',
  labelNames: [],
});
export const STATSD_TCP_PAUSED = ownFamily({
  name: 'redline_statsd_tcp_paused_total',
  help: 'Times a statsd TCP connection was paused because the ingest had spent its time budget for one event-loop turn (10 ms); its lines wait for a later turn, nothing is dropped.',
  type: 'counter',
  labelNames: [],
});
export const STATSD_TCP_MAX = ownFamily({
  name: 'redline_statsd_tcp_max_connections',
  help: 'The cap on open statsd TCP connections (--statsd.tcp-max-connections, or half the open-files limit).',
  type: 'gauge',
  labelNames: [],
});
export const STATSD_SET_MEMBERS_DROPPED = ownFamily({
  name: 'redline_statsd_set_members_dropped_total',
  help: 'New members of a statsd set past --statsd.set-max-members in one interval, left uncounted (the set then reads at least the cap).',
  type: 'counter',
  labelNames: [],
});
export const STATSD_UDP_RCVBUF = ownFamily({
  name: 'redline_statsd_udp_receive_buffer_bytes',
  help: 'Effective UDP receive buffer size reported by the kernel.',
  type: 'gauge',
  labelNames: [],
});
export const STATSD_RELAYED = ownFamily({
  name: 'redline_statsd_relayed_packets_total',
  help: 'Datagrams sent to --statsd.relay.address (lines from every listener, packed up to --statsd.relay.packet-length).',
  type: 'counter',
  labelNames: [],
});
export const STATSD_RELAYED_LINES = ownFamily({
  name: 'redline_statsd_relayed_lines_total',
  help: 'Lines queued for --statsd.relay.address.',
  type: 'counter',
  labelNames: [],
});
export const STATSD_RELAY_LONG_LINES = ownFamily({
  name: 'redline_statsd_relay_long_lines_total',
  help: 'Lines not relayed: longer than --statsd.relay.packet-length allows.',
  type: 'counter',
  labelNames: [],
});

/** Every family above, for checks over all of them. */
export const STATSD_FAMILIES: readonly OwnFamilyDef[] = [
  STATSD_PACKETS,
  STATSD_LINES,
  STATSD_LINES_ACCEPTED,
  STATSD_SAMPLES,
  STATSD_LINE_ERRORS,
  STATSD_DROPPED,
  STATSD_MAPPING_DROPS,
  RENAMED_LABELS,
  STATSD_EVENTS,
  STATSD_TAG_ERRORS,
  STATSD_SERIES,
  STATSD_MAX_SERIES,
  STATSD_CACHE_GETS,
  STATSD_CACHE_HITS,
  STATSD_TCP_CONNECTIONS,
  STATSD_TCP_OPEN,
  STATSD_TCP_ERRORS,
  STATSD_TCP_REFUSED,
  STATSD_TCP_IDLE_CLOSED,
  STATSD_TCP_PAUSED,
  STATSD_TCP_MAX,
  STATSD_SET_MEMBERS_DROPPED,
  STATSD_UDP_RCVBUF,
  STATSD_RELAYED,
  STATSD_RELAYED_LINES,
  STATSD_RELAY_LONG_LINES,
];

/** Publishes the ingest's and the listeners' counters at every read of the store. */
export function registerStatsdMetrics(store: Store, getIngest: () => StatsdIngest, transport: TransportStats): void {
  const packets = store.register(STATSD_PACKETS);
  const lines = store.register(STATSD_LINES);
  const accepted = store.register(STATSD_LINES_ACCEPTED);
  const samples = store.register(STATSD_SAMPLES);
  const errors = store.register(STATSD_LINE_ERRORS);
  const dropped = store.register(STATSD_DROPPED);
  const mappingDrops = store.register(STATSD_MAPPING_DROPS);
  const renamed = store.register(RENAMED_LABELS);
  const events = store.register(STATSD_EVENTS);
  const tagErrors = store.register(STATSD_TAG_ERRORS);
  const series = store.register(STATSD_SERIES);
  const maxSeries = store.register(STATSD_MAX_SERIES);
  const cacheGets = store.register(STATSD_CACHE_GETS);
  const cacheHits = store.register(STATSD_CACHE_HITS);
  const tcpConns = store.register(STATSD_TCP_CONNECTIONS);
  const tcpOpen = store.register(STATSD_TCP_OPEN);
  const tcpErrors = store.register(STATSD_TCP_ERRORS);
  const tcpRefused = store.register(STATSD_TCP_REFUSED);
  const tcpIdle = store.register(STATSD_TCP_IDLE_CLOSED);
  const tcpPaused = store.register(STATSD_TCP_PAUSED);
  const tcpMax = store.register(STATSD_TCP_MAX);
  const setDropped = store.register(STATSD_SET_MEMBERS_DROPPED);
  const rcvbuf = store.register(STATSD_UDP_RCVBUF);
  const relayed = store.register(STATSD_RELAYED);
  const relayedLines = store.register(STATSD_RELAYED_LINES);
  const relayLong = store.register(STATSD_RELAY_LONG_LINES);

  store.onCollect(() => {
    const ingest = getIngest();
    packets.set(['udp'], transport.udpPackets);
    packets.set(['tcp'], transport.tcpPackets);
    packets.set(['unixgram'], transport.unixgramPackets);
    lines.set([], ingest.lines);
    accepted.set([], ingest.linesAccepted);
    SAMPLE_TYPES.forEach((t, i) => samples.set([t], ingest.samples[i]!));
    for (const r of LINE_ERROR_REASONS) errors.set([r], ingest.lineErrors.get(r) ?? 0);
    for (const r of DROP_REASONS) dropped.set([r], ingest.dropped.get(r) ?? 0);
    dropped.set(['illegal_negative_counter'], ingest.dropped.get('illegal_negative_counter') ?? 0);
    dropped.set(['regex_name_too_long'], ingest.dropped.get('regex_name_too_long') ?? 0);
    dropped.set(['internal_error'], ingest.internalErrors);
    for (const [l, n] of store.renamedLabels) renamed.set([l], n);
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
    tcpRefused.set([], transport.tcpRefused);
    tcpIdle.set([], transport.tcpIdleClosed);
    tcpPaused.set([], transport.tcpPaused);
    tcpMax.set([], transport.tcpMaxConnections);
    setDropped.set([], ingest.setMembersDropped);
    rcvbuf.set([], transport.udpRecvBufferBytes);
    relayed.set([], transport.relayedPackets);
    relayedLines.set([], transport.relayedLines);
    relayLong.set([], transport.relayLongLines);
  });
}
