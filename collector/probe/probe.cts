/**
 * Redline's event-loop probe. Load it into any Node.js process without changing its code:
 *
 *   node --require redline/probe app.js
 *   NODE_OPTIONS="--require $(npx redline probe-path)" npm start
 *   node --import redline/probe app.mjs
 *
 * Every REDLINE_PROBE_INTERVAL_MS (1000) it sends, over statsd to REDLINE_STATSD
 * (127.0.0.1:8125), tagged service, role and pid: event-loop delay (min, mean, max, p50, p90,
 * p99 of that interval's 10 ms timer ticks of monitorEventLoopDelay, a native timer, the
 * resolution taken out so an idle loop reads ≈ 0),
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
 * have met, given the window's blocked stretches (`blocks`, ms, largest first, each standing for
 * `weights[k]` stretches of that length). An arrival inside a stretch of length b waits for the
 * rest of it, uniformly 0..b; one outside waits nothing. So P(delay > x) = Σ w·(b − x)⁺ / totalMs,
 * and the quantile is the x where that equals 1 − q: with the k largest above x it is
 * (Σ w·b − (1 − q)·totalMs) / Σ w over those k.
 */
function delayQuantile(blocks: readonly number[], weights: readonly number[], totalMs: number, q: number): number {
  const target = (1 - q) * totalMs;
  let sum = 0;
  let n = 0;
  for (let k = 0; k < blocks.length; k++) {
    sum += blocks[k]! * weights[k]!;
    n += weights[k]!;
    const next = blocks[k + 1] ?? 0;
    if (sum - n * next >= target) return Math.max(next, (sum - target) / n);
  }
  return 0;
}

/**
 * The watchdog thread. Its heartbeat costs the main thread nothing: it is handed the main loop's
 * delay histogram (monitorEventLoopDelay's; a cloned histogram shares its data across threads),
 * whose count grows on every 10 ms tick of a native timer while the main loop turns, plus a
 * report generation the main thread bumps when it resets that histogram (the count restarts
 * from 0 then). When neither has moved for `stallMs`, the main loop is stuck (a busy loop, a
 * synchronous call that never returns): the worker, whose own loop still turns, sends the seconds
 * it has been stuck, again every interval while it stays stuck, and 0 once it moves again (and
 * every interval while it runs, so the series exists before any stall). It looks every
 * `checkMs` (half of `stallMs`, at most 250 ms: a few wake-ups a second), so a stall is seen
 * `stallMs` to `stallMs + checkMs` after it began and reads up to `checkMs` short. It sends
 * through hot-shots with the main thread's tags, so its series carries the same labels.
 * Everything is caught: the thread must never print or fail into the program.
 */
