import { describe, expect, it } from 'vitest';
import { OtlpMapping, unitScale } from './mapping.js';

const yaml = `
drop_attributes: [url]
otlp_mappings:
  - match: checks.total
    attributes: { condition: nonzero }
    name: loadtest_checks_total
    labels: { result: pass }
  - match: http_req_duration
    name: loadtest_request_duration_seconds
    convert: seconds
  - match: http_req_*
    name: loadtest_request_phase_seconds
    labels: { phase: $1 }
    convert: seconds
  - match: internal_*
    action: drop
`;

describe('OtlpMapping', () => {
  const m = OtlpMapping.fromYaml(yaml, 'test.yml');
  const none = (): undefined => undefined;

  it('matches in order, with captures and attribute filters', () => {
    expect(m.match('http_req_duration', none)?.name).toBe('loadtest_request_duration_seconds');
    const phase = m.match('http_req_waiting', none)!;
    expect(phase.name).toBe('loadtest_request_phase_seconds');
    expect(phase.labels).toEqual([['phase', 'waiting']]);
    expect(m.match('checks.total', (k) => (k === 'condition' ? 'nonzero' : undefined))?.labels).toEqual([['result', 'pass']]);
    expect(m.match('checks.total', (k) => (k === 'condition' ? 'zero' : undefined))).toBeNull();
    expect(m.match('internal_x', none)?.rule.drop).toBe(true);
    expect(m.match('vus', none)).toBeNull();
    expect([...m.dropAttributes]).toEqual(['url']);
  });

  it('scales by the OTLP unit', () => {
    expect(unitScale('seconds', 'ms')).toEqual([1, 1000]);
    expect(unitScale('seconds', 'min')).toEqual([60, 1]);
    expect(unitScale('bytes', 'KiBy')).toEqual([1024, 1]);
    expect(unitScale('seconds', '')).toEqual([1, 1]);
    expect(unitScale(null, 'ms')).toEqual([1, 1]);
  });

  it.each([
    ['otlp_mappings:\n  - name: x\n', 'test.yml:2: a rule needs match'],
    ['otlp_mappings:\n  - match: a\n    name: "bad name"\n', 'test.yml:3: name: "bad name" is not a valid metric name'],
    ['otlp_mappings:\n  - match: a\n    convert: minutes\n', 'test.yml:3: convert: expected seconds or bytes, got "minutes"'],
    ['otlp_mappings:\n  - match: a\n    colour: red\n', 'test.yml:3: unknown rule key "colour"'],
    ['mappings: []\n', 'test.yml:1: unknown key "mappings" (expected otlp_mappings, drop_attributes)'],
    ['otlp_mappings:\n  - match: a\n    action: keep\n', 'test.yml:3: action: expected map or drop, got "keep"'],
  ])('refuses %j', (text, message) => {
    expect(() => OtlpMapping.fromYaml(text, 'test.yml')).toThrow(message);
  });
});
