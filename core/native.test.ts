import { describe, expect, it } from 'vitest';
import { bucketKey, NativeHistogram, schemaFor, sides } from './native.js';

describe('native histogram buckets', () => {
  it('picks the schema from the bucket factor as client_golang does', () => {
    expect(schemaFor(1.1)).toBe(3);
    expect(schemaFor(2)).toBe(0);
    expect(schemaFor(1.00271)).toBe(8);
    expect(schemaFor(1.0001)).toBe(8);
    expect(schemaFor(65536)).toBe(-4);
    expect(schemaFor(1e9)).toBe(-4);
    expect(schemaFor(1)).toBeNull();
    expect(schemaFor(0.5)).toBeNull();
  });

  it('keys a value into (2^((k-1)/2^s), 2^(k/2^s)], upper bound inclusive', () => {
    for (const s of [-4, -2, -1, 0, 1, 3, 8]) {
      for (const v of [1e-30, 0.001, 0.1, 0.5, 1, 1.5, 2, 3, 1024, 1e6, 1.7e308]) {
        const k = bucketKey(v, s);
        const upper = 2 ** (k / 2 ** s);
        const lower = 2 ** ((k - 1) / 2 ** s);
        // Relative slack: the bounds themselves are rounded floats.
        expect(v).toBeLessThanOrEqual(upper * (1 + 1e-12));
        expect(v).toBeGreaterThan(lower * (1 - 1e-12));
      }
    }
    // Exact powers of two sit at the top of their bucket.
    expect(bucketKey(1, 3)).toBe(0);
    expect(bucketKey(2, 3)).toBe(8);
    expect(bucketKey(2, 0)).toBe(1);
    expect(bucketKey(4, -1)).toBe(1);
    expect(bucketKey(5, -1)).toBe(2);
    expect(bucketKey(0.25, 3)).toBe(-16);
  });

  it('halves the resolution once per new bucket past the limit, merging neighbours', () => {
    const h = new NativeHistogram(0, 2);
    h.observe(1, 1); // key 0
    h.observe(2, 1); // key 1
    h.observe(4, 1); // key 2 → 3 buckets > 2 → schema -1: keys 0, 1, 1
    expect(h.schema).toBe(-1);
    expect([...h.positive].sort((a, b) => a[0] - b[0])).toEqual([
      [0, 1],
      [1, 2],
    ]);
    h.observe(-3, 2);
    h.observe(0, 1);
    expect(h.zeroCount).toBe(1);
    expect(h.schema).toBe(-2);
    expect(h.bucketCount).toBe(2 + 1 - 0);
  });

  it('writes spans with gaps of up to two buckets filled, as client_golang does', () => {
    const m = new Map([
      [-3, 1],
      [-1, 2],
      [2, 1],
      [6, 4],
    ]);
    expect(sides(m)).toEqual({
      spans: [
        { offset: -3, length: 6 },
        { offset: 3, length: 1 },
      ],
      counts: [1, 0, 2, 0, 0, 1, 4],
    });
    expect(sides(null)).toEqual({ spans: [], counts: [] });
  });
});
