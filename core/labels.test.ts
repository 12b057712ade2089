import { describe, it, expect } from 'vitest';
import { escapeMetricName, escapeLabelValue, escapeHelp, serialiseLabels, isValidLabelName, isValidMetricName } from './labels.js';

describe('escapeMetricName (statsd_exporter rules)', () => {
  const cases: [string, string][] = [
    ['simple_name', 'simple_name'],
    ['a.b.c', 'a_b_c'],
    ['a-b', 'a_b'],
    ['a--b', 'a_b'],
    ['a---b', 'a_b'],
    ['a.-b', 'a__b'],
    ['1abc', '_1abc'],
    ['héllo', 'h_llo'],
    ['a😀b', 'a_b'],
    ['', ''],
  ];
  for (const [input, out] of cases) it(`${JSON.stringify(input)} → ${JSON.stringify(out)}`, () => expect(escapeMetricName(input)).toBe(out));
});

describe('escaping and serialising', () => {
  it('escapes label values: backslash, quote and newline only', () => {
    expect(escapeLabelValue('a\\b"c\nd\te')).toBe('a\\\\b\\"c\\nd\te');
  });

  it('escapes HELP text: backslash and newline', () => {
    expect(escapeHelp('a\\b\nc"d')).toBe('a\\\\b\\nc"d');
  });

  it('serialises label sets in the order given', () => {
    expect(serialiseLabels([], [])).toBe('');
    expect(serialiseLabels(['b', 'a'], ['1', 'x"y'])).toBe('{b="1",a="x\\"y"}');
  });

  it('validates names', () => {
    expect(isValidLabelName('le')).toBe(true);
    expect(isValidLabelName('__name__')).toBe(false);
    expect(isValidLabelName('1a')).toBe(false);
    expect(isValidMetricName('a:b_c')).toBe(true);
    expect(isValidMetricName('a.b')).toBe(false);
  });
});
