/**
 * The one bounded wait of the test suite. Tests never sleep for a fixed time and then assert:
 * they poll for the condition they need, with a deadline generous enough for a loaded machine.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** What a truthy value of T can be. */
export type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

export interface WaitOptions {
  /** Give up after this long (default 20 s: a busy 2-core machine, not a fast one, sets it). */
  timeoutMs?: number;
  /** Pause between two checks (default 100 ms). */
  intervalMs?: number;
  /** Named in the error when the deadline passes. */
  what?: string;
}

/**
 * Polls `condition` until it returns a truthy value and resolves with it. Throws when the
 * deadline passes (naming `what`). A condition that throws counts as not met yet; its last error
 * is part of the timeout message.
 */
export async function waitFor<T>(condition: () => T | Promise<T>, opts: WaitOptions = {}): Promise<Truthy<T>> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const intervalMs = opts.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await condition();
      if (v) return v as Truthy<T>;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'a condition'}${why}`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Polls `fn` until its value satisfies `ok` and returns that value; when the deadline passes it
 * returns the last value instead of throwing, so the assertion that follows shows what was seen.
 */
export async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, options: WaitOptions | number = {}, intervalMs?: number): Promise<T> {
  // (fn, ok, timeoutMs, intervalMs) is the older positional form, still accepted.
  const opts: WaitOptions = typeof options === 'number' ? { timeoutMs: options, ...(intervalMs === undefined ? {} : { intervalMs }) } : options;
  let last!: T;
  try {
    await waitFor(async () => ok((last = await fn())), opts);
  } catch {
    // The caller's expect() reports the value.
  }
  return last;
}
