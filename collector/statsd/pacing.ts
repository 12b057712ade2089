/**
 * Pacing of statsd TCP work, so that one client streaming expensive lines cannot hold the event
 * loop: HTTP (`/-/healthy`, `/-/ready`, `/metrics`) and the other listeners get a turn every few
 * milliseconds whatever arrives.
 *
 * libuv reads a busy socket up to 32 times (32 × 64 KiB) in one poll phase before anything else
 * runs, and a flood of unique 16 KB names that a regex rule has to look at costs ~1–3 ms a line,
 * so one phase could hold ~0.2–0.5 s (bench/hostile.ts measured a health p99 of 1.5 s). Here
 * lines are fed to the ingest in slices of about SLICE_BYTES, whole lines each; once the turn has
 * spent TURN_BUDGET_MS, the rest of the chunk is kept (copied once) and the connection paused
 * until a later turn has fed it. TCP flow control then slows the client; nothing is dropped,
 * and the order of a connection's lines is kept.
 *
 * UDP and unix datagrams cannot be paused without the kernel dropping them; a datagram is at most
 * 64 KiB, and each is ingested in its own callback.
 */
import { performance } from 'node:perf_hooks';

/** TCP ingest work one event-loop turn may do before connections wait for the next one. */
export const TURN_BUDGET_MS = 10;
/** Lines are fed in slices of about this many bytes; the budget is checked between slices. */
export const SLICE_BYTES = 8192;
const NL = 10;

/** The time the statsd TCP connections have spent in the current event-loop turn. */
export class TurnBudget {
  private turnStart = -1;
  private readonly endTurn = (): void => {
    this.turnStart = -1;
  };

  constructor(
    private readonly budgetMs: number = TURN_BUDGET_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Whether this turn's budget is spent; the first call of a turn starts its clock. */
  exhausted(): boolean {
    const t = this.now();
    if (this.turnStart < 0) {
      this.turnStart = t;
      // Runs once the current poll phase (every socket ready now) has been handled.
      setImmediate(this.endTurn);
      return false;
    }
    return t - this.turnStart >= this.budgetMs;
  }
}

export type Ingest = (buf: Buffer, start: number, end: number) => void;

/**
 * One connection's complete lines (a LineSink), fed to the ingest within the turn's budget. The
 * connection is paused while lines wait, and resumed once they are all ingested.
 */
export class PacedSink {
  private waiting: Buffer | null = null;
  private waitingStart = 0;
  private scheduled = false;
  /** Times the connection was paused for lack of budget (for tests and benchmarks). */
  deferrals = 0;

  constructor(
    private readonly budget: TurnBudget,
    private readonly ingest: Ingest,
    private readonly pause: () => void,
    private readonly resume: () => void,
  ) {}

  /** Bytes of complete lines waiting for a later turn. */
  get waitingBytes(): number {
    return this.waiting === null ? 0 : this.waiting.length - this.waitingStart;
  }

  readonly sink = (buf: Buffer, start: number, end: number): void => {
    if (this.waiting !== null) {
      // More lines while some wait (a chunk that also completed a held line): they queue behind.
      this.waiting = Buffer.concat([this.waiting.subarray(this.waitingStart), buf.subarray(start, end)]);
      this.waitingStart = 0;
      return;
    }
    const cut = this.feed(buf, start, end);
    if (cut === end) return;
    // `buf` may be the line assembler's buffer, reused once this returns: keep a copy.
    this.waiting = Buffer.from(buf.subarray(cut, end));
    this.waitingStart = 0;
    this.deferrals++;
    this.pause();
    this.schedule();
  };

  /** Ingests slices of whole lines until the budget is spent; returns where it stopped. */
  private feed(buf: Buffer, start: number, end: number): number {
    let s = start;
    while (s < end) {
      if (this.budget.exhausted()) return s;
      let e = end;
      if (end - s > SLICE_BYTES) {
        const nl = buf.indexOf(NL, s + SLICE_BYTES - 1);
        if (nl !== -1 && nl < end) e = nl + 1;
      }
      this.ingest(buf, s, e);
      s = e;
    }
    return s;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // After the poll phase that ran out of budget (HTTP was served in it) and after the budget's
    // own reset, queued before this: the drain gets a fresh budget without the loop idling.
    setImmediate(this.drain);
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    const w = this.waiting;
    if (w === null) return;
    const cut = this.feed(w, this.waitingStart, w.length);
    if (cut < w.length) {
      this.waitingStart = cut;
      this.schedule();
      return;
    }
    this.waiting = null;
    this.waitingStart = 0;
    this.resume();
  };
}
