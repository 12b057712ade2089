/**
 * The OTLP push as the composition root builds it, with its self-metrics (`redline_otlp_export_*`).
 */
import type { Store } from '../../core/store.js';
import type { Logger } from '../../core/log.js';
import { OtlpPusher, EXPORT_DROP_REASONS, type PushOptions } from './push.js';

export { OtlpPusher, StoreProducer, EXPORT_DROP_REASONS } from './push.js';
export type { PushOptions } from './push.js';

export function startOtlpPush(store: Store, opts: PushOptions, logger: Logger): OtlpPusher {
  const pusher = new OtlpPusher(store, opts, logger);
  const exports = store.counter('redline_otlp_exports_total', 'OTLP push exports finished, by outcome (success, failure).', ['outcome']);
  const dropped = store.counter('redline_otlp_export_dropped_total', 'OTLP push intervals that exported nothing, by reason (queue_full: the endpoint is slow; backoff: after a failure).', ['reason']);
  const inFlight = store.gauge('redline_otlp_export_in_flight', 'OTLP push exports waiting for the endpoint.');
  const series = store.gauge('redline_otlp_export_series', 'Series in the last OTLP push.');
  const collect = store.gauge('redline_otlp_export_collect_seconds', 'Time the last OTLP push took to read the store, in seconds.');
  const last = store.gauge('redline_otlp_export_last_success_timestamp_seconds', 'When an OTLP push last succeeded, in seconds since the epoch (0: never).');
  store.onCollect(() => {
    const st = pusher.stats;
    exports.set(['success'], st.exports.success);
    exports.set(['failure'], st.exports.failure);
    for (const r of EXPORT_DROP_REASONS) dropped.set([r], st.dropped.get(r) ?? 0);
    inFlight.set([], st.inFlight);
    series.set([], st.lastSeries);
    collect.set([], st.lastCollectSeconds);
    last.set([], st.lastSuccessSeconds);
  });
  pusher.start();
  return pusher;
}
