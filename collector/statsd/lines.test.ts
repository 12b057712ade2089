import { describe, it, expect } from 'vitest';
import { LineAssembler } from './lines.js';

function collect(max = 65536): { a: LineAssembler; lines: string[]; tooLong: () => number } {
  const lines: string[] = [];
  let long = 0;
  const a = new LineAssembler(
    max,
    (buf, s, e) => {
      for (const l of buf.toString('latin1', s, e).split('\n')) if (l !== '') lines.push(l);
    },
    () => long++,
  );
  return { a, lines, tooLong: () => long };
}

describe('LineAssembler', () => {
  it('a line dripped one byte per chunk costs O(n) copies, not O(n²)', () => {
    const { a, lines } = collect();
    const line = `drip.${'x'.repeat(60_000)}:1|c\n`;
    const bytes = Buffer.from(line);
    for (let i = 0; i < bytes.length; i++) a.push(bytes.subarray(i, i + 1));
    expect(lines).toEqual([line.trimEnd()]);
    // Each byte copied once, plus the doublings (each copies what is held, < 2n in all): under
    // 3n. Re-concatenating the pending bytes on every chunk copied n²/2 = 1.8·10⁹ bytes here.
    expect(a.copiedBytes).toBeLessThan(3 * bytes.length);
    expect(a.pendingBytes).toBe(0);
  });

  it('hands complete lines on without copying them; only a split line is copied', () => {
    const { a, lines } = collect();
    a.push(Buffer.from('a:1|c\nb:2|c\nc:'));
    expect(a.copiedBytes).toBe(2);
    a.push(Buffer.from('3|c\nd:4|c\n'));
    expect(lines).toEqual(['a:1|c', 'b:2|c', 'c:3|c', 'd:4|c']);
    expect(a.copiedBytes).toBe(2 + 4);
  });

  it('skips a line longer than the limit up to its newline, once counted, and goes on', () => {
    const { a, lines, tooLong } = collect(100);
    a.push(Buffer.from('ok:1|c\n' + 'y'.repeat(60)));
    a.push(Buffer.from('y'.repeat(60)));
    a.push(Buffer.from('y'.repeat(60) + '\nnext:1|c\n'));
    expect(tooLong()).toBe(1);
    expect(lines).toEqual(['ok:1|c', 'next:1|c']);
    // Exactly at the limit is accepted.
    a.push(Buffer.from('z'.repeat(100) + '\n'));
    expect(lines.at(-1)).toBe('z'.repeat(100));
    expect(tooLong()).toBe(1);
  });

  it('a last line without a newline counts when the connection ends', () => {
    const { a, lines } = collect();
    a.push(Buffer.from('a:1|c\nb:'));
    a.push(Buffer.from('2|c'));
    a.end();
    expect(lines).toEqual(['a:1|c', 'b:2|c']);
  });
});
