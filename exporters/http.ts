/**
 * The agent's HTTP endpoints: the telemetry path (Prometheus text or OpenMetrics by content
 * negotiation, gzip when asked), `/-/healthy`, `/-/ready`, `/-/reload` and a landing page.
 */
import http from 'node:http';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import type { Store, OwnMetric } from '../core/store.js';
import type { Logger } from '../core/log.js';
import { render, negotiate, TEXT_CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE } from './exposition.js';

export interface WebOptions {
  host: string;
  port: number;
  telemetryPath: string;
  /** Reloads the configuration; resolves with a message, rejects with the reason it was refused. */
  reload: () => Promise<string>;
  /** Extra lines for the landing page (listeners, groups). */
  describe: () => string[];
  /** Allows `POST /-/quit` (statsd_exporter's `--web.enable-lifecycle`). */
  enableLifecycle: boolean;
  quit: () => void;
  version: string;
  /** More GET endpoints by path (the analysis API), decided at construction. */
  routes?: ReadonlyMap<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>;
  /** Serves `/` and every path not listed above (the live view); the landing page when absent. */
  app?: http.RequestListener;
}

export const SCRAPE_DURATION = 'redline_scrape_duration_seconds';

export class WebServer {
  private server: http.Server | null = null;
  private ready = false;
  private readonly scrapeDuration: OwnMetric;
  private readonly scrapes: OwnMetric;

  constructor(
    private readonly store: Store,
    private readonly opts: WebOptions,
    private readonly logger: Logger,
  ) {
    this.scrapeDuration = store.gauge(SCRAPE_DURATION, 'Time the last read of /metrics took to render, in seconds.');
    this.scrapes = store.counter('redline_scrapes_total', 'Reads of the telemetry path, by format.', ['format']);
  }

  setReady(ready: boolean): void {
    this.ready = ready;
  }

  async listen(): Promise<number> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.logger.error('HTTP handler failed', { error: err instanceof Error ? err.message : String(err) });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    });
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new Error(
            `cannot listen on HTTP ${this.opts.host}:${this.opts.port}: ${err.code === 'EADDRINUSE' ? 'the address is already in use' : err.message}`,
          ),
        ),
      );
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === this.opts.telemetryPath && (method === 'GET' || method === 'HEAD')) {
      return this.metrics(req, res);
    }
    const route = this.opts.routes?.get(path);
    if (route !== undefined) return route(req, res);
    switch (path) {
      case '/-/healthy':
        return text(res, 200, 'OK\n');
      case '/-/ready':
        return this.ready ? text(res, 200, 'OK\n') : text(res, 503, 'not ready\n');
      case '/-/reload':
        if (method !== 'POST' && method !== 'PUT') return text(res, 405, 'use POST or PUT\n', { allow: 'POST, PUT' });
        try {
          return text(res, 200, `${await this.opts.reload()}\n`);
        } catch (err) {
          return text(res, 500, `reload failed, the previous configuration stays in force: ${(err as Error).message}\n`);
        }
      case '/-/quit':
        if (!this.opts.enableLifecycle) return text(res, 403, 'lifecycle APIs are not enabled (--web.enable-lifecycle)\n');
        if (method !== 'POST' && method !== 'PUT') return text(res, 405, 'use POST or PUT\n', { allow: 'POST, PUT' });
        text(res, 200, 'shutting down\n');
        this.opts.quit();
        return;
      default:
        if (this.opts.app) return void this.opts.app(req, res);
        if (path === '/') return this.landing(res);
        return text(res, 404, 'not found\n');
    }
  }

  private async metrics(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const start = process.hrtime.bigint();
    const format = negotiate(req.headers.accept);
    await this.store.refresh();
    const body = render(this.store, format);
    this.scrapeDuration.set([], Number(process.hrtime.bigint() - start) / 1e9);
    this.scrapes.inc([format]);
    const headers: http.OutgoingHttpHeaders = {
      'content-type': format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE,
    };
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      // Compressed on the thread pool: a large exposition does not hold the event loop.
      const gz = await new Promise<Buffer>((resolve, reject) =>
        zlib.gzip(body, { level: 1 }, (err, out) => (err ? reject(err) : resolve(out))),
      );
      headers['content-encoding'] = 'gzip';
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : gz);
      return;
    }
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private landing(res: http.ServerResponse): void {
    const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const items = this.opts.describe().map((l) => `<li>${esc(l)}</li>`).join('\n');
    const p = esc(this.opts.telemetryPath);
    const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Redline agent</title>
<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:0 .2em}h1{color:#c0392b}</style></head>
<body><h1>Redline agent</h1>
<p>Version ${esc(this.opts.version)}. Statsd in, Prometheus out; process groups from /proc.</p>
<ul>
<li><a href="${p}">${p}</a> — metrics (Prometheus text, or OpenMetrics when asked)</li>
<li><a href="/-/healthy">/-/healthy</a>, <a href="/-/ready">/-/ready</a> — health and readiness</li>
<li><code>POST /-/reload</code> — reload the mapping and configuration (also on SIGHUP)</li>
</ul>
<h2>Running</h2>
<ul id="status">
${items}
</ul>
</body></html>
`;
    text(res, 200, html, { 'content-type': 'text/html; charset=utf-8' });
  }
}

function text(res: http.ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(body);
}
