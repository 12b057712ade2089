import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Mapper } from '../mapper.js';
import { readMappingYaml, parseGoDuration } from './file.js';
import { MappingConfigError } from './rule.js';

const load = (yaml: string, file = 'mapping.yml') => Mapper.fromYaml(yaml, file);

function shown(m: Mapper, name: string): string {
  const r = m.map(name, 'counter');
  const labels = Object.entries(r.labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
  return `${r.name}{${labels}}`;
}

/** Asserts reading fails with file:line and a message matching `problem`. */
function rejects(yaml: string, line: number | undefined, problem: RegExp, file = 'bad.yml'): MappingConfigError {
  let caught: unknown;
  try {
    readMappingYaml(yaml, file);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(MappingConfigError);
  const e = caught as MappingConfigError;
  expect(e.file).toBe(file);
  expect(e.line).toBe(line);
  expect(e.message.startsWith(line === undefined ? `${file}: ` : `${file}:${line}: `)).toBe(true);
  expect(e.message).toMatch(problem);
  return e;
}

describe('durations', () => {
  it('parses Go durations', () => {
    expect(parseGoDuration('1m20s')).toBe(80_000);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    expect(parseGoDuration('300ms')).toBe(300);
    expect(parseGoDuration('2us')).toBe(0.002);
    expect(parseGoDuration('0')).toBe(0);
    expect(parseGoDuration('10')).toBeNull();
    expect(parseGoDuration('5 m')).toBeNull();
    expect(parseGoDuration('')).toBeNull();
  });
});

describe('YAML as statsd_exporter (yaml.v2) reads it', () => {
  it('YAML 1.1 booleans, label values as written, empty file, flow style', () => {
    const m = load(`
mappings:
- match: a.*
  name: a
  honor_labels: yes
  labels: {flag: on, code: 200, hex: 0x1F, empty: }
`);
    expect(m.map('a.b', 'counter')).toMatchObject({ honorLabels: true, labels: { flag: 'on', code: '200', hex: '0x1F', empty: '' } });
    expect(load('').ruleCount).toBe(0);
    expect(load('# only a comment\n').map('a.b', 'gauge').name).toBe('a_b');
    expect(load('mappings: []\n').ruleCount).toBe(0);
    expect(load('defaults:\nmappings:\n').ruleCount).toBe(0);
  });

  it('reads a file from disk', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-mapper-'));
    try {
      const file = path.join(dir, 'statsd_mapping.yml');
      fs.writeFileSync(file, 'mappings:\n- match: "x.*"\n  name: "x_total"\n  labels: {k: "$1"}\n');
      expect(shown(Mapper.fromFile(file), 'x.y')).toBe('x_total{k="y"}');
      fs.writeFileSync(file, 'mappings:\n- match: "x.*"\n  nmae: "x_total"\n');
      expect(() => Mapper.fromFile(file)).toThrow(`${file}:3: unknown key "nmae" in mapping #1 (did you mean name?)`);
      expect(() => Mapper.fromFile(path.join(dir, 'missing.yml'))).toThrow(/missing\.yml: cannot read the mapping file: ENOENT/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bad mapping files name the file, the line and the problem', () => {
  it('YAML syntax errors and duplicate keys', () => {
    rejects('mappings:\n- match: "a.*"\n  name: "unterminated\n', 4, /Missing closing "quote/);
    rejects('mappings:\n- match: a\n  name: a\n  name: b\n', 4, /duplicate key/);
    rejects('mappings:\n  - match: a\n   name: x\n', 3, /Sequence item without - indicator/);
    rejects('mappings:\n- match: a\n\tname: x\n', 3, /Tabs are not allowed as indentation/);
  });

  it('structure', () => {
    rejects('test.dispatcher.*.*.*\nname="dispatcher_events_total"\n', 1, /old line-based format is not supported/);
    rejects('- match: a\n', 1, /the mapping file must be a mapping/);
    rejects('mapings:\n- match: a\n', 1, /unknown key "mapings" in the mapping file \(did you mean mappings\?\)/);
    rejects('mappings:\n  match: a\n  name: b\n', 2, /mappings must be a list/);
    rejects('mappings:\n- "a.b"\n', 2, /mapping #1 must be a mapping of keys to values/);
    rejects('defaults: summary\n', 1, /defaults must be a mapping/);
  });

  it('unknown and removed keys', () => {
    rejects('mappings:\n- match: a\n  name: a\n  lables: {x: y}\n', 4, /unknown key "lables" in mapping #1 \(did you mean labels\?\)/);
    rejects('mappings:\n- match: a\n  name: a\n  timer_type: histogram\n', 4, /timer_type was removed from statsd_exporter; use observer_type/);
    rejects('mappings:\n- match: a\n  name: a\n  buckets: [1, 2]\n', 4, /use histogram_options\.buckets/);
    rejects('defaults:\n  quantiles: []\n', 2, /use summary_options\.quantiles/);
    rejects('mappings:\n- match: a\n  name: a\n  glob_disable_ordering: true\n', 4, /only allowed under defaults/);
    rejects('defaults:\n  frobnicate: 1\n', 2, /unknown key "frobnicate" in defaults \(allowed: observer_type, match_type/);
    rejects('mappings:\n- match: a\n  name: a\n  histogram_options:\n    bucket: [1]\n', 5, /unknown key "bucket" in histogram_options \(did you mean buckets\?\)/);
    rejects('mappings:\n- match: a\n  name: a\n  summary_options:\n    quantiles:\n    - {quantile: 0.5, err: 0.1}\n', 6, /unknown key "err" in an entry of summary_options\.quantiles/);
  });

  it('match, match_type, match_metric_type, action', () => {
    rejects('mappings:\n- name: a\n', 2, /mapping #1 has no match/);
    rejects('mappings:\n- match: "a.*"\n  name: a\n  match_metric_type: timer\n', 4, /match_metric_type "timer" was removed from statsd_exporter; use "observer"/);
    rejects('mappings:\n- match: "a.*"\n  name: a\n  match_metric_type: histogram\n', 4, /match_metric_type must be one of counter, gauge, observer, not "histogram"/);
    rejects('mappings:\n- match: "a.*"\n  name: a\n  match_type: wildcard\n', 4, /match_type must be one of glob, regex/);
    rejects('mappings:\n- match: "a.*"\n  name: a\n  action: keep\n', 4, /action must be one of map, drop/);
    rejects('mappings:\n- match: "a.b c"\n  name: a\n', 2, /invalid glob "a\.b c"/);
    rejects('mappings:\n- match: "a..b"\n  name: a\n', 2, /invalid glob/);
    rejects('mappings:\n- match: "a.**"\n  name: a\n', 2, /\*\* is not a pattern/);
  });

  it('invalid regexes, including what RE2 refuses', () => {
    rejects('mappings:\n- match: "a.b"\n  name: a\n- match: "(unclosed"\n  match_type: regex\n  name: b\n', 4, /invalid regex "\(unclosed": missing closing \)/);
    rejects("mappings:\n- match: 'a(?=b)'\n  match_type: regex\n  name: b\n", 2, /lookahead and lookbehind .* not supported by RE2/);
    rejects("mappings:\n- match: '(a)\\1'\n  match_type: regex\n  name: b\n", 2, /backreferences like \\1 are not supported/);
    rejects("mappings:\n- match: 'a**'\n  match_type: regex\n  name: b\n", 2, /invalid nested repetition operator/);
    rejects("mappings:\n- match: '*.foo'\n  match_type: regex\n  name: b\n", 2, /invalid regex "\*\.foo"/);
    rejects("mappings:\n- match: 'a{1001}'\n  match_type: regex\n  name: b\n", 2, /at most 1000/);
    rejects("mappings:\n- match: '\\Z'\n  match_type: regex\n  name: b\n", 2, /invalid escape sequence \\Z/);
    rejects("defaults:\n  match_type: regex\nmappings:\n- match: '[z-a]'\n  name: b\n", 4, /invalid character class range z-a/);
  });

  it('names and labels', () => {
    rejects('mappings:\n- match: "a.*"\n', 2, /mapping #1 \(match "a\.\*"\) didn't set a metric name/);
    rejects('mappings:\n- match: "a.*"\n  name: "1abc"\n', 3, /metric name "1abc" is not valid/);
    rejects('mappings:\n- match: "a.*"\n  name: "a.b"\n', 3, /metric name "a\.b" is not valid/);
    rejects('mappings:\n- match: "a.*"\n  name: "${x}_total"\n', 3, /metric name "\$\{x\}_total" is not valid/);
    rejects('mappings:\n- match: "a.*"\n  name: a\n  labels:\n    "bad-label": x\n', 5, /invalid label name "bad-label"/);
    rejects('mappings:\n- match: "a.*"\n  name: a\n  labels:\n    __name__: x\n', 5, /reserved by Prometheus/);
    rejects('mappings:\n- match: "a.*"\n  name: a\n  labels:\n    k: [1, 2]\n', 5, /label k must be a string, not a list/);
    rejects('mappings:\n- match: "a.*"\n  name: a\n  labels: [k]\n', 4, /labels must be a mapping/);
  });

  it('observer options', () => {
    rejects('mappings:\n- match: "a.*"\n  name: a\n  histogram_options: {buckets: [1]}\n  summary_options: {max_age: 1m}\n', 5, /sets both histogram_options and summary_options/);
    rejects('mappings:\n- match: "a.*"\n  name: a\n  observer_type: histogram\n  summary_options: {max_age: 1m}\n', 5, /cannot use a histogram observer with summary_options/);
    rejects('mappings:\n- match: "a.*"\n  name: a\n  observer_type: summary\n  histogram_options: {buckets: [1]}\n', 5, /cannot use a summary observer with histogram_options/);
    rejects('mappings:\n- match: "a.*"\n  name: a\n  observer_type: timer\n', 4, /observer_type must be one of histogram, summary/);
    rejects('mappings:\n- match: "a.*"\n  name: a\n  histogram_options:\n    buckets: [1, 0.5]\n', 5, /buckets must be in increasing order \(0\.5 after 1\)/);
    rejects('mappings:\n- match: "a.*"\n  name: a\n  histogram_options:\n    buckets: [1, fast]\n', 5, /buckets must be a list of numbers/);
    rejects('mappings:\n- match: "a.*"\n  name: a\n  histogram_options:\n    buckets: 1\n', 5, /buckets must be a list of numbers/);
    rejects('defaults:\n  summary_options:\n    quantiles:\n      - quantile: 1.5\n        error: 0.1\n', 4, /quantile must be between 0 and 1, not 1\.5/);
    rejects('defaults:\n  summary_options:\n    age_buckets: -1\n', 3, /age_buckets must be a whole number/);
    rejects('defaults:\n  summary_options:\n    max_age: forever\n', 3, /max_age: invalid duration "forever"/);
    rejects('mappings:\n- match: "a.*"\n  name: a\n  histogram_options:\n    native_histogram_bucket_factor: big\n', 5, /native_histogram_bucket_factor must be a number/);
  });

  it('ttl, scale, honor_labels, glob_disable_ordering types', () => {
    rejects('mappings:\n- match: "a.*"\n  name: a\n  ttl: 10\n', 4, /ttl: 10 has no unit \(write e\.g\. 10s/);
    rejects('mappings:\n- match: "a.*"\n  name: a\n  ttl: soon\n', 4, /ttl: invalid duration "soon"/);
    rejects('defaults:\n  ttl: -5s\n', 2, /defaults\.ttl must not be negative/);
    rejects('mappings:\n- match: "a.*"\n  name: a\n  scale: "x"\n', 4, /scale must be a number/);
    rejects('mappings:\n- match: "a.*"\n  name: a\n  scale: .inf\n', 4, /scale must be a finite number/);
    rejects('mappings:\n- match: "a.*"\n  name: a\n  honor_labels: sometimes\n', 4, /honor_labels must be true or false/);
    rejects('defaults:\n  glob_disable_ordering: 1\n', 2, /glob_disable_ordering must be true or false/);
  });
});

describe('warnings for rules that load but cannot do what they say', () => {
  it('references to missing captures, shadowed rules, named groups in globs', () => {
    const m = load(`
mappings:
- match: "a.*"
  name: "a_$2"
- match: "a.*"
  name: "again"
- match: "b.*"
  name: "b"
  labels: {x: "$host"}
- match: '(?P<host>\\w+)\\.c'
  match_type: regex
  name: "c"
  labels: {h: "\${host}", nope: "\${hots}"}
`);
    expect(m.warnings).toEqual([
      'mapping.yml:3: mapping #1 (match "a.*"): $2 is referenced but the match has 1 capture; it expands to ""',
      'mapping.yml:7: mapping #3 (match "b.*"): named references ($host) only work with match_type: regex; they expand to ""',
      'mapping.yml:10: mapping #4 (match "(?P<host>\\\\w+)\\\\.c"): $hots names no group of the regex; it expands to ""',
      'mapping.yml: mapping #2 (match "a.*") never applies: mapping #1 has the same match',
    ]);
    expect(m.map('x.c', 'gauge').labels).toEqual({ h: 'x', nope: '' });
  });
});


describe('buckets as statsd_exporter chooses them', () => {
  it('a file that asks for a histogram without buckets gets statsd_exporter defaults', async () => {
    const { STATSD_EXPORTER_BUCKETS } = await import('./file.js');
    const { DEFAULT_BUCKETS } = await import('../../../core/store.js');
    const m = load('mappings:\n- match: "a.*"\n  name: a\n  observer_type: histogram\n- match: "b.*"\n  name: b\n');
    expect(m.map('a.x', 'observer').buckets).toEqual(STATSD_EXPORTER_BUCKETS);
    // Histogram only because Redline defaults to one: Redline's buckets.
    expect(m.map('b.x', 'observer').buckets).toEqual(DEFAULT_BUCKETS);
    const d = load('defaults:\n  observer_type: histogram\nmappings:\n- match: "b.*"\n  name: b\n');
    expect(d.map('b.x', 'observer').buckets).toEqual(STATSD_EXPORTER_BUCKETS);
    const own = load('defaults:\n  observer_type: histogram\n  histogram_options: {buckets: [1, 2]}\nmappings:\n- match: "b.*"\n  name: b\n');
    expect(own.map('b.x', 'observer').buckets).toEqual([1, 2]);
  });
});

describe('anchors, merge keys and documents as yaml.v2 reads them', () => {
  const base = `
mappings:
- &api
  match: "api.*"
  name: "api_$1"
  labels: &labels
    job: web
  histogram_options:
    native_histogram_bucket_factor: 1.5
`;
  it('a merged mapping takes every key of its anchor; explicit keys after it replace them', () => {
    const m = load(`${base}- <<: *api
  match: "db.*"
  name: "db_$1"
- match: "x.*"
  name: x
  labels: *labels
`);
    expect(m.ruleCount).toBe(3);
    expect(shown(m, 'db.q')).toBe('db_q{job="web"}');
    expect(shown(m, 'x.q')).toBe('x{job="web"}');
  });

  it('a mapping-valued key set again is merged into (labels, histogram_options), as yaml.v2 decodes into the map already there', () => {
    const m = load(`${base}- <<: *api
  match: "db.*"
  labels:
    tier: data
  histogram_options:
    buckets: [1, 2]
`);
    expect(m.map('db.q', 'observer')).toMatchObject({ name: 'api_q', labels: { job: 'web', tier: 'data' }, buckets: [1, 2], observerType: 'histogram' });
  });

  it('a label given again after a merge is refused, as statsd_exporter refuses it (key already set in map)', () => {
    rejects(`${base}- <<: *api\n  match: "db.*"\n  labels:\n    job: other\n`, 13, /label "job" is set twice.*already set in map/);
    rejects(`mappings:\n- match: a\n  name: a\n  labels:\n    <<: {k: 1}\n    k: 2\n`, 6, /label "k" is set twice/);
  });

  it('a sequence of merges: the first map wins; a key written before the merge is replaced by it (yaml.v2 applies keys in order)', () => {
    const m = load(`${base}- <<: [{name: first}, *api]
  match: "db.*"
- name: early
  <<: {name: late}
  match: "e.*"
`);
    expect(m.map('db.q', 'counter').name).toBe('first');
    expect(m.map('e.q', 'counter').name).toBe('late');
  });

  it('merges bring in only known keys; a merge of a scalar and an unknown anchor are refused', () => {
    rejects(`mappings:\n- <<: {match: a, name: a, bogus: 1}\n`, 2, /unknown key "bogus" in mapping #1/);
    rejects(`mappings:\n- match: a\n  name: a\n  <<: 5\n`, 4, /map merge requires map or sequence of maps/);
    // yaml.v2 refuses an anchor defined outside the known keys the same way (field not found).
    rejects(`base: &b {name: a}\nmappings:\n- <<: *b\n  match: a\n`, 1, /unknown key "base" in the mapping file/);
    rejects(`mappings:\n- match: a\n  name: *nope\n`, 3, /nope/);
    // A quoted "<<" is an ordinary (unknown) key in YAML 1.1.
    rejects(`mappings:\n- "<<": {name: a}\n  match: a\n`, 2, /unknown key "<<"/);
  });

  it('only the first document is read; later ones (even broken) are ignored with a warning', () => {
    const m = load('mappings:\n- match: "a.*"\n  name: a\n---\nmappings:\n- match: "b.*"\n  name: b\n---\n: [ broken\n');
    expect(m.ruleCount).toBe(1);
    expect(m.map('b.x', 'counter').name).toBe('b_x');
    expect(m.warnings).toEqual(['mapping.yml:4: only the first YAML document of the file is read (as statsd_exporter); 2 more ignored']);
    expect(load('---\n---\nmappings:\n- match: "a.*"\n  name: a\n').ruleCount).toBe(0);
  });

  it('an alias bomb is refused, not expanded', () => {
    const lines = ['mappings:', '- &m0 {match: a, name: a}'];
    for (let i = 1; i <= 30; i++) lines.push(`- &m${i} {<<: [*m${i - 1}, *m${i - 1}]}`);
    let caught: unknown;
    try {
      readMappingYaml(lines.join('\n'), 'bomb.yml');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MappingConfigError);
    expect(String(caught)).toMatch(/excessive aliasing/);
  });
});
