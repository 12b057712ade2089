/**
 * Artillery processor: sends every response's time to Redline as a statsd timer with DogStatsD
 * tags, so the latency histogram panels fill (Artillery's own statsd metrics are summaries).
 * Uses hot-shots, which publish-metrics already depends on. REDLINE_STATSD=host:port
 * (default 127.0.0.1:8125).
 */
'use strict';
const StatsD = require('hot-shots');

const [host, port] = (process.env.REDLINE_STATSD || '127.0.0.1:8125').split(':');
const client = new StatsD({ host: host || '127.0.0.1', port: Number(port) || 8125, globalTags: { scenario: 'artillery' }, errorHandler: () => {} });

function redlineTiming(req, res, context, events, next) {
  const step = req.name || (req.url || '').split('?')[0] || 'request';
  const ms = res && res.timings && res.timings.phases ? res.timings.phases.total : undefined;
  if (typeof ms === 'number') client.timing('loadtest_request_duration_seconds', ms, { step });
  return next();
}

module.exports = { redlineTiming };
