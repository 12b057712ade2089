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
  /** Allows `POST /-/reload` and `POST /-/quit` (statsd_exporter's `--web.enable-lifecycle`). */
  enableLifecycle: boolean;
  /** Telemetry responses in flight at once; more are answered 503 (default 16). */
  maxScrapes?: number;
  /** Inactivity allowed on a connection before it is closed (default 30 s). */
  writeTimeoutMs?: number;
  quit: () => void;
  version: string;
  /** More GET endpoints by path (the analysis API), decided at construction. */
  routes?: ReadonlyMap<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>;
  /** Serves `/` and every path not listed above (the live view); the landing page when absent. */
  app?: http.RequestListener;
}

export const SCRAPE_DURATION = 'redline_scrape_duration_seconds';

/** Request headers above this are refused (431) before any handler runs. */
const MAX_HEADER_BYTES = 16 * 1024;
/** No endpoint here reads a body: a request announcing more than this is refused (413). */
const MAX_BODY_BYTES = 64 * 1024;

type Format = ReturnType<typeof negotiate>;

/** One render, shared by every scraper that asks while it is being made. */
interface Rendered {
  body: Buffer;
  gzip: Promise<Buffer> | null;
}

export class WebServer {
  private server: http.Server | null = null;
  private ready = false;
  private readonly scrapeDuration: OwnMetric;
  private readonly scrapes: OwnMetric;
  private readonly renders: OwnMetric;
  private readonly refused: OwnMetric;
  private readonly timeouts: OwnMetric;
  private readonly rendering = new Map<Format, Promise<Rendered>>();
  private inFlight = 0;
  private readonly maxScrapes: number;
  private readonly writeTimeoutMs: number;

  constructor(
    private readonly store: Store,
    private readonly opts: WebOptions,
    private readonly logger: Logger,
  ) {
    this.scrapeDuration = store.gauge(SCRAPE_DURATION, 'Time the last read of /metrics took to render, in seconds.');
    this.scrapes = store.counter('redline_scrapes_total', 'Reads of the telemetry path, by format.', ['format']);
    this.renders = store.counter('redline_scrape_renders_total', 'Renders of the exposition; concurrent reads of one format share one render.', ['format']);
    this.refused = store.counter('redline_http_requests_refused_total', 'HTTP requests refused before a handler ran, by reason (scrape_limit, body_too_large).', ['reason']);
    this.timeouts = store.counter('redline_http_connection_timeouts_total', 'HTTP connections closed because they read or sent nothing for --web.write-timeout.');
    this.refused.inc(['scrape_limit'], 0);
    this.refused.inc(['body_too_large'], 0);
    this.timeouts.inc([], 0);
    this.maxScrapes = opts.maxScrapes ?? 16;
    this.writeTimeoutMs = opts.writeTimeoutMs ?? 30_000;
  }

  setReady(ready: boolean): void {
    this.ready = ready;
  }

  async listen(): Promise<number> {
    const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.logger.error('HTTP handler failed', { error: err instanceof Error ? err.message : String(err) });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    });
    // An idle keep-alive connection closes before the inactivity timeout below would count it.
    server.keepAliveTimeout = Math.min(65_000, Math.max(1, this.writeTimeoutMs - 1000));
    // A client that stops reading its response (or dribbles its request) holds a socket and a
    // body: after writeTimeoutMs without progress the socket is closed and counted.
    server.requestTimeout = this.writeTimeoutMs;
    server.headersTimeout = Math.min(this.writeTimeoutMs, 10_000);
    server.setTimeout(this.writeTimeoutMs, (socket) => {
      this.timeouts.inc([]);
      socket.destroy();
    });
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
    // Health first, before anything that could cost time.
    if (path === '/-/healthy') return text(res, 200, 'OK\n');
    if (path === '/-/ready') return this.ready ? text(res, 200, 'OK\n') : text(res, 503, 'not ready\n');
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
      this.refused.inc(['body_too_large']);
      return text(res, 413, `request bodies are limited to ${MAX_BODY_BYTES} bytes\n`, { connection: 'close' });
    }
    if (path === this.opts.telemetryPath && (method === 'GET' || method === 'HEAD')) {
      if (this.inFlight >= this.maxScrapes) {
        this.refused.inc(['scrape_limit']);
        return text(res, 503, `${this.maxScrapes} scrapes are in flight already\n`, { 'retry-after': '1' });
      }
      this.inFlight++;
      let done = false;
      const release = (): void => {
        if (!done) {
          done = true;
          this.inFlight--;
        }
      };
      res.once('close', release);
      try {
        return await this.metrics(req, res);
      } catch (err) {
        release();
        throw err;
      }
    }
    const route = this.opts.routes?.get(path);
    if (route !== undefined) return route(req, res);
    switch (path) {
      case '/-/reload':
        if (!this.opts.enableLifecycle) return text(res, 403, 'lifecycle APIs are not enabled (--web.enable-lifecycle); SIGHUP reloads\n');
        if (method !== 'POST' && method !== 'PUT') return text(res, 405, 'use POST or PUT\n', { allow: 'POST, PUT' });
        if (crossSite(req)) return text(res, 403, 'cross-site request refused\n');
        try {
          return text(res, 200, `${await this.opts.reload()}\n`);
        } catch (err) {
          return text(res, 500, `reload failed, the previous configuration stays in force: ${(err as Error).message}\n`);
        }
      case '/-/quit':
        if (!this.opts.enableLifecycle) return text(res, 403, 'lifecycle APIs are not enabled (--web.enable-lifecycle)\n');
        if (method !== 'POST' && method !== 'PUT') return text(res, 405, 'use POST or PUT\n', { allow: 'POST, PUT' });
        if (crossSite(req)) return text(res, 403, 'cross-site request refused\n');
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
    const format = negotiate(req.headers.accept);
    const rendered = await this.render(format);
    this.scrapes.inc([format]);
    const headers: http.OutgoingHttpHeaders = {
      'content-type': format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE,
    };
    let body = rendered.body;
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      // Compressed once per render, on the thread pool: a large exposition does not hold the loop.
      rendered.gzip ??= new Promise<Buffer>((resolve, reject) => zlib.gzip(rendered.body, { level: 1 }, (err, out) => (err ? reject(err) : resolve(out))));
      body = await rendered.gzip;
      headers['content-encoding'] = 'gzip';
    }
    headers['content-length'] = body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** The exposition in one format; scrapers that ask while a render runs get the same one. */
  private render(format: Format): Promise<Rendered> {
    let p = this.rendering.get(format);
    if (p === undefined) {
      p = (async (): Promise<Rendered> => {
        const start = process.hrtime.bigint();
        try {
          await this.store.refresh();
          const body = Buffer.from(render(this.store, format), 'utf8');
          this.renders.inc([format]);
          this.scrapeDuration.set([], Number(process.hrtime.bigint() - start) / 1e9);
          return { body, gzip: null };
        } finally {
          this.rendering.delete(format);
        }
      })();
      this.rendering.set(format, p);
    }
    return p;
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
<li>SIGHUP reloads the mapping and configuration; so do <code>POST /-/reload</code> and <code>POST /-/quit</code> stops, with <code>--web.enable-lifecycle</code></li>
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

/**
 * A browser request made by another site's page (a form POST to localhost, say): browsers send
 * `Sec-Fetch-Site`, and `Origin` on every cross-origin POST. curl, Prometheus and scripts send
 * neither, and pass.
 */
export function crossSite(req: http.IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return true;
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  try {
    return origin === 'null' || new URL(origin).host !== (req.headers.host ?? '');
  } catch {
    return true;
  }
}

function text(res: http.ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(body);
}
