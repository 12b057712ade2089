/**
 * Statsd listeners: UDP, TCP (newline-framed) and unix datagram. They only move bytes to the
 * ingest; every one of them counts its packets for `redline_statsd_packets_total{transport}`.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import type { StatsdIngest } from './ingest.js';
import { MAX_LINE_BYTES } from './ingest.js';
import { LineAssembler } from './lines.js';
import { PacedSink, TurnBudget } from './pacing.js';
import type { Logger } from '../../core/log.js';

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Parses `host:port`, `:port` (all interfaces), `[::1]:port`. Throws a message naming the flag.
 */
export function parseListenAddress(value: string, flag: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value.trim());
  if (!m) throw new Error(`${flag}: expected host:port or :port, got ${JSON.stringify(value)}`);
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${flag}: port out of range in ${JSON.stringify(value)}`);
  const host = m[1] ?? (m[2] || '');
  return { host: host === '' ? '0.0.0.0' : host, port };
}

export class TransportStats {
  udpPackets = 0;
  tcpPackets = 0;
  unixgramPackets = 0;
  tcpConnections = 0;
  tcpOpen = 0;
  tcpErrors = 0;
  /** Connections closed at once because --statsd.tcp-max-connections were open. */
  tcpRefused = 0;
  /** Connections closed after --statsd.tcp-idle-timeout without a byte. */
  tcpIdleClosed = 0;
  /** Times a connection was paused because the turn's TCP budget was spent (pacing.ts). */
  tcpPaused = 0;
  /** The connection cap in force (resolved from the fd limit when the flag is 0). */
  tcpMaxConnections = 0;
  udpRecvBufferBytes = 0;
  relayedPackets = 0;
  relayedLines = 0;
  relayLongLines = 0;
}

export interface Listener {
  readonly description: string;
  close(): Promise<void>;
}

function bindError(what: string, err: NodeJS.ErrnoException): Error {
  const why =
    err.code === 'EADDRINUSE'
      ? 'the address is already in use (is another statsd server or Redline running?)'
      : err.code === 'EACCES'
        ? 'permission denied'
        : err.code === 'EADDRNOTAVAIL'
          ? 'the address is not available on this host'
          : err.message;
  const named = typeof err.code === 'string' && !why.startsWith(err.code) ? `${err.code}: ` : '';
  return new Error(`cannot listen on ${what}: ${named}${why}`);
}

export async function listenUdp(
  addr: ListenAddress,
  ingest: StatsdIngest,
  stats: TransportStats,
  readBufferBytes: number,
  logger: Logger,
): Promise<Listener & { port: number }> {
  const type = addr.host.includes(':') ? 'udp6' : 'udp4';
  const sock = dgram.createSocket({ type, reuseAddr: false });
  sock.on('message', (msg: Buffer): void => {
    stats.udpPackets++;
    ingest.handle(msg);
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', (err) => reject(bindError(`UDP ${addr.host}:${addr.port}`, err)));
    sock.bind(addr.port, addr.host, () => resolve());
  });
  sock.on('error', (err) => logger.rateLimited('udp_socket_error', 'UDP socket error', { error: err.message }));
  if (readBufferBytes > 0) {
    try {
      sock.setRecvBufferSize(readBufferBytes);
    } catch (err) {
      logger.warn('could not set the UDP receive buffer', { requested: readBufferBytes, error: (err as Error).message });
    }
  }
  try {
    stats.udpRecvBufferBytes = sock.getRecvBufferSize();
    // Linux doubles the value it reports; below half the request the kernel capped it.
    if (readBufferBytes > 0 && stats.udpRecvBufferBytes < readBufferBytes) {
      logger.warn('UDP receive buffer smaller than requested: raise net.core.rmem_max to avoid drops under bursts', {
        requested: readBufferBytes,
        effective: stats.udpRecvBufferBytes,
      });
    }
  } catch {
    // Not fatal: the gauge stays 0.
  }
  const port = sock.address().port;
  return {
    description: `udp ${addr.host}:${port}`,
    port,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}

export interface TcpLimits {
  /** Open connections at most; past it a new one is closed at once and counted. 0: from the fd limit. */
  maxConnections: number;
  /** A connection that sends nothing for this long is closed and counted; 0: never. */
  idleTimeoutMs: number;
}

/**
 * The connection cap when none is given: half the soft limit on open files (the other half is
 * for HTTP, OTLP, /proc reads and the rest), between 64 and 4096; 512 where the limit cannot be
 * read. An agent that runs out of descriptors cannot even answer /metrics.
 */
export function defaultTcpMaxConnections(limitsFile = '/proc/self/limits'): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync(limitsFile, 'utf8'));
    if (m) return m[1] === 'unlimited' ? 4096 : Math.min(4096, Math.max(64, Math.floor(Number(m[1]) / 2)));
  } catch {
    // Not Linux: the fallback below.
  }
  return 512;
}

/**
 * TCP: each connection's bytes are cut into lines (lines.ts, linear in the bytes whatever the
 * chunking). A line longer than 64 KiB is counted as `line_too_long` and skipped up to its
 * newline; the connection stays open. Connections are capped and closed when idle, both counted.
 * Lines are ingested within a per-turn time budget shared by all connections (pacing.ts): past
 * it a connection is paused until a later turn, so HTTP is answered whatever the clients send.
 */
export async function listenTcp(
  addr: ListenAddress,
  ingest: StatsdIngest,
  stats: TransportStats,
  logger: Logger,
  limits: TcpLimits = { maxConnections: 0, idleTimeoutMs: 0 },
): Promise<Listener & { port: number }> {
  const sockets = new Set<net.Socket>();
  const cap = limits.maxConnections > 0 ? limits.maxConnections : defaultTcpMaxConnections();
  stats.tcpMaxConnections = cap;
  const handle = (buf: Buffer, start: number, end: number): void => ingest.handle(buf, start, end);
  const tooLong = (): void => ingest.rejectTooLong();
  const budget = new TurnBudget();
  const server = net.createServer((conn) => {
    stats.tcpConnections++;
    stats.tcpOpen++;
    sockets.add(conn);
    const paced = new PacedSink(
      budget,
      handle,
      () => {
        stats.tcpPaused++;
        conn.pause();
      },
      () => conn.resume(),
    );
    const lines = new LineAssembler(MAX_LINE_BYTES, paced.sink, tooLong);
    conn.on('data', (chunk: Buffer) => {
      stats.tcpPackets++;
      lines.push(chunk);
    });
    // A last line without a newline still counts (clients that close right after writing).
    conn.on('end', () => lines.end());
    if (limits.idleTimeoutMs > 0) {
      conn.setTimeout(limits.idleTimeoutMs, () => {
        stats.tcpIdleClosed++;
        logger.rateLimited('tcp_idle_timeout', 'closed an idle statsd TCP connection', { idle_timeout_ms: limits.idleTimeoutMs });
        conn.destroy();
      });
    }
    conn.on('error', (err) => {
      stats.tcpErrors++;
      logger.rateLimited('tcp_connection_error', 'TCP connection error', { error: err.message });
    });
    conn.on('close', () => {
      stats.tcpOpen--;
      sockets.delete(conn);
    });
  });
  // Past the cap Node accepts and closes at once ('drop'): the listen queue does not fill with
  // connections nobody reads, and the descriptors stay free for HTTP.
  server.maxConnections = cap;
  server.on('drop', () => {
    stats.tcpRefused++;
    logger.rateLimited('tcp_connection_limit', 'refused a statsd TCP connection: --statsd.tcp-max-connections are open', { max_connections: cap });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(bindError(`TCP ${addr.host}:${addr.port}`, err)));
    server.listen(addr.port, addr.host, 511, () => resolve());
  });
  server.on('error', (err) => logger.error('TCP server error', { error: err.message }));
  const port = (server.address() as net.AddressInfo).port;
  return {
    description: `tcp ${addr.host}:${port} (at most ${cap} connections${limits.idleTimeoutMs > 0 ? `, idle ones closed after ${limits.idleTimeoutMs / 1000} s` : ''})`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface UnixDgramSocket {
  bind(path: string): void;
  connect(path: string): void;
  close(): void;
  on(ev: 'error', fn: (err: Error) => void): void;
  on(ev: 'listening' | 'connect', fn: () => void): void;
}
interface UnixDgramModule {
  createSocket(type: 'unix_dgram', onMessage: (buf: Buffer) => void): UnixDgramSocket;
}

/** Unix datagram socket (Node's dgram has no AF_UNIX; the `unix-dgram` addon provides it). */
export async function listenUnixgram(
  path: string,
  mode: number,
  ingest: StatsdIngest,
  stats: TransportStats,
  logger: Logger,
): Promise<Listener> {
  let mod: UnixDgramModule;
  try {
    mod = createRequire(import.meta.url)('unix-dgram') as UnixDgramModule;
  } catch (err) {
    throw new Error(`cannot listen on unixgram ${path}: the unix-dgram addon is not built (${(err as Error).message})`);
  }
  let isSocket = false;
  try {
    isSocket = fs.statSync(path).isSocket();
  } catch {
    // Nothing there yet.
  }
  if (isSocket) {
    // A socket file that accepts a datagram connection belongs to a live listener (another agent):
    // taking it over would leave that one running, healthy-looking and deaf. A stale one (its
    // process gone: ECONNREFUSED) is removed.
    if (unixgramLive(mod, path)) throw new Error(`cannot listen on unixgram ${path}: EADDRINUSE: another process is listening on it`);
    fs.unlinkSync(path);
  }
  const sock = mod.createSocket('unix_dgram', (buf: Buffer) => {
    stats.unixgramPackets++;
    ingest.handle(buf);
  });
  await new Promise<void>((resolve, reject) => {
    sock.on('error', (err) => reject(bindError(`unixgram ${path}`, withErrnoName(err as NodeJS.ErrnoException))));
    sock.on('listening', () => resolve());
    sock.bind(path);
  });
  sock.on('error', (err) => logger.rateLimited('unixgram_error', 'unix datagram socket error', { error: err.message }));
  try {
    fs.chmodSync(path, mode);
  } catch (err) {
    logger.warn('could not set the unix socket mode', { path, error: (err as Error).message });
  }
  return {
    description: `unixgram ${path}`,
    close: async () => {
      sock.close();
      try {
        fs.unlinkSync(path);
      } catch {
        // Already gone.
      }
    },
  };
}

/** Whether a unix datagram socket at `path` has a live listener (a connect succeeds). */
function unixgramLive(mod: UnixDgramModule, path: string): boolean {
  const probe = mod.createSocket('unix_dgram', () => {});
  let live = false;
  probe.on('error', () => {});
  probe.on('connect', () => (live = true));
  probe.connect(path);
  probe.close();
  return live;
}

/** The addon reports errors as `bind -98`: give them their names (EADDRINUSE, ENOENT, …). */
function withErrnoName(err: NodeJS.ErrnoException): NodeJS.ErrnoException {
  const n = typeof err.errno === 'number' ? Math.abs(err.errno) : NaN;
  const name = Object.entries(os.constants.errno).find(([, v]) => v === n)?.[0];
  if (name === undefined) return err;
  const named: NodeJS.ErrnoException = new Error(`${name}: ${errnoText(name)}`);
  named.code = name;
  return named;
}

function errnoText(name: string): string {
  switch (name) {
    case 'ENOENT':
      return 'the directory does not exist';
    case 'EACCES':
      return 'permission denied';
    case 'EADDRINUSE':
      return 'the path exists and is not a socket';
    default:
      return 'cannot bind';
  }
}
