import { describe, it, expect } from 'vitest';
import { SummaryWindow, DEFAULT_SUMMARY_OPTIONS } from './summary.js';

describe('summary window', () => {
  it('computes quantiles over the window and forgets old samples', () => {
    const w = new SummaryWindow({ ...DEFAULT_SUMMARY_OPTIONS, maxAgeMs: 10_000, ageBuckets: 5 }, 0);
    for (let i = 1; i <= 100; i++) w.observe(i, 0);
    expect(w.quantiles(1000)).toEqual([50, 90, 99]);
    expect(w.quantiles(20_000).every(Number.isNaN)).toBe(true);
  });

  it('bounds memory with a reservoir', () => {
    const w = new SummaryWindow({ ...DEFAULT_SUMMARY_OPTIONS, bufCap: 100 }, 0);
    for (let i = 0; i < 100_000; i++) w.observe(i % 1000, 0);
    const [p50] = w.quantiles(0);
    expect(p50).toBeGreaterThan(350);
    expect(p50).toBeLessThan(650);
  });
});
