/**
 * The agent's HTTP endpoints: the telemetry path (Prometheus text or OpenMetrics by content
 * negotiation, gzip when asked), `/-/healthy`, `/-/ready`, `/-/reload` and a landing page.
 */
import http from 'node:http';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import type { Store, OwnMetric } from '../core/store.js';
import type { Logger } from '../core/log.js';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { renderChunks, negotiateScrape, TEXT_CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE, type Format, type RenderStats } from './exposition.js';
import { PROTOBUF_CONTENT_TYPE } from './protobuf.js';

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
  /** Byte budget of one telemetry response before compression (0: none; default 256 MiB). */
  maxExpositionBytes?: number;
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

const CONTENT_TYPES: Record<Format, string> = { text: TEXT_CONTENT_TYPE, openmetrics: OPENMETRICS_CONTENT_TYPE, protobuf: PROTOBUF_CONTENT_TYPE };

/**
 * A body made of chunks that arrive over time, read by any number of responses: each reader gets
 * every chunk from the first, whenever it joins. Chunks are kept until the last reader lets go.
 */
class Broadcast {
  private readonly chunks: Buffer[] = [];
  private done = false;
  private error: Error | null = null;
  private wake: (() => void)[] = [];

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.notify();
  }

  end(err: Error | null = null): void {
    this.done = true;
    this.error = err;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = [];
    for (const f of w) f();
  }

  async *read(): AsyncGenerator<Buffer, void, void> {
    let i = 0;
    for (;;) {
      while (i < this.chunks.length) yield this.chunks[i++]!;
      if (this.error !== null) throw this.error;
      if (this.done) return;
      await new Promise<void>((resolve) => this.wake.push(resolve));
    }
  }
}

/** One render, shared by every scraper that asks while it is being made (and its gzip, made once). */
interface Rendered {
  body: Broadcast;
  gzip: Broadcast | null;
}

/** Families the render writes last, once it knows what it served (see RenderOptions.last). */
const EXPOSITION_BYTES = 'redline_exposition_bytes';
const EXPOSITION_OMITTED = 'redline_exposition_omitted_series';
const EXPOSITION_TRUNCATED = 'redline_exposition_truncated_total';

export class WebServer {
  private server: http.Server | null = null;
  private ready = false;
  private readonly scrapeDuration: OwnMetric;
  private readonly scrapes: OwnMetric;
  private readonly renders: OwnMetric;
  private readonly refused: OwnMetric;
  private readonly timeouts: OwnMetric;
  private readonly expositionBytes: OwnMetric;
  private readonly expositionOmitted: OwnMetric;
  private readonly expositionTruncated: OwnMetric;
  private readonly renderFailures: OwnMetric;
  private readonly rendering = new Map<Format, Rendered>();
  private inFlight = 0;
  private readonly maxScrapes: number;
  private readonly writeTimeoutMs: number;
  private readonly maxExpositionBytes: number;
  /** Why the last render failed, until one succeeds; /-/ready reports it. */
  private renderError: string | null = null;

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
    this.expositionBytes = store.gauge(EXPOSITION_BYTES, 'Size of the last /metrics body before compression, in bytes, by format.', ['format']);
    this.expositionOmitted = store.gauge(
      EXPOSITION_OMITTED,
      'Series left out of the last /metrics body of a format because it reached --web.max-exposition-size; 0 when everything was served.',
      ['format'],
    );
    this.expositionTruncated = store.counter(EXPOSITION_TRUNCATED, 'Renders of /metrics that reached --web.max-exposition-size and left series out, by format.', ['format']);
    this.renderFailures = store.counter('redline_exposition_render_failures_total', 'Renders of /metrics that failed (the response was aborted); /-/ready answers 503 until one succeeds.');
    const truncatedValues = store.counter('redline_label_values_truncated_total', 'Statsd and OTLP label values cut to --web.max-label-value-length bytes, counted once per series.');
    store.onCollect(() => truncatedValues.set([], store.labelValuesTruncated));
    this.renderFailures.inc([], 0);
    this.maxScrapes = opts.maxScrapes ?? 16;
    this.writeTimeoutMs = opts.writeTimeoutMs ?? 30_000;
    this.maxExpositionBytes = opts.maxExpositionBytes ?? 256 * 1024 * 1024;
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
    if (path === '/-/ready') return this.readiness(res);
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

