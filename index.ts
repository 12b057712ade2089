// Public surface of the `redline` package. Every export is named here (no `export *`).
export { Store, Family, Series, OwnMetric, DEFAULT_BUCKETS } from './core/store.js';
export type { MetricType, DropReason, StoreOptions, FamilyOptions, StatsdSeriesRequest } from './core/store.js';
export { render, negotiate, TEXT_CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE } from './exporters/exposition.js';
export type { Format } from './exporters/exposition.js';
