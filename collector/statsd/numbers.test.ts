import { describe, expect, it } from 'vitest';
import { DecimalScan, scanDecimal, fastNumber, slowNumber } from './numbers.js';

const b = (s: string) => Buffer.from(s, 'latin1');

describe('scanDecimal (the fast path)', () => {
  const cases: [string, number][] = [
    ['0|c', 0],
    ['12|c', 12],
    ['-3.5|g', -3.5],
    ['+2:', 2],
    ['0.25|ms', 0.25],
    ['12.345678901234567|ms', 12.345678901234],
    ['999999999999999|c', 999999999999999],
  ];
  for (const [text, value] of cases) {
    it(`${JSON.stringify(text)} reads ${value} and stops at the terminator`, () => {
      const out = new DecimalScan();
      expect(scanDecimal(b(text), 0, text.length, out)).toBe(true);
      expect(out.value).toBeCloseTo(value, 9);
      expect(text[out.stop]).toMatch(/[|:]/);
    });
  }

  it('leaves exponents, long integers, words and unterminated values to the slow path', () => {
    for (const text of ['1e3|g', '1234567890123456|c', 'abc|s', '12', '.|c', '-|g', '1.2.3|g', '|c']) {
      expect(scanDecimal(b(text), 0, text.length, new DecimalScan())).toBe(false);
    }
  });

  it('stops where the plain-decimal prefix ends', () => {
    const out = new DecimalScan();
    scanDecimal(b('15e2|g'), 0, 6, out);
    expect(out.stop).toBe(2);
  });

  it('reads inside a larger buffer', () => {
    const buf = b('name:42|c');
    const out = new DecimalScan();
    expect(scanDecimal(buf, 5, buf.length, out)).toBe(true);
    expect(out.value).toBe(42);
    expect(out.stop).toBe(7);
  });
});

describe('fastNumber and slowNumber', () => {
  it('fastNumber reads unsigned plain decimals only', () => {
    expect(fastNumber(b('0.1'), 0, 3)).toBe(0.1);
    expect(fastNumber(b('10'), 0, 2)).toBe(10);
    expect(fastNumber(b('-1'), 0, 2)).toBeNaN();
    expect(fastNumber(b('1e2'), 0, 3)).toBeNaN();
    expect(fastNumber(b(''), 0, 0)).toBeNaN();
    expect(fastNumber(b('1234567890123456'), 0, 16)).toBeNaN();
  });

  it('slowNumber reads any decimal float syntax and refuses the rest', () => {
    const ok: [string, number][] = [['1.5e3', 1500], ['-2E-2', -0.02], ['+.5', 0.5], ['7.', 7], ['1234567890123456789', 1234567890123456789]];
    for (const [text, v] of ok) expect(slowNumber(b(text), 0, text.length)).toBe(v);
    for (const text of ['NaN', 'Inf', '+Inf', '-Infinity', '0x10', '1_000', '1e999', ' 1', '', '.', 'e5']) {
      expect(slowNumber(b(text), 0, text.length)).toBeNaN();
    }
  });
});
