import { describe, it, expect, beforeEach } from 'vitest';
import { Store } from '../../core/store.js';
import { silentLogger } from '../../core/log.js';
import { render } from '../../exporters/exposition.js';
import { StatsdIngest, type TagStyles } from './ingest.js';
import { Mapper } from './mapper.js';
import { valueOf } from '../../test/helpers/exposition.js';

const ALL_TAGS: TagStyles = { dogstatsd: true, influx: true, librato: true, signalfx: true };

function setup(tags: TagStyles = ALL_TAGS, mappingYaml?: string, maxSeries = 1000) {
  const store = new Store({ maxSeries, setIntervalMs: 10_000 });
  const mapper = mappingYaml ? Mapper.fromYaml(mappingYaml, 'test.yml') : Mapper.empty();
  const ingest = new StatsdIngest(store, mapper, { tags, cacheSize: 1000, logger: silentLogger, passthrough: Mapper.empty() });
  const send = (text: string) => ingest.handle(Buffer.from(text, 'utf8'));
  const metrics = () => render(store, 'text');
  /** The value of one exposed sample line, e.g. `foo{a="b"}`. */
  const value = (series: string): number | undefined => valueOf(metrics(), series);
  const errors = (reason: string) => ingest.lineErrors.get(reason as never) ?? 0;
  return { store, ingest, send, metrics, value, errors };
}

