/**
 * The OTLP receiver's own metrics (`redline_otlp_*`), published when /metrics is read.
 */
import type { Store } from '../../core/store.js';
import { OTLP_DROP_REASONS, POINT_TYPES, type OtlpIngest } from './translate.js';
import { REQUEST_ERROR_REASONS, type ReceiverStats } from './receiver.js';

export function registerOtlpMetrics(store: Store, ingest: OtlpIngest, stats: ReceiverStats): void {
  const requests = store.counter('redline_otlp_requests_total', 'OTLP export requests decoded and applied, by encoding (protobuf, json).', ['encoding']);
  const errors = store.counter('redline_otlp_request_errors_total', 'OTLP requests refused before reaching the store, by reason; nothing of a refused request is applied.', ['reason']);
  const bytes = store.counter('redline_otlp_received_bytes_total', 'OTLP request body bytes received, as sent (before decompression).');
  const points = store.counter('redline_otlp_data_points_total', 'OTLP data points received, by OTLP type.', ['type']);
  const dropped = store.counter('redline_otlp_dropped_total', 'OTLP data points that could not be stored, by reason (series_limit, type_conflict, name_conflict, invalid_data_point, ...).', ['reason']);
  const mappingDrops = store.counter('redline_otlp_mapping_drops_total', 'OTLP data points dropped on purpose by a mapping rule with action: drop.');
  const noValue = store.counter('redline_otlp_no_value_points_total', 'OTLP data points flagged as carrying no recorded value (a series that went away); skipped.');
  const rebucketed = store.counter('redline_otlp_rebucketed_points_total', 'OTLP histogram points moved onto the bounds their family serves (a mapping rule\'s, or the first sender\'s); exact where the bounds agree.');
  const attrErrors = store.counter('redline_otlp_attribute_errors_total', 'OTLP attributes that could not become labels (empty or reserved names) and were skipped.');
  const internal = store.counter('redline_otlp_internal_errors_total', 'OTLP requests that failed inside the agent (answered 500).');
  store.onCollect(() => {
    requests.set(['protobuf'], stats.requests.protobuf);
    requests.set(['json'], stats.requests.json);
    for (const r of REQUEST_ERROR_REASONS) errors.set([r], stats.errors.get(r) ?? 0);
    bytes.set([], stats.bytes);
    POINT_TYPES.forEach((t, i) => points.set([t], ingest.points[i]!));
    for (const r of OTLP_DROP_REASONS) dropped.set([r], ingest.dropped.get(r) ?? 0);
    mappingDrops.set([], ingest.mappingDrops);
    noValue.set([], ingest.noValuePoints);
    attrErrors.set([], ingest.attributeErrors);
    rebucketed.set([], ingest.rebucketed);
    internal.set([], stats.internalErrors);
  });
}
