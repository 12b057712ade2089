/**
 * The outside view, for any language: request a URL every interval with a timeout and record
 * latency and outcome, which is what a load balancer's health check sees. A process that lags
 * ~3 s gets pulled out of rotation long before its own metrics say why.
 */
import http from 'node:http';
import https from 'node:https';
import type { Store, OwnMetric } from '../../core/store.js';
import { Periodic } from '../../core/periodic.js';

export interface HttpTarget {
  name: string;
  url: string;
}

export function parseHttpTargetFlag(value: string): HttpTarget {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new Error(`--probe.http: expected NAME=URL (e.g. api=http://127.0.0.1:3000/health), got ${JSON.stringify(value)}`);
  const name = value.slice(0, eq);
  const url = value.slice(eq + 1);
  if (!/^[a-zA-Z0-9_.:-]+$/.test(name)) throw new Error(`--probe.http: target name ${JSON.stringify(name)} may only hold letters, digits, _ . : -`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`--probe.http ${name}: invalid URL ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`--probe.http ${name}: only http and https URLs are supported`);
  return { name, url };
}

export const PROBE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class HttpProbe {
  private readonly periodic: Periodic;
  private readonly inFlight = new Set<string>();
  private readonly duration: OwnMetric;
  private readonly requests: OwnMetric;
  private readonly up: OwnMetric;
  private readonly last: OwnMetric;

  constructor(
    store: Store,
    private readonly targets: HttpTarget[],
    private readonly opts: { intervalMs: number; timeoutMs: number },
  ) {
    this.duration = store.histogram('redline_probe_http_duration_seconds', 'Time to a complete response from each probed URL (timeouts count at the timeout), in seconds.', ['target'], PROBE_BUCKETS);
    this.requests = store.counter('redline_probe_http_requests_total', 'Probe requests by target and outcome (2xx, 3xx, 4xx, 5xx, timeout, refused, reset, error).', ['target', 'outcome']);
    this.up = store.gauge('redline_probe_http_up', '1 when the last probe of the target answered 2xx or 3xx in time, else 0.', ['target']);
    // Each target has its own in-flight guard; the run does not wait for the requests, so a
    // slow target never delays the probes of the others.
    this.periodic = new Periodic(opts.intervalMs, async () => {
      void this.probeOnce();
    });
    this.last = store.gauge('redline_probe_http_last_duration_seconds', 'Duration of the last probe of the target, in seconds.', ['target']);
  }

  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  async probeOnce(): Promise<void> {
    await Promise.all(this.targets.map((t) => this.probe(t)));
  }

  /**
   * One GET on a new connection, as a load balancer's health check makes it (no keep-alive, so
   * a server that stopped accepting is seen at once, and connect time counts); resolves with the
   * status once the whole body has arrived, within the timeout.
   */
  private request(url: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const u = new URL(url);
      const mod = u.protocol === 'https:' ? https : http;
      const req = mod.request(u, { method: 'GET', agent: false, headers: { 'user-agent': 'redline-http-probe', connection: 'close' } });
      const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no complete answer within ${this.opts.timeoutMs} ms`), { code: TIMEOUT })), this.opts.timeoutMs);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        reject(err);
      };
      req.on('error', fail);
      req.on('response', (res) => {
        res.on('data', () => {});
        res.on('error', fail);
        res.on('end', () => {
          clearTimeout(timer);
          resolve(res.statusCode ?? 0);
        });
      });
      req.end();
    });
  }

  private async probe(t: HttpTarget): Promise<void> {
    // A target still answering the previous probe is not asked again (no pile-up).
    if (this.inFlight.has(t.name)) return;
    this.inFlight.add(t.name);
    const start = performance.now();
    let outcome: string;
    try {
      const status = await this.request(t.url);
      outcome = `${Math.floor(status / 100)}xx`;
    } catch (err) {
      outcome = classify(err);
    } finally {
      this.inFlight.delete(t.name);
    }
    const seconds = outcome === 'timeout' ? this.opts.timeoutMs / 1000 : (performance.now() - start) / 1000;
    this.duration.observe([t.name], seconds);
    this.last.set([t.name], seconds);
    this.requests.inc([t.name, outcome]);
    this.up.set([t.name], outcome === '2xx' || outcome === '3xx' ? 1 : 0);
  }
}

const TIMEOUT = 'REDLINE_PROBE_TIMEOUT';

function classify(err: unknown): string {
  const code = (err as { code?: string }).code;
  if (code === TIMEOUT) return 'timeout';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  return 'error';
}
