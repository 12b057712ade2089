/**
 * OTLP/HTTP metrics receiver: `POST /v1/metrics` with a protobuf (`application/x-protobuf`) or
 * JSON (`application/json`) ExportMetricsServiceRequest, optionally gzip-compressed.
 *
 * Bad requests are answered with a status and a google.rpc.Status body in the request's
 * encoding (400 malformed, 413 too large, 415 unknown content type, 404/405 wrong path or
 * method), counted by reason, and never reach the store. The body is bounded before and after
 * decompression, so a small gzip bomb cannot grow memory.
 */
import http from 'node:http';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs/minimal.js';
import type { Logger } from '../../core/log.js';
import type { OtlpIngest } from './translate.js';
import { decodeRequest, parseJsonRequest, encodeResponse, responseJson } from './schema.js';

export const METRICS_PATH = '/v1/metrics';

/** Why a request was refused, the `reason` label of `redline_otlp_request_errors_total`. */
export const REQUEST_ERROR_REASONS = [
  'too_large',
  'unsupported_media_type',
  'unsupported_encoding',
  'bad_compression',
  'decode_error',
  'not_found',
  'method_not_allowed',
  'aborted',
] as const;
export type RequestErrorReason = (typeof REQUEST_ERROR_REASONS)[number];

export interface ReceiverOptions {
  host: string;
  port: number;
  /** Largest body accepted, compressed or not, in bytes. */
  maxRequestBytes: number;
}

/** Counters of the receiver, published as `redline_otlp_*` when /metrics is read. */
export class ReceiverStats {
  /** Requests decoded and handed to the store, by encoding. */
  readonly requests = { protobuf: 0, json: 0 };
  readonly errors = new Map<RequestErrorReason, number>(REQUEST_ERROR_REASONS.map((r) => [r, 0]));
  /** Body bytes received as sent (before decompression). */
  bytes = 0;
  /** Requests that failed inside the agent (answered 500). */
  internalErrors = 0;
}

type Encoding = 'protobuf' | 'json';

/** google.rpc.Status {code = 1, message = 2}, for error bodies. */
function statusProto(code: number, message: string): Uint8Array {
  return protobuf.Writer.create().uint32(8).int32(code).uint32(18).string(message).finish();
}

const GRPC_INVALID_ARGUMENT = 3;
const GRPC_RESOURCE_EXHAUSTED = 8;

export class OtlpHttpReceiver {
  private server: http.Server | null = null;
  readonly stats = new ReceiverStats();

  constructor(
    private readonly ingest: OtlpIngest,
    private readonly opts: ReceiverOptions,
    private readonly logger: Logger,
  ) {}

  get description(): string {
    return `OTLP/HTTP ${this.opts.host || '*'}:${this.opts.port}${METRICS_PATH}`;
  }

  async listen(): Promise<number> {
    const server = http.createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 65_000;
    server.requestTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const e: NodeJS.ErrnoException = new Error(
          `cannot listen for OTLP on ${this.opts.host}:${this.opts.port}: ${err.code === 'EADDRINUSE' ? 'the address is already in use' : err.message}`,
        );
        if (err.code !== undefined) e.code = err.code;
        reject(e);
      });
      server.listen(this.opts.port, this.opts.host || undefined, () => resolve());
    });
    server.on('error', (err) => this.logger.rateLimited('otlp_server_error', 'OTLP server error', { error: err.message }));
    server.on('clientError', (_err, socket) => socket.destroy());
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  private fail(res: http.ServerResponse, status: number, reason: RequestErrorReason, encoding: Encoding, message: string): void {
    this.stats.errors.set(reason, (this.stats.errors.get(reason) ?? 0) + 1);
    this.logger.rateLimited(`otlp_request_${reason}`, 'OTLP request refused', { status, detail: message });
    if (res.headersSent || res.destroyed) return;
    const code = status === 413 ? GRPC_RESOURCE_EXHAUSTED : GRPC_INVALID_ARGUMENT;
    if (encoding === 'json') {
      res.writeHead(status, { 'content-type': 'application/json', connection: status === 413 ? 'close' : 'keep-alive' });
      res.end(JSON.stringify({ code, message }));
    } else {
      res.writeHead(status, { 'content-type': 'application/x-protobuf', connection: status === 413 ? 'close' : 'keep-alive' });
      res.end(statusProto(code, message));
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const ctype = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const encoding: Encoding = ctype === 'application/json' ? 'json' : 'protobuf';
    const path = (req.url ?? '/').split('?')[0];
    if (path !== METRICS_PATH) {
      req.resume();
      return this.fail(res, 404, 'not_found', encoding, `no OTLP service at ${path}; metrics go to ${METRICS_PATH}`);
    }
    if (req.method !== 'POST') {
      req.resume();
      res.setHeader('allow', 'POST');
      return this.fail(res, 405, 'method_not_allowed', encoding, `use POST for ${METRICS_PATH}`);
    }
    if (ctype !== 'application/x-protobuf' && ctype !== 'application/json') {
      req.resume();
      return this.fail(res, 415, 'unsupported_media_type', encoding, `content-type must be application/x-protobuf or application/json, got ${JSON.stringify(ctype)}`);
    }
    const contentEncoding = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (contentEncoding !== 'identity' && contentEncoding !== 'gzip' && contentEncoding !== '') {
      req.resume();
      return this.fail(res, 415, 'unsupported_encoding', encoding, `content-encoding must be gzip or identity, got ${JSON.stringify(contentEncoding)}`);
    }
    const max = this.opts.maxRequestBytes;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) {
      req.resume();
      return this.fail(res, 413, 'too_large', encoding, `request body of ${declared} bytes is over the limit of ${max}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > max) {
        refused = true;
        chunks.length = 0;
        this.fail(res, 413, 'too_large', encoding, `request body is over the limit of ${max} bytes`);
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => {
      if (!refused) this.fail(res, 400, 'aborted', encoding, 'the request was aborted');
      refused = true;
    });
    req.on('end', () => {
      if (refused) return;
      this.stats.bytes += size;
      const raw = Buffer.concat(chunks, size);
      if (contentEncoding === 'gzip') {
        zlib.gunzip(raw, { maxOutputLength: max }, (err, body) => {
          if (err) {
            const tooLarge = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
            return tooLarge
              ? this.fail(res, 413, 'too_large', encoding, `decompressed body is over the limit of ${max} bytes`)
              : this.fail(res, 400, 'bad_compression', encoding, `gzip: ${err.message}`);
          }
          this.decode(res, body, encoding);
        });
      } else this.decode(res, raw, encoding);
    });
  }

  private decode(res: http.ServerResponse, body: Buffer, encoding: Encoding): void {
    let request;
    try {
      request = encoding === 'json' ? parseJsonRequest(body.toString('utf8')) : decodeRequest(body);
    } catch (err) {
      return this.fail(res, 400, 'decode_error', encoding, `cannot decode ExportMetricsServiceRequest: ${(err as Error).message}`);
    }
    this.stats.requests[encoding]++;
    let result;
    try {
      result = this.ingest.ingest(request);
    } catch (err) {
      // A bug, not bad input: the sender may retry, the agent goes on.
      this.stats.internalErrors++;
      this.logger.rateLimited('otlp_internal_error', 'OTLP request failed inside the agent', { error: (err as Error).message });
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('internal error\n');
      return;
    }
    const message = result.rejected > 0 ? `${result.rejected} data points rejected; first: ${result.firstError}` : '';
    if (encoding === 'json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(responseJson(result.rejected, message));
    } else {
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end(encodeResponse(result.rejected, message));
    }
  }
}
