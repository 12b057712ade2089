/**
 * Redline's event-loop probe. Load it into any Node.js process without changing its code:
 *
 *   node --require redline/probe app.js
 *   NODE_OPTIONS="--require $(npx redline probe-path)" npm start
 *   node --import redline/probe app.mjs
 *
 * Every REDLINE_PROBE_INTERVAL_MS (1000) it sends, over statsd to REDLINE_STATSD
 * (127.0.0.1:8125), tagged service, role and pid: event-loop delay (min, mean, max, p50, p90,
 * p99 of that interval, the monitor's resolution taken out so an idle loop reads ≈ 0),
 * event-loop utilisation, GC pauses and counts by kind, heap, RSS and external memory, active
 * handles and requests, and CPU time. The probe owns its window: each reading covers exactly
 * one interval, however often the agent is scraped.
 *
 * Do no harm: it never throws into the host program, never keeps it alive, is silent unless
 * REDLINE_PROBE_DEBUG=1, keeps working (silently) when no agent listens, and reports once per
 * process even when loaded twice.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as perf from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

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
  const client = new StatsD({
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
    errorHandler: (err: Error) => log(`send failed: ${err.message}`),
  });

  const RESOLUTION_MS = 10;
  const delay = perf.monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
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

  const lag = (ns: number): number => Math.max(0, ns / 1e9 - RESOLUTION_MS / 1000);
  let lastReport = perf.performance.now();
  const report = (): void => {
    try {
      const now = perf.performance.now();
      const elapsedMs = now - lastReport;
      lastReport = now;
      if (delay.count > 0) {
        for (const [q, v] of [
          ['0', delay.min],
          ['0.5', delay.percentile(50)],
          ['0.9', delay.percentile(90)],
          ['0.99', delay.percentile(99)],
          ['1', delay.max],
        ] as const) {
          client.gauge('redline_nodejs_eventloop_lag_seconds', lag(v), { quantile: q });
        }
        client.gauge('redline_nodejs_eventloop_lag_mean_seconds', lag(delay.mean));
      } else {
        // The loop was blocked for the whole interval: no sample was taken, and the time since
        // the last report is the stall.
        const blocked = Math.max(elapsedMs, intervalMs) / 1000;
        for (const q of ['0', '0.5', '0.9', '0.99', '1']) client.gauge('redline_nodejs_eventloop_lag_seconds', blocked, { quantile: q });
        client.gauge('redline_nodejs_eventloop_lag_mean_seconds', blocked);
      }
      delay.reset();
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
  const timer = setInterval(report, intervalMs);
  timer.unref();
  log(`reporting to ${host}:${port} every ${intervalMs} ms as service=${service} role=${role}`);
}

try {
  start();
} catch (err) {
  log(`not started: ${(err as Error).message}`);
}
