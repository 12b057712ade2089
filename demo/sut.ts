/**
 * The demo system under test: a small auth-style HTTP service with the classic ways to max out.
 *
 *   POST /login   hashes a password with crypto.pbkdf2Sync on the main thread (as many auth
 *                 services do), so CPU of that one thread is the limit
 *   GET  /work    "does something": answers at once, or holds its socket and an open file for a
 *                 while (--hold-ms), so file descriptors pile up with concurrency
 *   POST /logout  cheap
 *   GET  /health  cheap, for a load balancer style probe
 *
 * It listens with a modest backlog (--backlog). `redline demo` picks the costs so that the
 * chosen bottleneck gives out first; run alone it takes them from flags:
 *
 *   node dist/demo/sut.js --port=0 --login-ms=10 --hold-ms=0 --backlog=128
 *
 * On start it prints one JSON line to stdout: {"port":N,"pbkdf2_iterations":N}.
 * It runs until SIGTERM/SIGINT, or --max-seconds (a safety bound) has passed.
 */
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parseFlags, numberFlag, isMain } from './flags.js';

export interface SutOptions {
  host: string;
  port: number;
  /** CPU time of one login on the main thread, in ms (calibrated to pbkdf2 iterations). */
  loginMs: number;
  /** How long /work holds its socket and one open file, in ms; 0 answers at once. */
  holdMs: number;
  backlog: number;
  maxSeconds: number;
}

/**
 * pbkdf2 iterations that take about `ms` of CPU on this machine (measured, not guessed). Timed in
 * CPU time, not wall time: on a busy machine the calibration shares a core, and wall time would
 * count the waits as work, so each login would then cost less CPU than asked and the service
 * would saturate later in the ramp than its profile aims (or not at all).
 */
export function calibrateIterations(ms: number): number {
  if (ms <= 0) return 1;
  const probe = 20_000;
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t = process.cpuUsage();
    crypto.pbkdf2Sync('calibration', 'salt', probe, 32, 'sha256');
    const used = process.cpuUsage(t);
    best = Math.min(best, (used.user + used.system) / 1000);
  }
  return Math.max(1, Math.round((probe * ms) / Math.max(best, 0.01)));
}

export function startSut(opts: SutOptions): Promise<{ server: http.Server; port: number; iterations: number }> {
  const iterations = calibrateIterations(opts.loginMs);
  const salt = crypto.randomBytes(16);
  const held = new Set<{ timer: NodeJS.Timeout; fd: number | null; res: http.ServerResponse }>();

  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    // Drain the body (logins post a small JSON one); it is not needed.
    req.resume();
    req.on('error', () => {});
    res.on('error', () => {});
    const send = (status: number, body: string): void => {
      if (res.writableEnded || res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (url.startsWith('/login')) {
      req.once('end', () => {
        // The hash runs on the main thread: every other request waits for it.
        const hash = crypto.pbkdf2Sync('correct horse battery staple', salt, iterations, 32, 'sha256');
        send(200, JSON.stringify({ token: hash.toString('hex').slice(0, 16) }));
      });
      return;
    }
    if (url.startsWith('/work')) {
      if (opts.holdMs <= 0) {
        send(200, '{"ok":true}');
        return;
      }
      // Hold the socket and one open file for a while, as a slow downstream call would.
      let fd: number | null = null;
      try {
        fd = fs.openSync(process.execPath, 'r');
      } catch (err) {
        send(503, JSON.stringify({ error: (err as NodeJS.ErrnoException).code ?? 'open failed' }));
        return;
      }
      const entry = {
        fd,
        res,
        timer: setTimeout(() => {
          held.delete(entry);
          if (entry.fd !== null) fs.close(entry.fd, () => {});
          send(200, '{"ok":true}');
        }, opts.holdMs),
      };
      held.add(entry);
      res.once('close', () => {
        if (!held.has(entry)) return;
        held.delete(entry);
        clearTimeout(entry.timer);
        if (entry.fd !== null) fs.close(entry.fd, () => {});
      });
      return;
    }
    if (url.startsWith('/logout') || url.startsWith('/health')) {
      send(200, '{"ok":true}');
      return;
    }
    send(404, '{"error":"not found"}');
  });
  // Without these, a client that vanishes mid-request would leave sockets behind.
  server.keepAliveTimeout = 2000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  // Errors after start-up (none expected: libuv handles EMFILE on accept itself) must not
  // crash the service; a failed listen is reported through the promise below.
  server.on('error', () => {});
  server.on('clientError', (_err, socket) => {
    socket.destroy();
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port, backlog: opts.backlog }, () => {
      server.off('error', reject);
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : opts.port;
      if (opts.maxSeconds > 0) {
        setTimeout(() => {
          for (const h of held) {
            clearTimeout(h.timer);
            if (h.fd !== null) fs.close(h.fd, () => {});
          }
          server.close();
          server.closeAllConnections();
          setTimeout(() => process.exit(0), 200).unref();
        }, opts.maxSeconds * 1000).unref();
      }
      resolve({ server, port, iterations });
    });
  });
}

const FLAGS = ['host', 'port', 'login-ms', 'hold-ms', 'backlog', 'max-seconds', 'run-id', 'help'];

async function main(argv: string[]): Promise<void> {
  let flags: Map<string, string>;
  let opts: SutOptions;
  try {
    flags = parseFlags(argv, FLAGS);
    if (flags.has('help')) {
      process.stdout.write('usage: node sut.js [--host=127.0.0.1] [--port=0] [--login-ms=10] [--hold-ms=0] [--backlog=128] [--max-seconds=600]\n');
      return;
    }
    opts = {
      host: flags.get('host') ?? '127.0.0.1',
      port: numberFlag(flags, 'port', 0, 0, 65535, true),
      loginMs: numberFlag(flags, 'login-ms', 10, 0, 10_000),
      holdMs: numberFlag(flags, 'hold-ms', 0, 0, 600_000),
      backlog: numberFlag(flags, 'backlog', 128, 1, 65535, true),
      maxSeconds: numberFlag(flags, 'max-seconds', 600, 0, 86_400),
    };
  } catch (err) {
    process.stderr.write(`demo sut: ${(err as Error).message}\n`);
    process.exit(2);
  }
  let started;
  try {
    started = await startSut(opts);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(`demo sut: cannot listen on ${opts.host}:${opts.port}: ${e.code === 'EADDRINUSE' ? 'the port is already in use' : e.message}\n`);
    process.exit(3);
  }
  process.stdout.write(JSON.stringify({ port: started.port, pbkdf2_iterations: started.iterations }) + '\n');
  const stop = (): void => {
    started.server.close();
    started.server.closeAllConnections();
    setTimeout(() => process.exit(0), 300).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

// Run when started as a program (not when imported by a test or by run.ts).
if (isMain(import.meta.url)) {
  void main(process.argv.slice(2));
}
