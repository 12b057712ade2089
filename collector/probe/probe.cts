/**
 * Redline's event-loop probe. Load it into any Node.js process without changing its code:
 *
 *   node --require redline/probe app.js
 *   NODE_OPTIONS="--require $(npx redline probe-path)" npm start
 *   node --import redline/probe app.mjs
 *
 * Every REDLINE_PROBE_INTERVAL_MS (1000) it sends, over statsd to REDLINE_STATSD
 * (127.0.0.1:8125), tagged service, role and pid: event-loop delay (min, mean, max, p50, p90,
 * p99 of that interval's 10 ms timer ticks, the resolution taken out so an idle loop reads ≈ 0),
 * event-loop utilisation, the time-weighted delay (the share of the interval the loop was
 * blocked and the delay an arrival at a random moment would have met), GC pauses and counts by
 * kind, heap, RSS and external memory, active handles and requests, and CPU time. The probe owns
 * its window: each reading covers exactly one interval, however often the agent is scraped.
 *
 * A watchdog worker thread (REDLINE_PROBE_WATCHDOG_MS, 500; 0 turns it off) reports
 * `redline_nodejs_eventloop_stalled_seconds` itself while the main loop is stuck, when the loop
 * cannot report anything.
 *
 * Do no harm: it never throws into the host program, never keeps it alive, is silent unless
 * REDLINE_PROBE_DEBUG=1, keeps working (silently) when no agent listens, and reports once per
 * process even when loaded twice.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as perf from 'node:perf_hooks';
import { isMainThread, Worker } from 'node:worker_threads';

const GUARD = Symbol.for('redline.probe.loaded');
const debug = process.env['REDLINE_PROBE_DEBUG'] === '1';

function log(msg: string): void {
  if (debug) {
    try {
      process.stderr.write(`redline probe[${process.pid}]: ${msg}\n`);
    } catch {
      // Nothing to do: the probe stays silent.
    }
  }
}

function serviceName(): string {
  const fromEnv = process.env['REDLINE_SERVICE'];
  if (fromEnv) return fromEnv;
  const entry = process.argv[1];
  if (!entry) return 'node';
  // The nearest package.json's name, else the entry script's base name.
  let dir = path.dirname(path.resolve(entry));
  for (let i = 0; i < 8; i++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (typeof pkg.name === 'string' && pkg.name !== '') return pkg.name;
    } catch {
      // No package.json here: look one level up.
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return path.basename(entry).replace(/\.[cm]?[jt]s$/, '');
}

const GC_KINDS: Record<number, string> = {
  [perf.constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [perf.constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [perf.constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [perf.constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

interface Sender {
  gauge(name: string, value: number, tags?: Record<string, string>): void;
  increment(name: string, value: number, tags?: Record<string, string>): void;
  flush(): void;
}

/** `host:port`, `host`, `:port`, `[v6]:port` or `v6`; anything unusable falls back to the default. */
function statsdAddress(value: string | undefined): { host: string; port: number } {
  const def = { host: '127.0.0.1', port: 8125 };
  const v = (value ?? '').trim();
  if (v === '') return def;
  let host: string;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(v);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2];
  } else if (v.indexOf(':') !== v.lastIndexOf(':')) {
    host = v; // A bare IPv6 address.
  } else {
    const i = v.indexOf(':');
    host = i === -1 ? v : v.slice(0, i);
    portText = i === -1 ? undefined : v.slice(i + 1);
  }
  let port = def.port;
  if (portText !== undefined && portText !== '') {
    const n = Number(portText);
    if (Number.isInteger(n) && n > 0 && n < 65536) port = n;
    else log(`REDLINE_STATSD=${JSON.stringify(value)}: bad port, using ${def.port}`);
  }
  return { host: host || def.host, port };
}

/**
 * The q-quantile of the delay an arrival at a uniformly random moment of a `totalMs` window would
 * have met, given the window's blocked stretches (`blocks`, ms, largest first). An arrival inside
 * a stretch of length b waits for the rest of it, uniformly 0..b; one outside waits nothing. So
 * P(delay > x) = Σ (b − x)⁺ / totalMs, and the quantile is the x where that equals 1 − q: with the
 * k largest stretches above x it is (their sum − (1 − q)·totalMs) / k.
 */
function delayQuantile(blocks: readonly number[], totalMs: number, q: number): number {
  const target = (1 - q) * totalMs;
  let sum = 0;
  for (let k = 0; k < blocks.length; k++) {
    sum += blocks[k]!;
    const next = blocks[k + 1] ?? 0;
    if (sum - (k + 1) * next >= target) return Math.max(next, (sum - target) / (k + 1));
  }
  return 0;
}

