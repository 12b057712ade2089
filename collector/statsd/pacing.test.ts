import { describe, expect, it } from 'vitest';
import { PacedSink, SLICE_BYTES, TurnBudget } from './pacing.js';
import { waitFor } from '../../test/helpers/wait.js';

/** A clock the test moves: each ingest call costs `costMs`. */
function setup(costMs: number) {
  let now = 0;
  const budget = new TurnBudget(10, () => now);
  const got: string[] = [];
  const state = { paused: 0, resumed: 0, isPaused: false };
  const paced = new PacedSink(
    budget,
    (buf, s, e) => {
      for (const line of buf.toString('latin1', s, e).split('\n')) if (line !== '') got.push(line);
      now += costMs;
    },
    () => {
      state.paused++;
      state.isPaused = true;
    },
    () => {
      state.resumed++;
      state.isPaused = false;
    },
  );
  return { paced, got, state };
}

const linesOf = (n: number, width: number): string[] => Array.from({ length: n }, (_, i) => `l${i}.${'x'.repeat(width)}:1|c`);

describe('PacedSink', () => {
  it('feeds cheap lines at once, in slices of whole lines', () => {
    const { paced, got, state } = setup(0);
    const lines = linesOf(1000, 40);
    const buf = Buffer.from(lines.join('\n') + '\n');
    expect(buf.length).toBeGreaterThan(4 * SLICE_BYTES);
    paced.sink(buf, 0, buf.length);
    expect(got).toEqual(lines);
    expect(state.paused).toBe(0);
    expect(paced.waitingBytes).toBe(0);
  });

  it('past the turn budget the rest waits, the connection pauses, and every line arrives in order', async () => {
    const { paced, got, state } = setup(4);
    const lines = linesOf(200, 1000);
    const buf = Buffer.from(lines.join('\n') + '\n');
    paced.sink(buf, 0, buf.length);
    // 10 ms budget, 4 ms a slice: three slices this turn, the rest later.
    expect(state.isPaused).toBe(true);
    expect(paced.waitingBytes).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(lines.length);
    // The caller's buffer may be reused at once: the waiting lines are a copy.
    buf.fill(0x7a);
    await waitFor(() => !state.isPaused, { timeoutMs: 30_000, what: 'the paused connection resumed' });
    expect(got).toEqual(lines);
    expect(state.paused).toBe(1);
    expect(state.resumed).toBe(1);
    expect(paced.deferrals).toBe(1);
  });

  it('lines handed over while others wait queue behind them', async () => {
    const { paced, got, state } = setup(6);
    const a = linesOf(50, 2000);
    const b = ['after.one:1|c', 'after.two:2|c'];
    const bufA = Buffer.from(a.join('\n') + '\n');
    const bufB = Buffer.from(b.join('\n') + '\n');
    paced.sink(bufA, 0, bufA.length);
    expect(state.isPaused).toBe(true);
    paced.sink(bufB, 0, bufB.length);
    await waitFor(() => !state.isPaused, { timeoutMs: 30_000, what: 'the paused connection resumed' });
    expect(got).toEqual([...a, ...b]);
  });
});