describe('statsd grammar', () => {
  let t: ReturnType<typeof setup>;
  beforeEach(() => {
    t = setup();
  });

  it('counts counters cumulatively and divides by the sample rate', () => {
    t.send('hits:1|c\nhits:2|c\nhits:1|c|@0.1');
    expect(t.value('hits')).toBeCloseTo(13);
  });

  it('sets gauges and applies +/- deltas', () => {
    t.send('temp:10|g');
    t.send('temp:+5|g\ntemp:-3|g');
    expect(t.value('temp')).toBe(12);
    t.send('temp:4|g');
    expect(t.value('temp')).toBe(4);
  });

  it('turns ms timers into seconds in a histogram with the default buckets', () => {
    t.send('lat:250|ms\nlat:1500|ms');
    expect(t.value('lat_count')).toBe(2);
    expect(t.value('lat_sum')).toBeCloseTo(1.75);
    expect(t.value('lat_bucket{le="0.25"}')).toBe(1);
    expect(t.value('lat_bucket{le="2.5"}')).toBe(2);
    expect(t.value('lat_bucket{le="+Inf"}')).toBe(2);
  });

  it('observes h and d values as sent, sampled values int(1/rate) times', () => {
    t.send('size:300|h\nsize:5|d|@0.25');
    expect(t.value('size_count')).toBe(5);
    expect(t.value('size_sum')).toBe(320);
  });

  it('serves sets as the distinct members of the last interval', () => {
    t.send('users:alice|s\nusers:bob|s\nusers:alice|s\nusers:42|s');
    expect(t.value('users')).toBe(0);
    t.store.rotateSets();
    expect(t.value('users')).toBe(3);
    t.send('users:carol|s');
    t.store.rotateSets();
    expect(t.value('users')).toBe(1);
  });

  it('bounds a set: past --statsd.set-max-members new members are dropped and counted, seen ones still count', () => {
    const store = new Store({ maxSeries: 10, setIntervalMs: 10_000, setMaxMembers: 3 });
    const ingest = new StatsdIngest(store, Mapper.empty(), { tags: ALL_TAGS, cacheSize: 10, logger: silentLogger, passthrough: Mapper.empty() });
    // Long members cost 8 bytes each: the set holds hashes, not the strings.
    const long = (c: string): string => c.repeat(10_000);
    ingest.handle(Buffer.from(`u:${long('a')}|s\nu:${long('b')}|s\nu:${long('c')}|s\nu:${long('d')}|s\nu:${long('a')}|s\nu:e|s\n`));
    expect(ingest.setMembersDropped).toBe(2);
    store.rotateSets();
    expect(valueOf(render(store, 'text'), 'u')).toBe(3);
    // A new interval starts empty.
    ingest.handle(Buffer.from('u:d|s\nu:e|s\n'));
    store.rotateSets();
    expect(valueOf(render(store, 'text'), 'u')).toBe(2);
    expect(ingest.setMembersDropped).toBe(2);
  });

  it('accepts several values per line in both forms', () => {
    t.send('a:1|c:2|c:3|ms');
    expect(t.value('a')).toBe(3);
    // `a` is already a counter: the ms sample is a type conflict, counted, not a crash.
    expect(t.ingest.dropped.get('type_conflict')).toBe(1);
    t.send('b:100:200:300|ms|#env:prod');
    expect(t.value('b_count{env="prod"}')).toBe(3);
    expect(t.value('b_sum{env="prod"}')).toBeCloseTo(0.6);
  });

  it('parses every tag style into labels', () => {
    t.send('dd:1|c|#env:prod,region:eu');
    t.send('influx,env=prod,region=eu:1|c');
    t.send('librato#env=prod,region=eu:1|c');
    t.send('sfx[env=prod,region=eu]:1|c');
    t.send('bare:1|c|#canary');
    for (const n of ['dd', 'influx', 'librato', 'sfx']) expect(t.value(`${n}{env="prod",region="eu"}`)).toBe(1);
    expect(t.value('bare{canary="true"}')).toBe(1);
  });

  it('switches each tag style off', () => {
    const off = setup({ dogstatsd: false, influx: false, librato: false, signalfx: false });
    off.send('dd:1|c|#env:prod');
    off.send('influx,env=prod:1|c');
    expect(off.value('dd')).toBe(1);
    expect(off.value('influx_env_prod')).toBe(1);
  });

  it('tolerates DogStatsD container, timestamp and unknown fields', () => {
    t.send('x:1|c|#a:b|c:abc123|T1700000000|card:low|e:ext');
    expect(t.value('x{a="b",container_id="abc123"}')).toBe(1);
    t.send('y:2|g|T1700000000');
    expect(t.value('y')).toBe(2);
  });

  it('counts events and service checks without errors', () => {
    t.send('_e{5,4}:title|text|#a:b\n_sc|check.name|0|#a:b|m:all good');
    expect(t.ingest.events).toBe(1);
    expect(t.ingest.serviceChecks).toBe(1);
    expect([...t.ingest.lineErrors.values()].reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('accepts datagrams with and without a trailing newline and CRLF', () => {
    t.send('a:1|c\r\nb:1|c\n');
    t.send('c:1|c');
    expect(t.value('a')).toBe(1);
    expect(t.value('b')).toBe(1);
    expect(t.value('c')).toBe(1);
    expect(t.ingest.lines).toBe(3);
  });

  it('escapes unmapped names exactly as statsd_exporter does', () => {
    t.send('my.service-name.req--count:1|c\n9lives:1|c\nwéird:1|c');
    expect(t.value('my_service_name_req_count')).toBe(1);
    expect(t.value('_9lives')).toBe(1);
    expect(t.value('w_ird')).toBe(1);
  });

  it('parses exponents and signs', () => {
    t.send('e:1.5e3|g\nf:-2|g\ng:+2|c');
    expect(t.value('e')).toBe(1500);
    expect(t.value('f')).toBe(-2);
    expect(t.value('g')).toBe(2);
  });

  it('passes the probe\'s redline_ names through the user mapping untouched', () => {
    const m = setup(ALL_TAGS, 'mappings:\n  - match: "."\n    match_type: regex\n    action: drop\n    name: dropped\n');
    m.send('redline_nodejs_eventloop_lag_seconds:0.2|g|#quantile:0.99,service:api,pid:1');
    m.send('app.hits:1|c');
    expect(m.value('redline_nodejs_eventloop_lag_seconds{pid="1",quantile="0.99",service="api"}')).toBe(0.2);
    expect(m.ingest.dropped.get('mapping_drop')).toBe(1);
  });
});

describe('malformed statsd lines', () => {
  const cases: [string, string, string][] = [
    ['empty line between two', 'x:1|c\n\ny:1|c', 'empty_line'],
    ['no value', 'novalue', 'malformed_line'],
    ['no type', 'a:1', 'malformed_line'],
    ['empty name', ':1|c', 'empty_name'],
    ['empty value', 'a:|c', 'invalid_value'],
    ['bad type', 'a:1|x', 'invalid_type'],
    ['bad type long', 'a:1|cc', 'invalid_type'],
    ['bad sample rate', 'a:1|c|@abc', 'invalid_sample_rate'],
    ['zero sample rate', 'a:1|c|@0', 'invalid_sample_rate'],
    ['sample rate above 1', 'a:1|c|@1.5', 'invalid_sample_rate'],
    ['NaN', 'a:NaN|g', 'invalid_value'],
    ['Inf', 'a:Inf|g', 'invalid_value'],
    ['+Inf', 'a:+Inf|g', 'invalid_value'],
    ['hex', 'a:0x10|g', 'invalid_value'],
    ['negative counter', 'a:-1|c', 'illegal_negative_counter'],
    ['mixed tag styles', 'a,env=prod:1|c|#region:eu', 'mixed_tagging_styles'],
    ['multi-value set', 'a:x:y|s', 'invalid_multi_value'],
    ['two tag sections', 'a:1|c|#a:b|#c:d', 'malformed_line'],
    ['empty field', 'a:1|c||', 'malformed_line'],
  ];
  for (const [title, line, reason] of cases) {
    it(`${title}: ${JSON.stringify(line)} → ${reason}`, () => {
      const t = setup();
      t.send(line);
      expect(t.errors(reason)).toBe(1);
      expect(t.metrics()).not.toMatch(/^a[ {]/m);
    });
  }

  it('rejects invalid UTF-8 in a name', () => {
    const t = setup();
    t.ingest.handle(Buffer.from([0x61, 0xff, 0xfe, 0x3a, 0x31, 0x7c, 0x63]));
    expect(t.errors('invalid_utf8')).toBe(1);
  });

  it('rejects an over-long line and keeps the others', () => {
    const t = setup();
    t.send(`ok:1|c\n${'x'.repeat(70_000)}:1|c\nok:1|c`);
    expect(t.errors('line_too_long')).toBe(1);
    expect(t.value('ok')).toBe(2);
  });

  it('survives binary garbage and keeps valid lines around it', () => {
    const t = setup();
    const junk = Buffer.alloc(4096);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919 + 13) & 0xff;
    t.ingest.handle(Buffer.concat([Buffer.from('good:1|c\n'), junk, Buffer.from('\ngood:1|c\n')]));
    expect(t.value('good')).toBe(2);
    const rejected = [...t.ingest.lineErrors.values()].reduce((a, b) => a + b, 0);
    const accepted = t.ingest.samples.reduce((a, b) => a + b, 0);
    expect(accepted + rejected + t.ingest.events + t.ingest.serviceChecks).toBe(t.ingest.lines);
  });

  it('applies nothing of a line with one bad value', () => {
    const t = setup();
    t.send('m:1:2:bad|ms');
    expect(t.errors('invalid_value')).toBe(1);
    expect(t.metrics()).not.toContain('m_count');
  });
});

describe('series store under statsd', () => {
  it('refuses new series above the cap and keeps updating existing ones', () => {
    const t = setup(ALL_TAGS, undefined, 10);
    for (let i = 0; i < 50; i++) t.send(`flood:1|c|#id:${i}`);
    t.send('flood:1|c|#id:0');
    expect(t.store.statsdSeriesCount).toBe(10);
    expect(t.ingest.dropped.get('series_limit')).toBe(40);
    expect(t.value('flood{id="0"}')).toBe(2);
  });

  it('refuses a type conflict and a clash with a histogram part, keeping /metrics valid', () => {
    const t = setup();
    t.send('x:1|c\nx:1|g\nlat:5|ms\nlat_count:1|g\nlat_sum:1|c');
    expect(t.ingest.dropped.get('type_conflict')).toBe(3);
    const text = t.metrics();
    expect(text.match(/# TYPE x /g)).toHaveLength(1);
    expect(text).not.toContain('# TYPE lat_count');
  });

  it('serves one name seen with different label sets', () => {
    const t = setup();
    t.send('req:1|c|#a:1\nreq:1|c|#b:2\nreq:1|c');
    const text = t.metrics();
    expect(text.match(/# HELP req /g)).toHaveLength(1);
    expect(t.value('req{a="1"}')).toBe(1);
    expect(t.value('req{b="2"}')).toBe(1);
    expect(t.value('req')).toBe(1);
  });

  it('escapes label values with backslash, quote and newline', () => {
    const t = setup();
    t.send('esc:1|c|#path:a\\b"c');
    expect(t.metrics()).toContain('esc{path="a\\\\b\\"c"} 1');
  });

  it('expires series by TTL and forgets their cached key', () => {
    let now = 1_000_000;
    const store = new Store({ maxSeries: 100, setIntervalMs: 10_000, now: () => now });
    const mapper = Mapper.fromYaml('defaults:\n  ttl: 10s\nmappings: []\n', 'ttl.yml');
    const ingest = new StatsdIngest(store, mapper, { tags: ALL_TAGS, cacheSize: 100, logger: silentLogger, passthrough: Mapper.empty() });
    ingest.handle(Buffer.from('t:5|c'));
    now += 5_000;
    expect(store.expire(now)).toBe(0);
    now += 6_000;
    expect(store.expire(now)).toBe(1);
    expect(render(store, 'text')).not.toMatch(/^t /m);
    ingest.handle(Buffer.from('t:1|c'));
    expect(render(store, 'text')).toMatch(/^t 1$/m);
  });

  it('re-resolves cached keys after a mapping reload', () => {
    const t = setup();
    t.send('svc.hits:1|c');
    expect(t.value('svc_hits')).toBe(1);
    t.ingest.setMapper(Mapper.fromYaml('mappings:\n  - match: "svc.*"\n    name: svc_${1}_total\n', 'm.yml'));
    t.send('svc.hits:1|c');
    expect(t.value('svc_hits_total')).toBe(1);
  });
});

describe('regressions', () => {
  // Found by the fuzz test: a set sample reaching a gauge of the same name crashed the agent.
  it('refuses a set on a gauge name (and a gauge on a set name) as a type conflict', () => {
    const t = setup();
    t.send('mix:1|g\nmix:abc|s\nother:abc|s\nother:1|g');
    expect(t.ingest.dropped.get('type_conflict')).toBe(2);
    expect(t.value('mix')).toBe(1);
  });
});
