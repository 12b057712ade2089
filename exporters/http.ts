/**
 * The agent's HTTP endpoints: the telemetry path (Prometheus text or OpenMetrics by content
 * negotiation, gzip when asked), `/-/healthy`, `/-/ready`, `/-/reload` and a landing page.
 *
 * Transport: one TCP listener hands each connection to a plain HTTP server or, when the web
 * configuration (`--web.config.file`, exporters/web-config.ts) has `tls_server_config`, to an
 * HTTPS server; so a reload can turn TLS on or off, or change certificates and client
 * authentication, without closing the port. Plain HTTP sent to the TLS port is answered 400, as
 * Go's net/http does. Basic authentication, the configured headers and the rate limit apply to
 * every request, before any route.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type tls from 'node:tls';
import zlib from 'node:zlib';
import type { Store, OwnMetric } from '../core/store.js';
import type { Logger } from '../core/log.js';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { renderChunks, negotiateScrape, ChunkPool, TEXT_CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE, type Format, type RenderStats } from './exposition.js';
import { PROTOBUF_CONTENT_TYPE } from './protobuf.js';
import { OPEN_WEB_CONFIG, clientAuthOptions, clientCertRefusal, type WebConfig, type WebTls } from './web-config.js';
import { BasicAuth } from './basic-auth.js';

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
  /** TLS, basic auth, headers, rate limit (`--web.config.file`); replaced by setWebConfig on reload. */
  webConfig?: WebConfig;
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
/** A TLS connection must start its handshake (and a request its headers) within this. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Go's answer to plain HTTP on a TLS port. */
const PLAIN_ON_TLS = 'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n';
const REFUSAL_REASONS = ['scrape_limit', 'body_too_large', 'unauthorized', 'auth_busy', 'rate_limit', 'plain_http_on_tls', 'tls_handshake', 'client_certificate'];

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
  gen: Generation;
}

/**
 * The pooled chunk Buffers of one render and what may still read them: the responses and the
 * gzip stream reading its body, and the series bytes kept for the next render (`Series.rendered`
 * points into the last render that visited a series). They go back to the pool once no reader is
 * left, a successful render that started after this one ended has re-pointed (or dropped) every
 * kept range, and no render is running (a running one may be copying from them).
 */
interface Generation {
  readonly taken: Buffer[];
  readers: number;
  readonly started: number;
  /** 0 while the render runs. */
  ended: number;
  superseded: boolean;
}

/** Chunk size of the streamed body: 256 KiB, about a millisecond of rendering per event-loop turn. */
const CHUNK_BYTES = 256 * 1024;

/** Families the render writes last, once it knows what it served (see RenderOptions.last). */
const EXPOSITION_BYTES = 'redline_exposition_bytes';
const EXPOSITION_OMITTED = 'redline_exposition_omitted_series';
const EXPOSITION_TRUNCATED = 'redline_exposition_truncated_total';

