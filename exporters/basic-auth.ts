/**
 * Basic authentication against bcrypt hashes, as exporter-toolkit does it, without letting
 * bcrypt's deliberate slowness reach the event loop:
 *
 * - bcrypt runs on one worker thread, one comparison at a time (exporter-toolkit serialises them
 *   with a mutex for the same reason: they are CPU-bound). A cost-10 hash takes ~120 ms in
 *   bcryptjs; on the main thread a flood of wrong passwords would stall ingestion and health.
 * - at most `maxQueued` comparisons wait; past that a request is answered 429 at once (counted),
 *   so a flood costs a bounded queue, not memory or latency for everyone else.
 * - outcomes are cached (exporter-toolkit caches them too): successes and failures in separate
 *   bounded maps, so a flood of wrong passwords never evicts the scraper's good credentials, and
 *   a cached scraper never waits behind the flood. Keys are SHA-256 digests of user, hash and
 *   password, so no plaintext password is kept.
 * - an unknown user is compared against a fixed hash, so timing does not tell which users exist.
 *
 * bcryptjs (pure JavaScript, no native build, no install-time download) is the library: the
 * native `bcrypt` package needs a compiler or a prebuilt binary fetched at install.
 */
import crypto from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';

/** bcrypt (cost 10) of a password nobody has: what an unknown user is compared against. */
const UNKNOWN_USER_HASH = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';

/** Outcomes remembered per kind (exporter-toolkit keeps 100). */
const CACHE_SIZE = 100;

export type AuthOutcome = 'ok' | 'denied' | 'busy';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcrypt);
parentPort.on('message', (m) => {
  let ok = false;
  try { ok = bcrypt.compareSync(m.password, m.hash); } catch { ok = false; }
  parentPort.postMessage({ id: m.id, ok });
});
`;

interface Pending {
  resolve: (ok: boolean) => void;
}

export class BasicAuth {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Comparisons asked for the same key while one runs share it. */
  private readonly running = new Map<string, Promise<boolean>>();
  private readonly good = new Map<string, true>();
  private readonly bad = new Map<string, true>();
  /** bcrypt comparisons run (cache misses), for tests and self-metrics. */
  comparisons = 0;

  constructor(
    private users: ReadonlyMap<string, string>,
    private readonly maxQueued = 32,
  ) {}

  /** A reload: new users and hashes; what was cached for the old ones is forgotten. */
  setUsers(users: ReadonlyMap<string, string>): void {
    this.users = users;
    this.good.clear();
    this.bad.clear();
  }

  get enabled(): boolean {
    return this.users.size > 0;
  }

  /** Checks an `Authorization` header. */
  async check(header: string | undefined): Promise<AuthOutcome> {
    const creds = parseBasic(header);
    if (creds === null) return 'denied';
    const known = this.users.get(creds.user);
    const hash = known ?? UNKNOWN_USER_HASH;
    const key = crypto.createHash('sha256').update(creds.user).update('\0').update(hash).update('\0').update(creds.password).digest('base64');
    if (this.good.has(key)) return known !== undefined ? 'ok' : 'denied';
    if (this.bad.has(key)) return 'denied';
    let p = this.running.get(key);
    if (p === undefined) {
      if (this.pending.size >= this.maxQueued) return 'busy';
      p = this.compare(creds.password, hash).finally(() => this.running.delete(key));
      this.running.set(key, p);
    }
    const ok = (await p) && known !== undefined;
    remember(ok ? this.good : this.bad, key);
    return ok ? 'ok' : 'denied';
  }

  /** Stops the worker (pending checks are denied). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    for (const p of this.pending.values()) p.resolve(false);
    this.pending.clear();
    if (w) await w.terminate();
  }

  private compare(password: string, hash: string): Promise<boolean> {
    this.comparisons++;
    const w = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<boolean>((resolve) => {
      this.pending.set(id, { resolve });
      w.postMessage({ id, password, hash });
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const bcryptPath = createRequire(import.meta.url).resolve('bcryptjs');
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcrypt: bcryptPath } });
    // The worker never keeps the agent alive.
    w.unref();
    w.on('message', (m: { id: number; ok: boolean }) => {
      const p = this.pending.get(m.id);
      if (p) {
        this.pending.delete(m.id);
        p.resolve(m.ok === true);
      }
    });
    const fail = (): void => {
      // A dead worker denies what it had; the next check starts a new one.
      if (this.worker === w) this.worker = null;
      for (const p of this.pending.values()) p.resolve(false);
      this.pending.clear();
    };
    w.on('error', fail);
    w.on('exit', fail);
    this.worker = w;
    return w;
  }
}

function remember(cache: Map<string, true>, key: string): void {
  if (cache.size >= CACHE_SIZE) {
    // Oldest first (a Map keeps insertion order): a tenth at a time, as exporter-toolkit evicts.
    let n = Math.max(1, cache.size / 10);
    for (const k of cache.keys()) {
      cache.delete(k);
      if (--n <= 0) break;
    }
  }
  cache.set(key, true);
}

/** `Basic base64(user:password)` → its parts, or null. */
export function parseBasic(header: string | undefined): { user: string; password: string } | null {
  if (header === undefined) return null;
  const m = /^\s*basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
