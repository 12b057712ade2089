#!/usr/bin/env node
/**
 * A Node.js load injector reporting to Redline with hot-shots: starts --rate scenarios per
 * second ("log in, do something, log out") for --duration seconds and sends, per request:
 *
 *   loadtest_requests_total{scenario,step,status}     counter
 *   loadtest_errors_total{scenario,step,reason}       counter
 *   loadtest_request_duration_seconds{scenario,step}  timer in ms, a histogram in seconds in Redline
 * and twice a second, per process:
 *   loadtest_active_users{scenario,pid}, loadtest_offered_rate{scenario,pid}   gauges
 *
 * These are already the names the dashboards read; `--preset loadtest` only adds buckets.
 *
 *   node injector.mjs --target=http://127.0.0.1:8080 --rate=20 --duration=60 --statsd=127.0.0.1:8125
 *
 * Start more processes to add load, and let the agent count them:
 *   redline --preset loadtest --injector hotshots='injector[.]mjs' --sut api='node [s]erver[.]js'
 * Add the event-loop probe to see this injector's own lag (a lagging injector sends less load
 * than it was asked to):  node --require "$(npx redline probe-path)" injector.mjs ...
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import StatsD from 'hot-shots';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'http://127.0.0.1:8080' },
    rate: { type: 'string', default: '10' },
    duration: { type: 'string', default: '30' },
    statsd: { type: 'string', default: '127.0.0.1:8125' },
    scenario: { type: 'string', default: 'hotshots' },
    'timeout-ms': { type: 'string', default: '10000' },
  },
});
const rate = Number(values.rate);
const duration = Number(values.duration);
const timeoutMs = Number(values['timeout-ms']);
const target = new URL(values.target);
const [statsdHost, statsdPort] = values.statsd.split(':');
if (!(rate > 0) || !(duration > 0) || !(timeoutMs > 0) || !statsdHost || !(Number(statsdPort) > 0)) {
  console.error('usage: injector.mjs --target=URL --rate=N --duration=S --statsd=host:port [--scenario=NAME]');
  process.exit(2);
}

const statsd = new StatsD({
  host: statsdHost,
  port: Number(statsdPort),
  globalTags: { scenario: values.scenario },
  maxBufferSize: 1400,
  bufferFlushInterval: 100,
  errorHandler: () => {}, // statsd is fire-and-forget: no agent, no problem
});
const pidTag = { pid: String(process.pid) };
let active = 0;

function request(method, path, body) {
  return new Promise((resolve) => {
    const req = http.request(
      { host: target.hostname, port: target.port, method, path, agent: false, timeout: timeoutMs, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: String(res.statusCode), error: res.statusCode >= 500 ? `status_${res.statusCode}` : null }));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
    req.on('error', (err) => resolve({ status: 'none', error: String(err.code || 'error').toLowerCase() }));
    req.end(body ?? undefined);
  });
}

async function scenario() {
  active++;
  try {
    for (const [step, method, path, body] of [
      ['login', 'POST', '/login', '{"user":"u","password":"p"}'],
      ['work', 'GET', '/work', null],
      ['logout', 'POST', '/logout', '{}'],
    ]) {
      const t = performance.now();
      const r = await request(method, path, body);
      statsd.timing('loadtest_request_duration_seconds', performance.now() - t, { step });
      statsd.increment('loadtest_requests_total', 1, { step, status: r.status });
      if (r.error) {
        statsd.increment('loadtest_errors_total', 1, { step, reason: r.error });
        return;
      }
    }
  } finally {
    active--;
  }
}

const gauges = () => {
  statsd.gauge('loadtest_active_users', active, pidTag);
  statsd.gauge('loadtest_offered_rate', stopped ? 0 : rate * 3, pidTag);
};
let stopped = false;
const gaugeTimer = setInterval(gauges, 500);
// Open model: scenarios start on a schedule, whether earlier ones finished or not.
const started = performance.now();
let launched = 0;
const tick = setInterval(() => {
  const due = Math.floor(((performance.now() - started) / 1000) * rate);
  for (; launched < due; launched++) void scenario();
}, 10);

async function stop() {
  if (stopped) return;
  stopped = true;
  clearInterval(tick);
  clearInterval(gaugeTimer);
  // Let in-flight scenarios finish (bounded), then report zero and flush.
  const until = Date.now() + timeoutMs;
  while (active > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  gauges();
  statsd.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
setTimeout(stop, duration * 1000);
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