export class WebServer {
  private front: net.Server | null = null;
  private plain: http.Server | null = null;
  /** The HTTPS server of the current configuration; null when it has no TLS. */
  private secure: https.Server | null = null;
  /** Inner servers with the connections they hold; a replaced one goes when its last connection does. */
  private readonly inner = new Map<http.Server, { open: number; retired: boolean }>();
  private config: WebConfig;
  private readonly auth: BasicAuth;
  private bucket: TokenBucket | null;
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
  private readonly pool: ChunkPool;
  private readonly generations = new Set<Generation>();
  private renderSeq = 0;
  private rendersRunning = 0;
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
    this.refused = store.counter(
      'redline_http_requests_refused_total',
      `HTTP requests and connections refused before a handler ran, by reason (${REFUSAL_REASONS.join(', ')}).`,
      ['reason'],
    );
    this.timeouts = store.counter('redline_http_connection_timeouts_total', 'HTTP connections closed because they read or sent nothing for --web.write-timeout.');
    for (const r of REFUSAL_REASONS) this.refused.inc([r], 0);
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
    // Enough Buffers for one body of the budget's size (the other body alive is the one being read or kept).
    this.pool = new ChunkPool(CHUNK_BYTES, Math.ceil((this.maxExpositionBytes > 0 ? this.maxExpositionBytes : 256 * 1024 * 1024) / CHUNK_BYTES) + 16);
    this.config = opts.webConfig ?? OPEN_WEB_CONFIG;
    this.auth = new BasicAuth(this.config.users);
    this.bucket = TokenBucket.of(this.config);
  }

  /** Whether the server speaks TLS (with its current configuration). */
  get tls(): boolean {
    return this.config.tls !== null;
  }

  /**
   * Applies a new web configuration (a reload): new connections get the new TLS settings, every
   * request from now on the new users, headers and limit. Connections already open keep the
   * TLS session they negotiated.
   */
  setWebConfig(config: WebConfig): void {
    const secure = this.front !== null && config.tls !== null ? this.secureServer(config.tls) : null;
    if (this.secure) this.retire(this.secure);
    this.secure = secure;
    this.config = config;
    this.auth.setUsers(config.users);
    this.bucket = TokenBucket.of(config);
  }

  setReady(ready: boolean): void {
    this.ready = ready;
  }

  async listen(): Promise<number> {
    const handler: http.RequestListener = (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.logger.error('HTTP handler failed', { error: err instanceof Error ? err.message : String(err) });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    };
    this.handler = handler;
    this.plain = this.adopt(http.createServer({ maxHeaderSize: MAX_HEADER_BYTES }, handler));
    const front = net.createServer((sock) => this.route(sock));
    await new Promise<void>((resolve, reject) => {
      front.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new Error(
            `cannot listen on HTTP ${this.opts.host}:${this.opts.port}: ${err.code === 'EADDRINUSE' ? 'the address is already in use' : err.message}`,
          ),
        ),
      );
      front.listen(this.opts.port, this.opts.host, () => resolve());
    });
    front.on('error', (err) => this.logger.error('HTTP listener error', { error: err.message }));
    this.front = front;
    if (this.config.tls) this.secure = this.secureServer(this.config.tls);
    return (front.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    const front = this.front;
    if (!front) return;
    this.front = null;
    await new Promise<void>((resolve) => {
      front.close(() => resolve());
      for (const s of this.inner.keys()) {
        s.closeAllConnections();
        // Not listening itself: close() only stops its connection-checking timer.
        s.close(() => {});
      }
    });
    await this.auth.close();
  }

  private handler: http.RequestListener = () => {};

  /** Timeouts shared by the plain and the TLS server; starts the server's connection tracking. */
  private adopt<S extends http.Server>(server: S): S {
    // An idle keep-alive connection closes before the inactivity timeout below would count it.
    server.keepAliveTimeout = Math.min(65_000, Math.max(1, this.writeTimeoutMs - 1000));
    // A client that stops reading its response (or dribbles its request) holds a socket and a
    // body: after writeTimeoutMs without progress the socket is closed and counted.
    server.requestTimeout = this.writeTimeoutMs;
    server.headersTimeout = Math.min(this.writeTimeoutMs, HANDSHAKE_TIMEOUT_MS);
    server.setTimeout(this.writeTimeoutMs, (socket) => {
      this.timeouts.inc([]);
      socket.destroy();
    });
    // The servers never listen (the front listener hands them connections): 'listening' is what
    // starts the request and headers timeout checks and the list closeAllConnections walks.
    server.emit('listening');
    this.inner.set(server, { open: 0, retired: false });
    return server;
  }

  private secureServer(t: WebTls): https.Server {
    const server = https.createServer(
      { ...t.secureContext, ...clientAuthOptions(t), maxHeaderSize: MAX_HEADER_BYTES, handshakeTimeout: Math.min(this.writeTimeoutMs, HANDSHAKE_TIMEOUT_MS) },
      this.handler,
    );
    // Before the HTTP layer sees the connection: the client-certificate policies Node does not enforce itself.
    server.prependListener('secureConnection', (sock: tls.TLSSocket) => {
      const why = clientCertRefusal(t, sock);
      if (why === null) return;
      this.refused.inc(['client_certificate']);
      this.logger.rateLimited('http_client_certificate', 'HTTPS connection refused', { reason: why, remote: sock.remoteAddress ?? '' });
      sock.destroy();
    });
    server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
      const cert = /certificate/i.test(err.message);
      this.refused.inc([cert ? 'client_certificate' : 'tls_handshake']);
      this.logger.rateLimited(cert ? 'http_client_certificate' : 'http_tls_handshake', 'TLS handshake failed', { error: err.code ?? err.message });
    });
    return this.adopt(server);
  }

  /** A replaced server stays until its last connection closes. */
  private retire(server: http.Server): void {
    const state = this.inner.get(server);
    if (state === undefined) return;
    state.retired = true;
    if (state.open === 0) this.drop(server);
  }

  private drop(server: http.Server): void {
    this.inner.delete(server);
    server.close(() => {});
  }

  /** Hands a new connection to the plain or the TLS server (first byte 0x16: a TLS handshake). */
  private route(sock: net.Socket): void {
    sock.on('error', () => {});
    const secure = this.secure;
    if (secure === null) return this.hand(this.plain!, sock);
    sock.setTimeout(HANDSHAKE_TIMEOUT_MS, () => {
      this.timeouts.inc([]);
      sock.destroy();
    });
    sock.once('readable', () => {
      const first = sock.read(1) as Buffer | null;
      sock.setTimeout(0);
      if (first === null) return void sock.destroy();
      if (first[0] !== 0x16) {
        this.refused.inc(['plain_http_on_tls']);
        sock.end(PLAIN_ON_TLS);
        return;
      }
      // The TLS socket reads what the stream already holds (the byte put back) first.
      sock.unshift(first);
      this.hand(secure, sock);
    });
  }

  private hand(server: http.Server, sock: net.Socket): void {
    const state = this.inner.get(server);
    if (state === undefined) return void sock.destroy();
    state.open++;
    sock.once('close', () => {
      state.open--;
      if (state.retired && state.open === 0) this.drop(server);
    });
    server.emit('connection', sock);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    // The web configuration applies to every endpoint, health included (as exporter-toolkit).
    const cfg = this.config;
    for (const name in cfg.headers) res.setHeader(name, cfg.headers[name]!);
    if (this.bucket !== null && !this.bucket.take()) {
      this.refused.inc(['rate_limit']);
      return text(res, 429, 'Too Many Requests\n');
    }
    if (this.auth.enabled) {
      const outcome = await this.auth.check(req.headers.authorization);
      if (outcome === 'busy') {
        // Checks of unknown credentials are queued on one thread: a flood is told to come back.
        this.refused.inc(['auth_busy']);
        return text(res, 429, 'too many unverified credentials at once\n', { 'retry-after': '1' });
      }
      if (outcome === 'denied') {
        this.refused.inc(['unauthorized']);
        return text(res, 401, 'Unauthorized\n', { 'www-authenticate': 'Basic' });
      }
    }
    // Health next, before anything that could cost time.
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
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    if (gzip) headers['content-encoding'] = 'gzip';
    if (req.method === 'HEAD') {
      res.writeHead(200, headers);
      res.end();
      return;
    }
    let body = rendered.body;
    if (gzip) {
      // The gzip stream reads the pooled chunks; its responses read zlib's own Buffers.
      if (rendered.gzip === null) {
        const release = this.reader(rendered.gen);
        rendered.gzip = gzipOf(rendered.body, release);
      }
      body = rendered.gzip;
    } else {
      res.once('close', this.reader(rendered.gen));
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

  /** Counts a reader of a render's chunks; returns what to call (once) when it is done with them. */
  private reader(gen: Generation): () => void {
    gen.readers++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      gen.readers--;
      this.recycle();
    };
  }

  /** Gives back the chunks of every render nothing can read any more (see Generation). */
  private recycle(): void {
    if (this.rendersRunning > 0) return;
    for (const g of this.generations) {
      if (g.superseded && g.readers === 0) {
        this.pool.give(g.taken);
        this.generations.delete(g);
      }
    }
  }

  /** The exposition in one format; scrapers that ask while a render runs read the same one. */
  private render(format: Format): Rendered {
    let r = this.rendering.get(format);
    if (r !== undefined) return r;
    const gen: Generation = { taken: [], readers: 0, started: ++this.renderSeq, ended: 0, superseded: false };
    const rendered: Rendered = { body: new Broadcast(), gzip: null, gen };
    this.rendering.set(format, rendered);
    this.generations.add(gen);
    this.rendersRunning++;
    r = rendered;
    void (async (): Promise<void> => {
      const start = process.hrtime.bigint();
      try {
        await this.store.refresh();
        const it = renderChunks(this.store, format, {
          maxBytes: this.maxExpositionBytes,
          pool: { pool: this.pool, taken: gen.taken },
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
        gen.ended = ++this.renderSeq;
        // Every series this render visited now keeps bytes of this render (or none): renders
        // that ended before it started are no longer pointed into.
        for (const g of this.generations) if (g.ended !== 0 && g.ended < gen.started) g.superseded = true;
        rendered.body.end();
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        gen.ended = ++this.renderSeq;
        this.renderFailures.inc([]);
        this.renderError = message;
        this.logger.error('rendering the exposition failed', { format, error: message });
        rendered.body.end(err instanceof Error ? err : new Error(message));
      } finally {
        this.rendering.delete(format);
        this.rendersRunning--;
        this.recycle();
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

/** golang.org/x/time/rate's limiter as exporter-toolkit uses it: one token per interval, `burst` at most. */
class TokenBucket {
  private tokens: number;
  private at = Date.now();

  private constructor(
    private readonly intervalMs: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  static of(config: WebConfig): TokenBucket | null {
    return config.rateLimit ? new TokenBucket(config.rateLimit.intervalMs, config.rateLimit.burst) : null;
  }

  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.at) / this.intervalMs);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
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

/**
 * Compresses a body as it arrives, once, on the thread pool (zlib streams do not hold the loop).
 * `done` is called once zlib holds none of the body's chunks any more.
 */
function gzipOf(body: Broadcast, done: () => void): Broadcast {
  const out = new Broadcast();
  const z = zlib.createGzip({ level: 1 });
  z.on('data', (chunk: Buffer) => out.push(chunk));
  z.once('end', () => out.end());
  z.once('error', (err) => out.end(err));
  z.once('close', done);
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
