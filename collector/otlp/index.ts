/**
 * The OTLP source as the composition root builds it: translation into the store, the HTTP
 * receiver and its self-metrics, from one settings object.
 */
import type { Store } from '../../core/store.js';
import type { Logger } from '../../core/log.js';
import type { ListenAddress } from '../statsd/listeners.js';
import { OtlpIngest } from './translate.js';
import { OtlpHttpReceiver } from './receiver.js';
import { OtlpMapping } from './mapping.js';
import { registerOtlpMetrics } from './self.js';

export { OtlpIngest, POINT_TYPES, OTLP_DROP_REASONS, EXPONENTIAL_BOUNDS } from './translate.js';
export { OtlpHttpReceiver, METRICS_PATH, REQUEST_ERROR_REASONS } from './receiver.js';
export { OtlpMapping } from './mapping.js';
export { prometheusName, labelName } from './names.js';

export interface OtlpReceiverSettings {
  listenAddress: ListenAddress;
  maxRequestBytes: number;
  /** OTLP series idle this long are removed (0: never). */
  ttlMs: number;
  /** Mapping files (the user's, then presets'), in order. */
  mappingFiles: readonly string[];
}

export interface OtlpSource {
  readonly description: string;
  readonly port: number;
  readonly ingest: OtlpIngest;
  /** Re-reads the mapping files; throws (keeping the old rules) when one is bad. */
  reload(): void;
  stop(): Promise<void>;
}

export function loadOtlpMapping(files: readonly string[]): OtlpMapping {
  return OtlpMapping.chain(files.map((f) => OtlpMapping.fromFile(f)));
}

export async function startOtlpReceiver(store: Store, settings: OtlpReceiverSettings, logger: Logger): Promise<OtlpSource> {
  const addr = settings.listenAddress;
  const ingest = new OtlpIngest(store, { ttlMs: settings.ttlMs, logger, mapping: loadOtlpMapping(settings.mappingFiles) });
  const receiver = new OtlpHttpReceiver(ingest, { host: addr.host, port: addr.port, maxRequestBytes: settings.maxRequestBytes }, logger);
  registerOtlpMetrics(store, ingest, receiver.stats);
  const port = await receiver.listen();
  return {
    description: `OTLP/HTTP ${addr.host}:${port}/v1/metrics`,
    port,
    ingest,
    reload: () => ingest.setMapping(loadOtlpMapping(settings.mappingFiles)),
    stop: () => receiver.close(),
  };
}
