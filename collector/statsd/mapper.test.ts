import { describe, expect, it } from 'vitest';
import { DEFAULT_BUCKETS } from '../../core/store.js';
import { DEFAULT_SUMMARY_OPTIONS } from '../../core/summary.js';
import { Mapper, type StatsdKind } from './mapper.js';
import { translateRe2 } from './mapper/re2.js';
import { README_GLOB_MAPPINGS, README_REGEX_MAPPING } from '../../test/fixtures/statsd-readme-mappings.js';

const load = (yaml: string, file = 'mapping.yml') => Mapper.fromYaml(yaml, file);

/** name + labels, the way the README shows a mapped metric. */
function shown(m: Mapper, name: string, kind: StatsdKind = 'counter'): string {
  const r = m.map(name, kind);
  if (r.action === 'drop') return 'DROP';
  const labels = Object.entries(r.labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
  return `${r.name}{${labels}}`;
}

describe('glob matching (statsd_exporter README examples)', () => {
  const m = load(`
mappings:
${README_GLOB_MAPPINGS}`);

  it('maps with captures into labels', () => {
    expect(shown(m, 'test.dispatcher.FooProcessor.send.success')).toBe(
      'dispatcher_events_total{processor="FooProcessor", action="send", outcome="success", job="test_dispatcher"}',
    );
    expect(shown(m, 'foo_product.signup.facebook.failure')).toBe('signup_events_total{provider="facebook", outcome="failure", job="foo_product_server"}');
    expect(m.map('foo_product.signup.facebook.failure', 'counter').matched).toBe(true);
    expect(m.ruleCount).toBe(2);
  });

  it('escapes unmatched names and gives them no labels', () => {
    const r = m.map('test.web-server.foo.bar', 'counter');
    expect(r).toMatchObject({ name: 'test_web_server_foo_bar', labels: {}, matched: false, action: 'map', scale: 1, ttlMs: 0, help: undefined });
  });

  it('a * matches exactly one segment', () => {
    expect(m.map('test.dispatcher.a.b', 'counter').matched).toBe(false);
    expect(m.map('test.dispatcher.a.b.c.d', 'counter').matched).toBe(false);
    expect(shown(m, 'test.dispatcher..b.c')).toBe('dispatcher_events_total{processor="", action="b", outcome="c", job="test_dispatcher"}');
  });

  it('captures in the metric name', () => {
    const n = load('mappings:\n- match: "test.*.*.counter"\n  name: "${2}_total"\n  labels:\n    provider: "$1"\n');
    expect(shown(n, 'test.ollie.requests.counter')).toBe('requests_total{provider="ollie"}');
    // The name is escaped again after substitution.
    expect(shown(n, 'test.x.9-lives.counter')).toBe('_9_lives_total{provider="x"}');
  });

  it('$0 is the whole name in globs too (statsd_exporter#444)', () => {
    const n = load('mappings:\n- match: "app.*.*"\n  name: "app_$2"\n  labels:\n    statsd_metric_name: "$0"\n');
    expect(shown(n, 'app.api.latency')).toBe('app_latency{statsd_metric_name="app.api.latency"}');
  });

  it('partial-segment globs (statsd_exporter#481)', () => {
    const n = load(`
mappings:
- match: "api_*.requests"
  name: "api_requests_total"
  labels: {api: "$1"}
- match: "svc.*_ms.*"
  name: "svc_latency"
  labels: {what: "$1", host: "$2"}
- match: "x.*-*"
  name: "x"
  labels: {a: "$1", b: "$2"}
`);
    expect(shown(n, 'api_users.requests')).toBe('api_requests_total{api="users"}');
    expect(shown(n, 'api_.requests')).toBe('api_requests_total{api=""}');
    expect(n.map('apix_users.requests', 'counter').matched).toBe(false);
    expect(shown(n, 'svc.db_query_ms.web1')).toBe('svc_latency{what="db_query", host="web1"}');
    expect(n.map('svc.db_query_sec.web1', 'counter').matched).toBe(false);
    expect(shown(n, 'x.left-right')).toBe('x{a="left", b="right"}');
    // The wildcard never crosses a dot.
    expect(n.map('api_a.b.requests', 'counter').matched).toBe(false);
  });

  it('help text, honor_labels, scale', () => {
    const n = load(`
mappings:
- match: "http.request.*"
  help: "Total number of http requests"
  name: "http_requests_total"
  honor_labels: true
  labels:
    code: "$1"
- match: foo.latency_ms
  name: foo_latency_seconds
  scale: 0.001
- match: bar.processed_kb
  name: bar_processed_bytes
  scale: 1024
- match: baz.latency_us
  name: baz_latency_seconds
  scale: 1e-6
`);
    expect(n.map('http.request.200', 'counter')).toMatchObject({ name: 'http_requests_total', help: 'Total number of http requests', honorLabels: true, labels: { code: '200' } });
    expect(n.map('foo.latency_ms', 'observer').scale).toBe(0.001);
    expect(n.map('bar.processed_kb', 'counter').scale).toBe(1024);
    expect(n.map('baz.latency_us', 'observer').scale).toBe(1e-6);
    expect(n.map('foo.latency_ms', 'observer').honorLabels).toBe(false);
  });

  it('$1_total is capture 1 then _total; ${1} and $$ work; unknown references are empty', () => {
    const n = load(`
mappings:
- match: "a.*.*"
  name: "$1_total"
  labels: {both: "$1$2", braced: "\${2}x", dollar: "cost$$", none: "[$3]", bare: "$", named: "$host"}
`);
    const r = n.map('a.req.web', 'counter');
    expect(r.name).toBe('req_total');
    expect(r.labels).toEqual({ both: 'reqweb', braced: 'webx', dollar: 'cost$', none: '[]', bare: '$', named: '' });
  });

  it('a name that expands to nothing is dropped, as statsd_exporter drops it', () => {
    const n = load('mappings:\n- match: "a.*"\n  name: "$1"\n');
    expect(n.map('a.', 'counter')).toMatchObject({ action: 'drop', name: '', matched: true });
    expect(n.map('a.b', 'counter')).toMatchObject({ action: 'map', name: 'b' });
  });
});

describe('rule order', () => {
  it('first matching glob in file order wins', () => {
    const m = load(`
mappings:
- match: "a.*.*"
  name: "first"
- match: "a.b.c"
  name: "second"
- match: "a.b.*"
  name: "third"
`);
    expect(m.map('a.b.c', 'counter').name).toBe('first');
    expect(m.map('a.x.y', 'counter').name).toBe('first');
    expect(m.warnings).toEqual([]);
  });

  it('the README order (specific before wildcards) picks the specific rule', () => {
    const m = load(`
mappings:
- {match: a.b.c, name: abc}
- {match: a.b.*, name: ab_}
- {match: a.*.d, name: a_d}
- {match: a.*.*, name: a__}
`);
    expect(m.map('a.b.c', 'counter').name).toBe('abc');
    expect(m.map('a.b.d', 'counter').name).toBe('ab_');
    expect(m.map('a.x.d', 'counter').name).toBe('a_d');
    expect(m.map('a.x.y', 'counter').name).toBe('a__');
  });

  it('globs are tried before regexes whatever the file order', () => {
    const m = load(`
mappings:
- match: 'a\\.(.*)'
  match_type: regex
  name: "regex_$1"
- match: "a.*"
  name: "glob_$1"
- match: 'b\\.(.*)'
  match_type: regex
  name: "regex_b"
- match: 'b\\.x'
  match_type: regex
  name: "regex_b_second"
`);
    expect(m.map('a.x', 'counter').name).toBe('glob_x');
    expect(m.map('a.x.y', 'counter').name).toBe('regex_x_y');
    expect(m.map('b.x', 'counter').name).toBe('regex_b');
  });

  it('glob_disable_ordering: the most specific rule wins, segment by segment from the left', () => {
    const m = load(`
defaults:
  glob_disable_ordering: true
mappings:
- {match: a.*.*, name: a__}
- {match: a.*.d, name: a_d}
- {match: a.b.*, name: ab_}
- {match: a.b.c, name: abc}
- {match: "*.b.c", name: _bc}
- {match: a.b_*.c, name: a_partial_c}
`);
    expect(m.map('a.b.c', 'counter').name).toBe('abc');
    expect(m.map('a.b.d', 'counter').name).toBe('ab_');
    expect(m.map('a.x.d', 'counter').name).toBe('a_d');
    expect(m.map('a.x.y', 'counter').name).toBe('a__');
    expect(m.map('z.b.c', 'counter').name).toBe('_bc');
    // partial beats * in the same position, literal beats partial
    expect(m.map('a.b_x.c', 'counter').name).toBe('a_partial_c');
  });

  it('glob_disable_ordering: equally specific rules fall back to file order', () => {
    const m = load(`
defaults: {glob_disable_ordering: true}
mappings:
- {match: "x.api_*", name: first}
- {match: "x.*_total", name: second}
`);
    expect(m.map('x.api_total', 'counter').name).toBe('first');
    expect(m.map('x.db_total', 'counter').name).toBe('second');
  });

  it('regexes: first match in file order wins, searched anywhere in the name (Go semantics)', () => {
    const m = load(`
mappings:
- match: 'status\\.(\\d+)'
  match_type: regex
  name: "status_total"
  labels: {code: "$1", whole: "$0"}
- match: '.'
  match_type: regex
  name: "other"
`);
    expect(shown(m, 'web.status.404.count')).toBe('status_total{code="404", whole="status.404"}');
    expect(m.map('anything', 'counter').name).toBe('other');
  });
});

describe('regex matching (README examples)', () => {
  it('the regex form of the glob example', () => {
    const m = load(`
mappings:
- match: "test\\\\.(\\\\w+)\\\\.(\\\\w+)\\\\.counter"
  match_type: regex
  name: "\${2}_total"
  labels:
    provider: "$1"
${README_REGEX_MAPPING}`);
    expect(shown(m, 'test.ollie.requests.counter')).toBe('requests_total{provider="ollie"}');
    expect(shown(m, 'web01.checkout--https.status.503.count')).toBe('request_total{hostname="web01", exec="checkout", protocol="https", code="503"}');
  });

  it('$0: the full match as a label, the name escaped', () => {
    const m = load(`
mappings:
- match: ".+"
  match_type: regex
  name: "$0"
  labels:
    statsd_metric_name: "$0"
`);
    expect(shown(m, 'my.statsd_counter')).toBe('my_statsd_counter{statsd_metric_name="my.statsd_counter"}');
  });

  it('RE2 syntax: (?P<name>), named references, (?i), \\d, POSIX classes, \\Q…\\E', () => {
    const m = load(`
mappings:
- match: '^(?P<svc>[[:alpha:]]+)\\.(?P<code>\\d{3})$'
  match_type: regex
  name: "\${svc}_responses"
  labels: {code: "\${code}", svc: "$svc"}
- match: '(?i)^LOUD\\.(x+)$'
  match_type: regex
  name: "loud"
  labels: {xs: "$1"}
- match: '^\\Qa.b\\E\\.(.*)'
  match_type: regex
  name: "quoted"
  labels: {rest: "$1"}
`);
    expect(shown(m, 'api.200')).toBe('api_responses{code="200", svc="api"}');
    expect(m.map('api1.200', 'counter').matched).toBe(false);
    expect(shown(m, 'loud.XxX')).toBe('loud{xs="XxX"}');
    expect(shown(m, 'a.b.rest')).toBe('quoted{rest="rest"}');
    expect(m.map('axb.rest', 'counter').matched).toBe(false);
  });

  it('translates RE2 to JavaScript with the same meaning', () => {
    const t = (s: string) => new RegExp(translateRe2(s).source, translateRe2(s).flags);
    expect(t('a.c').test('a\rc')).toBe(true); // RE2's . only excludes \n
    expect(t('(?s)a.c').test('a\nc')).toBe(true);
    expect(t('a.c').test('a\nc')).toBe(false);
    expect(t('(?i:ab)c').test('ABc')).toBe(true);
    expect(t('(?i:ab)c').test('ABC')).toBe(false);
    expect(t('x(?i)y').test('xY')).toBe(true);
    expect(t('x(?i)y').test('XY')).toBe(false);
    expect(t('(?i)[a-c]+').exec('xABCx')?.[0]).toBe('ABC');
    expect(t('(?U)a+').exec('aaa')?.[0]).toBe('a');
    expect(t('(?U)a+?').exec('aaa')?.[0]).toBe('aaa');
    expect(t('[]a]+').exec('x]a]')?.[0]).toBe(']a]');
    expect(t('a{2}b{').test('aab{')).toBe(true);
    expect(t('\\Aab\\z').test('ab')).toBe(true);
    expect(t('\\x{41}\\x42\\101').test('ABA')).toBe(true);
    expect(t('\\s').test('\u00a0')).toBe(false); // RE2's \s is ASCII whitespace only
    expect(t('[[:digit:][:upper:]]+').exec('ab12CDe')?.[0]).toBe('12CD');
    expect(t('\\pL+').exec('1héllo2')?.[0]).toBe('héllo');
    expect(t('\\p{Greek}').test('λ')).toBe(true);
    expect(t('a\\.b\\-c\\_').test('a.b-c_')).toBe(true);
  });

  it('rules with a hostile, long name do not stall (linear-time fallback)', { timeout: 20_000 }, () => {
    const m = load(`
mappings:
- match: "(.*)\\\\.(.*)--(.*)\\\\.status\\\\.(.*)\\\\.count"
  match_type: regex
  name: "request_total"
- match: "^(a+)+$"
  match_type: regex
  name: "as"
`);
    // Without V8's linear fallback the second name alone backtracks for minutes.
    expect(m.map('x.'.repeat(2000) + '--' + '.status.'.repeat(3), 'counter').matched).toBe(false);
    expect(m.map('a'.repeat(40) + 'b', 'counter').matched).toBe(false);
    expect(m.map('a'.repeat(40), 'counter').name).toBe('as');
  });
});

describe('regex rules on hostile and long names (linear-time matching)', () => {
  const hostile = (unit: string, n: number): string => unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
  const readme = load(`
mappings:
${README_REGEX_MAPPING}- match: 'drop\\.(.*)'
  match_type: regex
  action: drop
  name: dropped
- match: 'fixed\\.(.*)'
  match_type: regex
  name: fixed_total
  labels: {kind: "fixed"}
`);

  it('64 KiB hostile names that do not match are decided, not refused', () => {
    for (const unit of ['x.', 'a.b--', 'a.b--c.status.']) {
      const r = readme.map(hostile(unit, 65_535) + 'u', 'counter');
      // The unmatched default: the escaped name.
      expect({ action: r.action, matched: r.matched, escaped: r.name.length > 50_000 && /^[a-z][a-z_]*u$/.test(r.name) }).toEqual({ action: 'map', matched: false, escaped: true });
    }
  });

  it('captures of names longer than the RegExp path come from re2js, equal to the RegExp ones', () => {
    const re = /(.*)\.(.*)--(.*)\.status\.(.*)\.count/;
    for (const len of [200, 255, 256, 257, 300, 1000, 4000]) {
      for (const unit of ['x.', 'a.b--', 'a.b--c.status.', 'ab']) {
        const name = hostile(unit, len - 'h.e--p.status.200.count'.length) + 'h.e--p.status.200.count';
        const want = re.exec(name)!;
        expect(readme.map(name, 'counter')).toMatchObject({
          action: 'map',
          name: 'request_total',
          labels: { hostname: want[1], exec: want[2], protocol: want[3], code: want[4] },
        });
      }
    }
  });

  it('past --statsd.regex-max-name-length a rule that needs captures refuses; drop and capture-free rules still apply', () => {
    const long = hostile('a.b--c.status.', 5000) + '.status.1.count';
    expect(readme.map(long, 'counter')).toMatchObject({ action: 'too_long', matched: true });
    expect(readme.map(`drop.${'z'.repeat(60_000)}`, 'counter')).toMatchObject({ action: 'drop', matched: true });
    expect(readme.map(`fixed.${'z'.repeat(60_000)}`, 'counter')).toMatchObject({ action: 'map', name: 'fixed_total', labels: { kind: 'fixed' } });
    // A long name no regex rule matches is not refused.
    expect(readme.map('q'.repeat(60_000), 'counter')).toMatchObject({ action: 'map', matched: false });

    const yaml = `mappings:\n${README_REGEX_MAPPING}`;
    const unlimited = Mapper.fromYaml(yaml, 'm.yml', { regexNameMaxLength: 0 });
    expect(unlimited.map(long, 'counter')).toMatchObject({ action: 'map', name: 'request_total', labels: { code: '1' } });
    const tight = Mapper.fromYaml(yaml, 'm.yml', { regexNameMaxLength: 40 });
    expect(tight.map('myapp.host1--web.status.200.count', 'counter')).toMatchObject({ action: 'map', labels: { hostname: 'myapp', code: '200' } });
    expect(tight.map('myapp.host1--web.status.200.count.and.more', 'counter').action).toBe('too_long');
  });

  it('RE2 decides the match: patterns that backtrack exponentially in V8 cost nothing', () => {
    const m = load(`
mappings:
- match: '^(a+)+$'
  match_type: regex
  name: as
  labels: {run: "$1"}
- match: '(x+x+)+y'
  match_type: regex
  name: xy
`);
    expect(m.map('a'.repeat(3000) + 'b', 'counter').matched).toBe(false);
    expect(m.map('x'.repeat(60_000), 'counter').matched).toBe(false);
    expect(m.map('a'.repeat(3000), 'counter')).toMatchObject({ name: 'as', labels: { run: 'a'.repeat(3000) } });
    expect(m.map('a'.repeat(30), 'counter')).toMatchObject({ name: 'as', labels: { run: 'a'.repeat(30) } });
  });

  it('named and numbered captures, $0 and (?i) agree on both sides of the short-name length', () => {
    const m = load(`
mappings:
- match: '(?i)^svc_(?P<svc>[a-z0-9]+)\\.(\\w+)\\.(?P<rest>.*)$'
  match_type: regex
  name: "\${svc}_total"
  labels: {op: "$2", rest: "\${rest}", all: "$0"}
`);
    for (const len of [10, 250, 260, 3000]) {
      const rest = 'r.'.repeat(len).slice(0, len);
      const name = `SVC_Api9.get.${rest}`;
      expect(m.map(name, 'counter')).toMatchObject({ name: 'Api9_total', labels: { op: 'get', rest, all: name } });
    }
  });
});

describe('metric types, observers, ttl, drop', () => {
  it('match_metric_type restricts a rule to one statsd type', () => {
    const m = load(`
mappings:
- match: "test.foo.*"
  name: "test_foo"
  match_metric_type: counter
  labels:
    provider: "$1"
- match: "test.foo.*"
  name: "test_foo_seconds"
  match_metric_type: observer
- match: 'test\\.bar\\.(.*)'
  match_type: regex
  match_metric_type: gauge
  name: "bar_$1"
`);
    expect(shown(m, 'test.foo.aws', 'counter')).toBe('test_foo{provider="aws"}');
    expect(m.map('test.foo.aws', 'observer').name).toBe('test_foo_seconds');
    expect(m.map('test.foo.aws', 'gauge')).toMatchObject({ name: 'test_foo_aws', matched: false });
    expect(m.map('test.bar.x', 'gauge').name).toBe('bar_x');
    expect(m.map('test.bar.x', 'counter')).toMatchObject({ name: 'test_bar_x', matched: false });
    expect(m.warnings).toEqual([]);
  });

  it('observers: histogram with the default buckets unless told otherwise', () => {
    const m = load('mappings:\n- {match: "t.*", name: t}\n');
    const r = m.map('t.x', 'observer');
    expect(r.observerType).toBe('histogram');
    expect(r.buckets).toEqual(DEFAULT_BUCKETS);
    expect(r.summary).toEqual(DEFAULT_SUMMARY_OPTIONS);
    expect(m.map('unmapped', 'observer').observerType).toBe('histogram');
    expect(Mapper.empty().map('a.b', 'observer')).toMatchObject({ observerType: 'histogram', buckets: DEFAULT_BUCKETS, name: 'a_b' });
  });

  it('per-mapping histogram buckets (README), native histogram keys accepted', () => {
    const m = load(`
mappings:
- match: "test.timing.*.*.*"
  observer_type: histogram
  histogram_options:
    buckets: [ 0.01, 0.025, 0.05, 0.1 ]
    native_histogram_bucket_factor: 1.1
    native_histogram_max_buckets: 256
  name: "my_timer"
  labels:
    provider: "$2"
    outcome: "$3"
    job: "\${1}_server"
`);
    expect(m.map('test.timing.a.b.c', 'observer')).toMatchObject({
      name: 'my_timer',
      observerType: 'histogram',
      buckets: [0.01, 0.025, 0.05, 0.1],
      labels: { provider: 'b', outcome: 'c', job: 'a_server' },
    });
  });

  it('per-mapping summary options (README)', () => {
    const m = load(`
mappings:
- match: "test.timing.*.*.*"
  observer_type: summary
  name: "my_timer"
  summary_options:
    quantiles:
      - quantile: 0.99
        error: 0.001
      - quantile: 0.95
        error: 0.01
      - quantile: 0.9
        error: 0.05
      - quantile: 0.5
        error: 0.005
    max_age: 30s
    age_buckets: 3
    buf_cap: 1000
`);
    expect(m.map('test.timing.a.b.c', 'observer')).toMatchObject({
      observerType: 'summary',
      summary: {
        quantiles: [
          { quantile: 0.99, error: 0.001 },
          { quantile: 0.95, error: 0.01 },
          { quantile: 0.9, error: 0.05 },
          { quantile: 0.5, error: 0.005 },
        ],
        maxAgeMs: 30_000,
        ageBuckets: 3,
        bufCap: 1000,
      },
    });
  });

  it('defaults: observer type, buckets, summary options (mapping fields override field by field), ttl', () => {
    const m = load(`
defaults:
  observer_type: summary
  ttl: 1m20s
  histogram_options:
    buckets: [1, 2, 3]
  summary_options:
    quantiles: [{quantile: 0.5, error: 0.05}]
    max_age: 5m
    age_buckets: 2
mappings:
- match: "s.*"
  name: s
  summary_options:
    buf_cap: 50
- match: "h.*"
  name: h
  observer_type: histogram
  ttl: 10s
- match: "hs.*"
  name: hs
  histogram_options: {buckets: [0.5, 1, .inf]}
- match: "forever.*"
  name: forever
  ttl: 0
`);
    expect(m.map('s.x', 'observer')).toMatchObject({
      observerType: 'summary',
      ttlMs: 80_000,
      summary: { quantiles: [{ quantile: 0.5, error: 0.05 }], maxAgeMs: 300_000, ageBuckets: 2, bufCap: 50 },
    });
    expect(m.map('h.x', 'observer')).toMatchObject({ observerType: 'histogram', buckets: [1, 2, 3], ttlMs: 10_000 });
    // histogram_options alone makes a histogram even when defaults say summary.
    expect(m.map('hs.x', 'observer')).toMatchObject({ observerType: 'histogram', buckets: [0.5, 1] });
    // ttl 0 in a mapping means "not set" (statsd_exporter), so the default applies.
    expect(m.map('forever.x', 'counter').ttlMs).toBe(80_000);
    expect(m.map('unmapped.name', 'observer')).toMatchObject({ observerType: 'summary', buckets: [1, 2, 3], ttlMs: 80_000, matched: false });
  });

  it('summary_options alone makes a summary (a statsd_exporter file without observer_type)', () => {
    const m = load('mappings:\n- match: "a.*"\n  name: a\n  summary_options: {max_age: 1m}\n');
    expect(m.map('a.b', 'observer')).toMatchObject({ observerType: 'summary', summary: { maxAgeMs: 60_000, ageBuckets: 5, bufCap: 500 } });
  });

  it('MapperOptions give the global defaults; the file wins over them', () => {
    const opts = { defaultObserverType: 'summary' as const, defaultBuckets: [5, 10] };
    expect(Mapper.empty(opts).map('x', 'observer')).toMatchObject({ observerType: 'summary', buckets: [5, 10] });
    const m = Mapper.fromYaml('defaults: {observer_type: histogram}\nmappings:\n- {match: a, name: a}\n', 'm.yml', opts);
    expect(m.map('a', 'observer')).toMatchObject({ observerType: 'histogram', buckets: [5, 10] });
    expect(m.map('b', 'observer')).toMatchObject({ observerType: 'histogram', buckets: [5, 10] });
  });

  it('drop action (README): map one, drop the rest with a "." regex', () => {
    const m = load(`
mappings:
# This metric would match as normal.
- match: "test.timing.*.*.*"
  name: "my_timer"
  labels:
    provider: "$2"
    outcome: "$3"
    job: "\${1}_server"
# Any metric not matched will be dropped because "." matches all metrics.
- match: "."
  match_type: regex
  action: drop
  name: "dropped"
- match: "never.*"
  action: drop
`);
    expect(m.map('test.timing.a.b.c', 'observer')).toMatchObject({ action: 'map', name: 'my_timer' });
    expect(m.map('test.other', 'counter')).toMatchObject({ action: 'drop', matched: true });
    expect(m.map('never.x', 'counter').action).toBe('drop');
  });

});

describe('map never throws', () => {
  it('odd names map to something usable', () => {
    const m = load(`
mappings:
- {match: "*.*", name: "two_$1"}
- {match: "(.*)", match_type: regex, name: "re_$1"}
`);
    const names = ['', '.', '..', 'ä.ö', '💥.x', 'a'.repeat(70_000), '\u0000.\u0001', 'x.y.z', '-.-', '9.9'];
    for (const n of names) {
      for (const kind of ['counter', 'gauge', 'observer'] as const) {
        const r = m.map(n, kind);
        expect(typeof r.name).toBe('string');
        expect(r.action === 'drop' || r.action === 'too_long' || /^[A-Za-z_][A-Za-z0-9_]*$/.test(r.name)).toBe(true);
      }
    }
    // Captures of a name over --statsd.regex-max-name-length (4096) are refused, not computed.
    expect(m.map('a'.repeat(70_000), 'counter')).toMatchObject({ action: 'too_long', matched: true });
    // One code point, one underscore (Go escapes runes).
    expect(m.map('💥.x', 'counter').name).toBe('two__');
    expect(Mapper.empty().map('9.9', 'counter').name).toBe('_9_9');
    expect(Mapper.empty().map('a--b---c', 'counter').name).toBe('a_b_c');
  });

  it('2,000 random names against globs, partial globs and regexes', () => {
    const m = load(`
defaults: {glob_disable_ordering: true}
mappings:
- {match: "*.*", name: "g_$1_$2", labels: {all: "$0"}}
- {match: "a_*.*.*", name: "p_$1", labels: {x: "$3"}}
- {match: '(?i)^([a-z]+)\\.(?P<rest>.*)$', match_type: regex, name: "r_$1", labels: {rest: "\${rest}"}}
`);
    let seed = 99;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = ['a', 'Z', '_', '.', '.', '-', '9', 'é', '💥', '\\', '"', '$', '{', '*', ' ', '\u0000', '\n'];
    for (let k = 0; k < 2000; k++) {
      const name = Array.from({ length: rand(30) }, () => alphabet[rand(alphabet.length)]).join('');
      const r = m.map(name, (['counter', 'gauge', 'observer'] as const)[k % 3]!);
      expect(r.action === 'drop' || r.name === '' || /^[A-Za-z_][A-Za-z0-9_]*$/.test(r.name), name).toBe(true);
      for (const v of Object.values(r.labels)) expect(typeof v).toBe('string');
    }
  });
});

describe('the glob index agrees with a rule-by-rule scan', () => {
  // A small alphabet so that rules overlap a lot.
  const SEGS = ['a', 'b', 'ab', 'a_b', '*', 'a_*', '*_b', '*b'];
  const NAME_SEGS = ['a', 'b', 'ab', 'a_b', 'a_', '_b', 'bb', 'c'];
  const KINDS = ['counter', 'gauge', 'observer'] as const;

  function rng(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (s * 1664525 + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
  }

  interface R {
    index: number;
    segs: string[];
    kind: (typeof KINDS)[number] | null;
    re: RegExp;
  }

  function naive(rules: R[], name: string, kind: StatsdKind, ordered: boolean): number | null {
    const segs = name.split('.');
    const hits = rules.filter((r) => r.segs.length === segs.length && (r.kind === null || r.kind === kind) && r.re.test(name));
    if (hits.length === 0) return null;
    if (ordered) return hits[0]!.index;
    const spec = (r: R) => r.segs.map((s) => (s === '*' ? 0 : s.includes('*') ? 1 : 2));
    hits.sort((x, y) => {
      const a = spec(x);
      const b = spec(y);
      for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return b[k]! - a[k]!;
      return x.index - y.index;
    });
    return hits[0]!.index;
  }

  for (const ordered of [true, false]) {
    it(`${ordered ? 'file order' : 'glob_disable_ordering'}: 40 random rule sets x 300 names`, () => {
      const rand = rng(ordered ? 42 : 7);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
      for (let set = 0; set < 40; set++) {
        const rules: R[] = [];
        const n = 1 + Math.floor(rand() * 25);
        for (let i = 0; i < n; i++) {
          const len = 1 + Math.floor(rand() * 3);
          const segs = Array.from({ length: len }, () => pick(SEGS));
          const kind = rand() < 0.3 ? pick(KINDS) : null;
          const re = new RegExp(`^${segs.map((s) => s.split('*').join('[^.]*')).join('\\.')}$`);
          rules.push({ index: i, segs, kind, re });
        }
        const yaml =
          `defaults: {glob_disable_ordering: ${!ordered}}\nmappings:\n` +
          rules.map((r) => `- {match: "${r.segs.join('.')}", name: "r${r.index}"${r.kind ? `, match_metric_type: ${r.kind}` : ''}}`).join('\n');
        const m = load(yaml);
        for (let k = 0; k < 300; k++) {
          const len = 1 + Math.floor(rand() * 3);
          const name = Array.from({ length: len }, () => pick(NAME_SEGS)).join('.');
          const kind = pick(KINDS);
          const want = naive(rules, name, kind, ordered);
          const got = m.map(name, kind);
          expect({ name, kind, got: got.matched ? got.name : null }).toEqual({ name, kind, got: want === null ? null : `r${want}` });
        }
      }
    });
  }
});