  /**
   * Ready once start-up finished, until shutdown begins, and while /metrics can be served: after a
   * failed render it answers 503 with the reason until a render succeeds.
   */
  private readiness(res: http.ServerResponse): void {
    if (!this.ready) return text(res, 503, 'not ready\n');
    if (this.renderError !== null) return text(res, 503, `not ready: the last render of ${this.opts.telemetryPath} failed: ${this.renderError}\n`);
    return text(res, 200, 'OK\n');
  }

  /**
   * Streams the exposition (chunked): the body is never one string or one Buffer, so its size is
   * bounded by --web.max-exposition-size rather than by V8's string limit, and the first bytes
   * leave while the rest is rendered.
   */
  private async metrics(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const { format, escaping } = negotiateScrape(req.headers.accept);
    const rendered = this.render(format);
    this.scrapes.inc([format]);
    const headers: http.OutgoingHttpHeaders = {
      'content-type': escaping === null ? CONTENT_TYPES[format] : `${CONTENT_TYPES[format]}; escaping=${escaping}`,
    };
    let body = rendered.body;
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      body = rendered.gzip ??= gzipOf(rendered.body);
      headers['content-encoding'] = 'gzip';
    }
    if (req.method === 'HEAD') {
      res.writeHead(200, headers);
      res.end();
      return;
    }
    let closed = false;
    res.once('close', () => (closed = true));
    try {
      for await (const chunk of body.read()) {
        if (closed) return;
        if (!res.headersSent) res.writeHead(200, headers);
        if (!res.write(chunk)) await drained(res);
      }
      if (!res.headersSent) res.writeHead(200, headers);
      res.end();
    } catch (err) {
      // Headers may be out already: a body cut short must not read as a complete exposition, so
      // the connection is torn down (the scraper sees a failed scrape) rather than ended.
      if (res.headersSent) {
        res.destroy(err as Error);
        return;
      }
      throw err;
    }
  }

  /** The exposition in one format; scrapers that ask while a render runs read the same one. */
  private render(format: Format): Rendered {
    let r = this.rendering.get(format);
    if (r !== undefined) return r;
    const rendered: Rendered = { body: new Broadcast(), gzip: null };
    this.rendering.set(format, rendered);
    r = rendered;
    void (async (): Promise<void> => {
      const start = process.hrtime.bigint();
      try {
        await this.store.refresh();
        const it = renderChunks(this.store, format, {
          maxBytes: this.maxExpositionBytes,
          last: new Set([EXPOSITION_BYTES, EXPOSITION_OMITTED, EXPOSITION_TRUNCATED]),
          beforeLast: (stats: RenderStats) => {
            this.expositionBytes.set([format], stats.bytes);
            this.expositionOmitted.set([format], stats.omittedSeries);
            this.expositionTruncated.inc([format], stats.omittedSeries > 0 ? 1 : 0);
          },
        });
        // One chunk (256 KiB, about a millisecond of work) per event-loop turn: statsd datagrams
        // that arrived meanwhile are read between two chunks.
        for (let next = it.next(); next.done !== true; next = it.next()) {
          rendered.body.push(next.value);
          await nextTurn();
        }
        this.renders.inc([format]);
        this.scrapeDuration.set([], Number(process.hrtime.bigint() - start) / 1e9);
        this.renderError = null;
        rendered.body.end();
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        this.renderFailures.inc([]);
        this.renderError = message;
        this.logger.error('rendering the exposition failed', { format, error: message });
        rendered.body.end(err instanceof Error ? err : new Error(message));
      } finally {
        this.rendering.delete(format);
      }
    })();
    return r;
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

/** Resolves when a writable wants more, or is gone. */
function drained(w: NodeJS.WritableStream & NodeJS.EventEmitter): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      w.off('drain', done);
      w.off('close', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
  });
}

/** Compresses a body as it arrives, once, on the thread pool (zlib streams do not hold the loop). */
function gzipOf(body: Broadcast): Broadcast {
  const out = new Broadcast();
  const z = zlib.createGzip({ level: 1 });
  z.on('data', (chunk: Buffer) => out.push(chunk));
  z.once('end', () => out.end());
  z.once('error', (err) => out.end(err));
  void (async (): Promise<void> => {
    try {
      for await (const chunk of body.read()) {
        if (!z.write(chunk)) await drained(z);
      }
      z.end();
    } catch (err) {
      z.destroy(err as Error);
    }
  })();
  return out;
}

function text(res: http.ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(body);
}