/**
 * The watchdog thread. It shares one Int32 with the main thread, which bumps it on every sampler
 * tick (each 10 ms while its loop turns). When the number has not moved for `stallMs`, the main
 * loop is stuck (a busy loop, a synchronous call that never returns): the worker, whose own loop
 * still turns, sends the seconds it has been stuck, again every interval while it stays stuck, and
 * 0 once it moves again (and every interval while it runs, so the series exists before any stall).
 * It sends through hot-shots with the main thread's tags, so its series carries the same labels.
 * Everything is caught: the thread must never print or fail into the program.
 */
const WATCHDOG_SOURCE = `
'use strict';
const { workerData } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const { heartbeat, statsd, stallMs, intervalMs, checkMs, debug } = workerData;
const log = (m) => { if (debug) try { process.stderr.write('redline probe watchdog[' + process.pid + ']: ' + m + '\\n'); } catch {} };
try {
  const StatsD = require(statsd.module);
  const client = new StatsD({ ...statsd.options, errorHandler: (e) => log('send failed: ' + e.message) });
  const NAME = 'redline_nodejs_eventloop_stalled_seconds';
  let seen = Atomics.load(heartbeat, 0);
  let movedAt = performance.now();
  let stuck = false;
  let sentAt = performance.now();
  const send = (v, now) => { try { client.gauge(NAME, v); sentAt = now; } catch (e) { log('send failed: ' + e.message); } };
  setInterval(() => {
    const now = performance.now();
    const beat = Atomics.load(heartbeat, 0);
    if (beat !== seen) {
      seen = beat;
      movedAt = now;
      if (stuck) { stuck = false; log('main loop running again'); send(0, now); return; }
    } else if (now - movedAt >= stallMs) {
      if (!stuck) log('main loop stuck for ' + Math.round(now - movedAt) + ' ms');
      if (!stuck || now - sentAt >= intervalMs) send(Math.round(now - movedAt) / 1000, now);
      stuck = true;
      return;
    }
    if (now - sentAt >= intervalMs) send(0, now);
  }, checkMs);
} catch (e) {
  log('not started: ' + e.message);
}
`;

/** Starts the watchdog thread; the returned Int32Array is its heartbeat. Null when it cannot run. */
function startWatchdog(stallMs: number, intervalMs: number, statsd: { module: string; options: Record<string, unknown> }): Int32Array | null {
  try {
    const heartbeat = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(WATCHDOG_SOURCE, {
      eval: true,
      workerData: { heartbeat, statsd, stallMs, intervalMs, checkMs: Math.max(10, Math.min(100, Math.floor(stallMs / 5))), debug },
      // Its own small heap: it holds a timer, a socket and hot-shots.
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
      stdout: true,
      stderr: !debug,
      // The program's flags (--inspect, --require of its own preloads) are not the watchdog's business.
      execArgv: [],
    });
    worker.unref();
    worker.on('error', (err) => log(`watchdog failed: ${err.message}`));
    return heartbeat;
  } catch (err) {
    log(`watchdog not started: ${(err as Error).message}`);
    return null;
  }
}