const WATCHDOG_SOURCE = `
'use strict';
const { workerData } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const { histogram, generation, statsd, stallMs, intervalMs, checkMs, debug } = workerData;
const log = (m) => { if (debug) try { process.stderr.write('redline probe watchdog[' + process.pid + ']: ' + m + '\\n'); } catch {} };
try {
  const StatsD = require(statsd.module);
  const client = new StatsD({ ...statsd.options, errorHandler: (e) => log('send failed: ' + e.message) });
  const NAME = 'redline_nodejs_eventloop_stalled_seconds';
  let seenCount = histogram.count;
  let seenGen = Atomics.load(generation, 0);
  let movedAt = performance.now();
  let stuck = false;
  let sentAt = performance.now();
  const send = (v, now) => { try { client.gauge(NAME, v); sentAt = now; } catch (e) { log('send failed: ' + e.message); } };
  setInterval(() => {
    const now = performance.now();
    const count = histogram.count;
    const gen = Atomics.load(generation, 0);
    if (count !== seenCount || gen !== seenGen) {
      seenCount = count;
      seenGen = gen;
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

/**
 * Starts the watchdog thread on the main loop's delay histogram; the returned Int32Array is the
 * report generation to bump at each reset. Null when it cannot run.
 */
function startWatchdog(
  histogram: perf.IntervalHistogram,
  stallMs: number,
  intervalMs: number,
  statsd: { module: string; options: Record<string, unknown> },
): Int32Array | null {
  try {
    const generation = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(WATCHDOG_SOURCE, {
      eval: true,
      workerData: { histogram, generation, statsd, stallMs, intervalMs, checkMs: Math.max(10, Math.min(250, Math.floor(stallMs / 2))), debug },
      // Its own small heap: it holds a timer, a socket and hot-shots.
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
      stdout: true,
      stderr: !debug,
      // The program's flags (--inspect, --require of its own preloads) are not the watchdog's business.
      execArgv: [],
    });
    worker.unref();
    worker.on('error', (err) => log(`watchdog failed: ${err.message}`));
    return generation;
  } catch (err) {
    log(`watchdog not started: ${(err as Error).message}`);
    return null;
  }
}

/** One window's event-loop delays, measured from the delay histogram when the window closes. */
interface Delays {
  /** The window's blocked stretches (ms), largest first; `weights[k]` stretches of `blocks[k]` each. */
  blocks: number[];
  weights: number[];
  /** Their share of the window, 0–1. */
  blockedRatio: number;
  /** Per-timer lateness (s) by quantile: min, p50, p90, p99, max. */
  lag: [string, number][];
  lagMean: number;
}

/** A tick later than this (ms; libuv rounds timers to the millisecond) ends a blocked stretch. */
const LATE_MS = 2;
/** Late ticks read one by one; past that, the rest in STRATA evenly spaced samples, each weighted. */
const EXACT_BLOCKS = 48;
const STRATA = 16;

/**
 * The window's delays from monitorEventLoopDelay's histogram `h` (gaps between the ticks of a
 * `resolutionMs` native timer, in ns), its length `elapsedMs` and the loop's active time in it
 * (ELU, exact: libuv times its poll phase).
 *
 * Per timer: each gap minus the resolution is one sample of lateness (an idle loop reads ≈ 0).
 *
 * Time-weighted: the gaps tile the window. A gap whose tick came more than LATE_MS late holds a
 * blocked stretch that ended at the tick and began between the previous tick and the moment the
 * tick fell due: at least the lateness L (descheduled time shows as lateness and delays requests
 * too), at most L + resolution. Where in that range is decided by the window's active time: what
 * the loop was active beyond the late ticks' lateness is spread over them, up to the resolution
 * each, so an otherwise idle loop's stall reads its length and a descheduled one its lateness.
 * The late gaps are read by rank (the k-th largest is one percentile() call; largest first, so
 * an idle window costs none), one by one up to EXACT_BLOCKS, sampled beyond.
 *
 * The histogram's reset() drops the gap in which it happens (its next tick starts afresh): a
 * stall that begins right after a report, before the timer's next tick, is recorded nowhere.
 * So the window's unaccounted time (its length minus the recorded gaps' sum) is checked too: it
 * is at most two resolutions (one part-gap at each end); beyond that by more than LATE_MS, the
 * excess is one more stretch, known to within two resolutions.
 */
function measureDelays(h: perf.IntervalHistogram, resolutionMs: number, elapsedMs: number, activeMs: number): Delays {
  const R = resolutionMs;
  const n = h.count;
  const ms = (ns: number): number => ns / 1e6;
  /** The r-th smallest gap (r from 1), ms. */
  const gap = (r: number): number => ms(h.percentile((100 * r) / n));
  const isLate = (g: number): boolean => g - R > LATE_MS;
  const lateness: number[] = [];
  const caps: number[] = [];
  const weights: number[] = [];
  const lag: [string, number][] = [
    ['0', 0],
    ['0.5', 0],
    ['0.9', 0],
    ['0.99', 0],
    ['1', 0],
  ];
  let lagMean = 0;
  let recordedMs = 0;
  if (n > 0) {
    const mean = ms(h.mean);
    const max = ms(h.max);
    recordedMs = mean * n;
    lagMean = Math.max(0, mean - R);
    lag[0]![1] = Math.max(0, ms(h.min) - R);
    lag[1]![1] = Math.max(0, ms(h.percentile(50)) - R);
    lag[2]![1] = Math.max(0, ms(h.percentile(90)) - R);
    lag[3]![1] = Math.max(0, ms(h.percentile(99)) - R);
    lag[4]![1] = Math.max(0, max - R);
    if (isLate(max)) {
      let k = 1;
      for (; k <= Math.min(n, EXACT_BLOCKS); k++) {
        const g = k === 1 ? max : gap(n - k + 1);
        if (!isLate(g)) break;
        lateness.push(g - R);
        caps.push(R);
        weights.push(1);
      }
      if (k > EXACT_BLOCKS && k <= n) {
        // More late ticks than that: the first late rank below the ones read (ranks ascend with
        // the gap), then evenly spaced samples of the ranks between.
        let lo = 1;
        let hi = n - EXACT_BLOCKS;
        while (lo <= hi) {
          const mid = (lo + hi) >> 1;
          if (isLate(gap(mid))) hi = mid - 1;
          else lo = mid + 1;
        }
        const rest = n - EXACT_BLOCKS - lo + 1;
        const strata = Math.min(STRATA, rest);
        for (let i = 0; i < strata; i++) {
          const a = lo + Math.floor((i * rest) / strata);
          const b = lo + Math.floor(((i + 1) * rest) / strata) - 1;
          lateness.push(gap((a + b) >> 1) - R);
          caps.push(R);
          weights.push(b - a + 1);
        }
      }
    }
  }
  const unaccounted = elapsedMs - recordedMs - 2 * R;
  const recovered = unaccounted > LATE_MS ? lateness.push(unaccounted) - 1 : -1;
  if (recovered !== -1) {
    caps.push(2 * R);
    weights.push(1);
  }
  let lateSum = 0;
  let capSum = 0;
  for (let k = 0; k < lateness.length; k++) {
    lateSum += lateness[k]! * weights[k]!;
    capSum += caps[k]! * weights[k]!;
  }
  const extra = capSum > 0 ? Math.min(capSum, Math.max(0, activeMs - lateSum)) / capSum : 0;
  const order = lateness.map((l, k) => ({ b: l + extra * caps[k]!, w: weights[k]! }));
  if (recovered !== -1) {
    // The dropped gap was one tick's lateness too.
    lag[4]![1] = Math.max(lag[4]![1], order[recovered]!.b);
  }
  order.sort((x, y) => y.b - x.b);
  let blockedMs = 0;
  for (const o of order) blockedMs += o.b * o.w;
  for (const e of lag) e[1] /= 1000;
  return {
    blocks: order.map((o) => o.b),
    weights: order.map((o) => o.w),
    blockedRatio: elapsedMs > 0 ? Math.min(1, blockedMs / elapsedMs) : 0,
    lag,
    lagMean: lagMean / 1000,
  };
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
  // The delay histogram: a native 10 ms libuv timer records each gap between its ticks (ns), no
  // JavaScript runs per tick (the JS sampler this replaces cost 2-3 times as much CPU idle).
  const RESOLUTION_MS = 10;
  const histogram = perf.monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  const generation =
    watchdogMs > 0
      ? startWatchdog(histogram, Math.min(3_600_000, Math.max(50, watchdogMs)), intervalMs, {
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

  let lastReport = perf.performance.now();
  const report = (): void => {
    try {
      const now = perf.performance.now();
      const elapsedMs = now - lastReport;
      lastReport = now;
      const elu = perf.performance.eventLoopUtilization();
      const window = perf.performance.eventLoopUtilization(elu, lastElu);
      lastElu = elu;
      const d = measureDelays(histogram, RESOLUTION_MS, elapsedMs, window.active);
      histogram.reset();
      if (generation !== null) Atomics.add(generation, 0, 1);
      client.gauge('redline_nodejs_eventloop_blocked_ratio', d.blockedRatio);
      for (const [q, name] of [
        [0.5, '0.5'],
        [0.9, '0.9'],
        [0.99, '0.99'],
        [1, '1'],
      ] as const) {
        client.gauge('redline_nodejs_eventloop_delay_seconds', delayQuantile(d.blocks, d.weights, elapsedMs, q) / 1000, { quantile: name });
      }
      // A loop blocked for longer than the interval closes the window with one tick: its one
      // sample is the stall, not a missing reading.
      for (const [q, v] of d.lag) client.gauge('redline_nodejs_eventloop_lag_seconds', v, { quantile: q });
      client.gauge('redline_nodejs_eventloop_lag_mean_seconds', d.lagMean);
      client.gauge('redline_nodejs_eventloop_utilization', window.utilization);
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
  const timer = setInterval(report, intervalMs);
  timer.unref();
  log(`reporting to ${host}:${port} every ${intervalMs} ms as service=${service} role=${role}, watchdog ${generation ? `after ${watchdogMs} ms` : 'off'}`);
}

try {
  start();
} catch (err) {
  log(`not started: ${(err as Error).message}`);
}
