/**
 * Numbers straight from the receive buffer. Plain decimals (`12`, `0.25`, `-3.5`: nearly every
 * statsd value) are read byte by byte without making a string; exponents, long digit runs and
 * anything odd go through a strict regex and `Number`. NaN and ±Inf are never values.
 */
import { Byte } from './wire.js';

const POW10: readonly number[] = Array.from({ length: 16 }, (_, i) => 10 ** i);
const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Where the fast scan stopped and what it read; one instance is reused (no tuple per value). */
export class DecimalScan {
  value = 0;
  /** Index of the byte the scan stopped at. */
  stop = 0;
}

/**
 * `[+-]digits[.digits]` ending at `:` or `|`, with at most 15 significant digits before the
 * point. Returns true with `out.value` set, or false when the slow path must decide (then
 * `out.stop` is where the plain-decimal prefix ended).
 */
export function scanDecimal(buf: Buffer, s: number, end: number, out: DecimalScan): boolean {
  const c0 = buf[s];
  let p = c0 === Byte.PLUS || c0 === Byte.MINUS ? s + 1 : s;
  let v = 0;
  let digits = 0;
  let frac = 0;
  let dot = false;
  let c = 0;
  for (; p < end; p++) {
    c = buf[p]!;
    if (c >= 48 && c <= 57) {
      // Past 15 significant digits only fraction digits may follow; they are below a double's
      // precision for the values statsd carries (hot-shots sends hrtime floats like 12.345678901234567).
      if (digits < 15) {
        v = v * 10 + (c - 48);
        if (dot) frac++;
      } else if (!dot) digits = 99;
      digits++;
    } else if (c === Byte.DOT && !dot) dot = true;
    else break;
  }
  out.stop = p;
  if (p < end && (c === Byte.PIPE || c === Byte.COLON) && digits > 0 && digits < 99) {
    if (frac > 0) v /= POW10[frac]!;
    out.value = c0 === Byte.MINUS ? -v : v;
    return true;
  }
  return false;
}

/** Plain unsigned decimals in `[s, e)` (`0.25`, `10`); NaN when the bytes need the slow path. */
export function fastNumber(buf: Buffer, s: number, e: number): number {
  let v = 0;
  let digits = 0;
  let frac = 0;
  let dot = false;
  for (let p = s; p < e; p++) {
    const c = buf[p]!;
    if (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      digits++;
      if (dot) frac++;
    } else if (c === Byte.DOT && !dot) dot = true;
    else return Number.NaN;
  }
  if (digits === 0 || digits > 15) return Number.NaN;
  return frac > 0 ? v / POW10[frac]! : v;
}

/** Any decimal float syntax in `[s, e)` (exponents, signs); NaN for anything else, NaN and ±Inf included. */
export function slowNumber(buf: Buffer, s: number, e: number): number {
  if (s >= e) return Number.NaN;
  const str = buf.toString('latin1', s, e);
  if (!NUMBER_RE.test(str)) return Number.NaN;
  const n = Number(str);
  return Number.isFinite(n) ? n : Number.NaN;
}
