import { describe, expect, it } from 'vitest';
import { typeCode, kindOf, SAMPLE_TYPES, T } from './wire.js';

describe('sample types', () => {
  it('reads every statsd type token and refuses the rest', () => {
    const code = (t: string) => typeCode(Buffer.from(t), 0, t.length);
    expect([code('c'), code('g'), code('ms'), code('h'), code('d'), code('s')]).toEqual([T.COUNTER, T.GAUGE, T.TIMER, T.HISTOGRAM, T.DISTRIBUTION, T.SET]);
    for (const t of ['', 'm', 'C', 'cc', 'msx', 'x', 'sm']) expect(code(t)).toBe(-1);
  });

  it('names each code and matches it as statsd_exporter does', () => {
    expect(SAMPLE_TYPES[T.TIMER]).toBe('timer');
    expect(SAMPLE_TYPES[T.SET]).toBe('set');
    expect([T.COUNTER, T.GAUGE, T.SET, T.TIMER, T.HISTOGRAM, T.DISTRIBUTION].map(kindOf)).toEqual(['counter', 'gauge', 'gauge', 'observer', 'observer', 'observer']);
  });
});
