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
    expect(m.targets('http_req_duration', none).map((t) => t.name)).toEqual(['loadtest_request_duration_seconds']);
    const [phase] = m.targets('http_req_waiting', none);
    expect(phase!.name).toBe('loadtest_request_phase_seconds');
    expect(phase!.labels).toEqual([['phase', 'waiting']]);
    expect(m.targets('checks.total', (k) => (k === 'condition' ? 'nonzero' : undefined))[0]!.labels).toEqual([['result', 'pass']]);
    // No rule: the plain translation.
    expect(m.targets('checks.total', (k) => (k === 'condition' ? 'zero' : undefined))).toEqual([{ rule: null, name: null, labels: [] }]);
    expect(m.targets('vus', none)).toEqual([{ rule: null, name: null, labels: [] }]);
    expect(m.targets('internal_x', none)).toEqual([]);
    expect([...m.dropAttributes]).toEqual(['url']);
  });

  it('goes on past a rule that says continue', () => {
    const c = OtlpMapping.fromYaml(
      'otlp_mappings:\n  - match: k6_vus\n    name: loadtest_active_users\n    continue: true\n  - match: k6_*\n    name: tool_$1\n    continue: true\n  - match: k6_vus_max\n    action: drop\n',
      'c.yml',
    );
    expect(c.targets('k6_vus', none).map((t) => t.name)).toEqual(['loadtest_active_users', 'tool_vus', null]);
    expect(c.targets('k6_vus_max', none).map((t) => t.name)).toEqual(['tool_vus_max']);
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