function start(): void {
  const g = globalThis as Record<symbol, unknown>;
  if (g[GUARD]) return;
  g[GUARD] = true;
  // Preloads run again in every worker thread, with the same pid: a second reporter there would
  // overwrite the main loop's gauges and count the process's CPU twice. The main loop is the one
  // that serves requests; workers are not reported.
  if (!isMainThread) return;

  const { host, port } = statsdAddress(process.env['REDLINE_STATSD']);
  // 100 ms to 1 h: a timer beyond 2^31 ms would fire every millisecond, with a warning.
  const intervalMs = Math.min(3_600_000, Math.max(100, Number(process.env['REDLINE_PROBE_INTERVAL_MS'] ?? 1000) || 1000));
  const role = process.env['REDLINE_ROLE'] || 'sut';
  const service = serviceName();

  // hot-shots is loaded lazily so that a broken install costs the probe, not the program.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const StatsD = require('hot-shots') as new (opts: Record<string, unknown>) => Sender & { socket?: { unref?: () => void } };
  const statsdOptions = {
    host: host || '127.0.0.1',
    port,
    protocol: 'udp',
    cacheDns: true,
    // One datagram per report (flushed right after it) rather than one per metric.
    maxBufferSize: 1400,
    bufferFlushInterval: Math.max(intervalMs, 1000) * 5,
    datadog: false,
    includeDataDogTags: false,
    telemetryEnabled: false,
    globalTags: { service, role, pid: String(process.pid) },
  };
  const client = new StatsD({ ...statsdOptions, errorHandler: (err: Error) => log(`send failed: ${err.message}`) });
  const watchdogText = process.env['REDLINE_PROBE_WATCHDOG_MS'];
  const watchdogMs = watchdogText === undefined || watchdogText.trim() === '' || !Number.isFinite(Number(watchdogText)) ? 500 : Number(watchdogText);
  const heartbeat =
    watchdogMs > 0
      ? startWatchdog(Math.min(3_600_000, Math.max(50, watchdogMs)), intervalMs, {
          module: require.resolve('hot-shots'),
          // Sent unbuffered: one stall reading is one datagram, sent at once.
          options: { ...statsdOptions, maxBufferSize: 0 },
        })
      : null;

  let lastElu = perf.performance.eventLoopUtilization();
  let lastCpu = process.cpuUsage();
  const gcPause = new Map<string, number>();
  const gcCount = new Map<string, number>();
  const observer = new perf.PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const detail = (e as unknown as { detail?: { kind?: number } }).detail;
      const kind = GC_KINDS[detail?.kind ?? -1] ?? 'other';
      gcPause.set(kind, (gcPause.get(kind) ?? 0) + e.duration / 1000);
      gcCount.set(kind, (gcCount.get(kind) ?? 0) + 1);
    }
  });
  try {
    observer.observe({ entryTypes: ['gc'] });
  } catch {
    log('GC observation unavailable');
  }

  // One 10 ms sampler timer measures both delays. Per timer: each tick's lateness (its gap minus
  // the 10 ms, so an idle loop reads ≈ 0) is one sample of `lag_seconds`, as
  // monitorEventLoopDelay (a 10 ms timer recording the same gaps) did before; one timer instead
  // of two halves the wake-ups of an idle process. Per timer, a 150 ms stall a second is one
  // late tick among ~85 and never reaches p99, although an arrival meets it 15% of the time.
  // Time-weighted: the gaps between ticks tile the interval exactly; a gap in which the tick
  // came late (by more than LATE_MS: libuv rounds timers to the millisecond) holds a blocked
  // stretch. Its length is the loop's active time in that gap (ELU's counters, exact: libuv
  // times the poll phase), at least the lateness (time the process was not even scheduled shows
  // as lateness, not activity) and at most the gap. Blocked share and the delay quantiles then
  // follow from the stretches (delayQuantile). This is exact to the sampler's 10 ms for every
  // stretch longer than that; the alternatives are not exact: monitorEventLoopDelay's histogram
  // only gives quantiles of counts (its gaps cannot be weighted by their length after the
  // fact), and ELU alone gives the busy share but not how it splits into long and short stretches.
  const SAMPLE_MS = 10;
  // Per-timer lags of the window (ms): exact count, sum, min, max; quantiles from the samples,
  // thinned uniformly (every 2nd, 4th… kept) past LAG_CAP so that a long interval stays bounded.
  const LAG_CAP = 8192;
  const lags = new Float64Array(LAG_CAP);
  let lagN = 0;
  let lagStride = 1;
  let lagSkip = 0;
  let lagMin = Infinity;
  let lagMax = 0;
  let lagSum = 0;
  let lagCount = 0;
  const recordLag = (ms: number): void => {
    lagCount++;
    lagSum += ms;
    if (ms < lagMin) lagMin = ms;
    if (ms > lagMax) lagMax = ms;
    if (++lagSkip < lagStride) return;
    lagSkip = 0;
    if (lagN === LAG_CAP) {
      for (let i = 0; i < LAG_CAP / 2; i++) lags[i] = lags[2 * i]!;
      lagN = LAG_CAP / 2;
      lagStride *= 2;
    }
    lags[lagN++] = ms;
  };
  /** The window's lag summary (s), taken when it closes; the counters start again. */
  const takeLags = (): { q: [string, number][]; mean: number } => {
    const sorted = lags.slice(0, lagN).sort();
    const at = (p: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!);
    const out = {
      q: [
        ['0', lagCount > 0 ? lagMin : 0],
        ['0.5', at(0.5)],
        ['0.9', at(0.9)],
        ['0.99', at(0.99)],
        ['1', lagMax],
      ] as [string, number][],
      mean: lagCount > 0 ? lagSum / lagCount : 0,
    };
    lagN = lagSkip = lagCount = 0;
    lagStride = 1;
    lagMin = Infinity;
    lagMax = lagSum = 0;
    for (const e of out.q) e[1] /= 1000;
    out.mean /= 1000;
    return out;
  };
  const LATE_MS = 2;
  const blocks: number[] = [];
  let shortBlockedMs = 0;
  let lastTick = perf.performance.now();
  let lastActive = perf.performance.eventLoopUtilization().active;
  let beats = 0;

  let lastReport = lastTick;
  let reportPending = false;
  /** One interval's report: `blocks`, `shortMs` and `lag` are that window's, `elapsedMs` its length. */
  const report = (elapsedMs: number, blocks: number[], shortMs: number, lag: ReturnType<typeof takeLags>): void => {
    reportPending = false;
    try {
      blocks.sort((a, b) => b - a);
      let blockedMs = shortMs;
      for (const b of blocks) blockedMs += b;
      client.gauge('redline_nodejs_eventloop_blocked_ratio', elapsedMs > 0 ? Math.min(1, blockedMs / elapsedMs) : 0);
      for (const [q, name] of [
        [0.5, '0.5'],
        [0.9, '0.9'],
        [0.99, '0.99'],
        [1, '1'],
      ] as const) {
        client.gauge('redline_nodejs_eventloop_delay_seconds', delayQuantile(blocks, elapsedMs, q) / 1000, { quantile: name });
      }
      // A loop blocked for longer than the interval closes the window with one tick: its one
      // sample is the stall, not a missing reading.
      for (const [q, v] of lag.q) client.gauge('redline_nodejs_eventloop_lag_seconds', v, { quantile: q });
      client.gauge('redline_nodejs_eventloop_lag_mean_seconds', lag.mean);
      const elu = perf.performance.eventLoopUtilization();
      client.gauge('redline_nodejs_eventloop_utilization', perf.performance.eventLoopUtilization(elu, lastElu).utilization);
      lastElu = elu;
      for (const [kind, s] of gcPause) client.increment('redline_nodejs_gc_pause_seconds_total', s, { kind });
      for (const [kind, n] of gcCount) client.increment('redline_nodejs_gc_total', n, { kind });
      gcPause.clear();
      gcCount.clear();
      const mem = process.memoryUsage();
      client.gauge('redline_nodejs_heap_bytes', mem.heapUsed, { type: 'used' });
      client.gauge('redline_nodejs_heap_bytes', mem.heapTotal, { type: 'total' });
      client.gauge('redline_nodejs_memory_bytes', mem.rss, { type: 'rss' });
      client.gauge('redline_nodejs_memory_bytes', mem.external, { type: 'external' });
      client.gauge('redline_nodejs_memory_bytes', mem.arrayBuffers, { type: 'array_buffers' });
      const p = process as unknown as { getActiveResourcesInfo?: () => string[]; _getActiveRequests?: () => unknown[] };
      client.gauge('redline_nodejs_active_handles', p.getActiveResourcesInfo ? p.getActiveResourcesInfo().length : 0);
      client.gauge('redline_nodejs_active_requests', p._getActiveRequests ? p._getActiveRequests().length : 0);
      const cpu = process.cpuUsage();
      client.increment('redline_nodejs_cpu_seconds_total', (cpu.user - lastCpu.user) / 1e6, { mode: 'user' });
      client.increment('redline_nodejs_cpu_seconds_total', (cpu.system - lastCpu.system) / 1e6, { mode: 'system' });
      lastCpu = cpu;
      client.flush();
    } catch (err) {
      log(`report failed: ${(err as Error).message}`);
    }
  };
  const sample = (): void => {
    const now = perf.performance.now();
    const active = perf.performance.eventLoopUtilization().active;
    const gap = now - lastTick;
    recordLag(Math.max(0, gap - SAMPLE_MS));
    if (gap - SAMPLE_MS > LATE_MS) {
      blocks.push(Math.min(gap, Math.max(gap - SAMPLE_MS, active - lastActive)));
      // Bounded for long intervals: the shortest half goes into the blocked share only.
      if (blocks.length >= 8192) {
        blocks.sort((a, b) => b - a);
        for (let i = 4096; i < blocks.length; i++) shortBlockedMs += blocks[i]!;
        blocks.length = 4096;
      }
    }
    lastTick = now;
    lastActive = active;
    if (heartbeat !== null) Atomics.store(heartbeat, 0, ++beats | 0);
    // The window closes at a tick, so the gaps tile it with nothing left over. The report (the
    // sends) runs in the check phase of this same turn, outside the timer callback.
    if (!reportPending && now - lastReport >= intervalMs - SAMPLE_MS / 2) {
      reportPending = true;
      setImmediate(report, now - lastReport, blocks.splice(0), shortBlockedMs, takeLags());
      lastReport = now;
      shortBlockedMs = 0;
    }
  };
  const timer = setInterval(sample, SAMPLE_MS);
  timer.unref();
  log(`reporting to ${host}:${port} every ${intervalMs} ms as service=${service} role=${role}, watchdog ${heartbeat ? `after ${watchdogMs} ms` : 'off'}`);
}

try {
  start();
} catch (err) {
  log(`not started: ${(err as Error).message}`);
}
