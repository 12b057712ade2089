import { describe, expect, it } from 'vitest';
import { TagParser, type TagStyles } from './tags.js';

const ALL: TagStyles = { dogstatsd: true, influx: true, librato: true, signalfx: true };

function name(p: TagParser, raw: string, hasDog = false): [string | null, Record<string, string>] {
  const labels = new Map<string, string>();
  const n = p.nameTags(raw, labels, hasDog);
  return [n, Object.fromEntries(labels)];
}

describe('name-embedded tag styles', () => {
  it('reads SignalFx, Librato and InfluxDB tags and returns the bare name', () => {
    const p = new TagParser(ALL);
    expect(name(p, 'req[env=prod,region=eu].count')).toEqual(['req.count', { env: 'prod', region: 'eu' }]);
    expect(name(p, 'req#env=prod,region=eu')).toEqual(['req', { env: 'prod', region: 'eu' }]);
    expect(name(p, 'req,env=prod,region=eu')).toEqual(['req', { env: 'prod', region: 'eu' }]);
    expect(name(p, 'plain.name')).toEqual(['plain.name', {}]);
  });

  it('takes the first style found, in statsd_exporter order', () => {
    const p = new TagParser(ALL);
    // SignalFx wins over InfluxDB: the comma inside the brackets is a tag separator.
    expect(name(p, 'a[x=1,y=2]')).toEqual(['a', { x: '1', y: '2' }]);
    // Librato before InfluxDB: the rest after '#' is Librato's list.
    expect(name(p, 'a#x=1,y=2')).toEqual(['a', { x: '1', y: '2' }]);
  });

  it('refuses a name-embedded style mixed with DogStatsD tags', () => {
    const p = new TagParser(ALL);
    expect(name(p, 'a,env=prod', true)[0]).toBeNull();
    // With DogStatsD parsing off, the two do not mix.
    expect(name(new TagParser({ ...ALL, dogstatsd: false }), 'a,env=prod', true)[0]).toBe('a');
  });

  it('leaves the name alone when a style is off', () => {
    const p = new TagParser({ dogstatsd: true, influx: false, librato: false, signalfx: false });
    expect(name(p, 'a,env=prod')).toEqual(['a,env=prod', {}]);
    expect(name(p, 'a[env=prod]')).toEqual(['a[env=prod]', {}]);
  });

  it('escapes keys, keeps values verbatim, counts tags that cannot be labels', () => {
    const p = new TagParser(ALL);
    expect(name(p, 'a,my-key=v a/l,=novalue,noeq,__x=1')).toEqual(['a', { my_key: 'v a/l' }]);
    expect(p.errors).toBe(3);
  });
});

describe('DogStatsD tags', () => {
  it('reads k:v pairs, bare tags as "true", values holding ":"', () => {
    const p = new TagParser(ALL);
    const labels = new Map<string, string>();
    p.dogTags('env:prod,canary,url:http://x:80/,,dd.internal.entity_id:abc', labels);
    expect(Object.fromEntries(labels)).toEqual({ env: 'prod', canary: 'true', url: 'http://x:80/', dd_internal_entity_id: 'abc' });
    expect(p.errors).toBe(0);
  });

  it('counts a tag without a key', () => {
    const p = new TagParser(ALL);
    const labels = new Map<string, string>();
    p.dogTags(':v,k:1', labels);
    expect(Object.fromEntries(labels)).toEqual({ k: '1' });
    expect(p.errors).toBe(1);
  });

  it('does nothing when the style is off', () => {
    const p = new TagParser({ ...ALL, dogstatsd: false });
    const labels = new Map<string, string>();
    p.dogTags('env:prod', labels);
    expect(labels.size).toBe(0);
  });
});

describe('statsd_exporter parity', () => {
  it('a DogStatsD tag may carry its own leading # (the Datadog PHP client)', () => {
    const p = new TagParser(ALL);
    const labels = new Map<string, string>();
    p.dogTags('#env:prod,#region:eu,#', labels);
    expect(Object.fromEntries(labels)).toEqual({ env: 'prod', region: 'eu' });
    expect(p.errors).toBe(1);
  });

  it('tags with an empty value are skipped and counted', () => {
    const p = new TagParser(ALL);
    const labels = new Map<string, string>();
    p.dogTags('a:,b:1', labels);
    expect(name(p, 'x,c=,d=2')).toEqual(['x', { d: '2' }]);
    expect(Object.fromEntries(labels)).toEqual({ b: '1' });
    expect(p.errors).toBe(2);
  });

  it('malformed SignalFx brackets leave the name alone and count a tag error', () => {
    const p = new TagParser(ALL);
    expect(name(p, 'a]b[c=1')).toEqual(['a]b[c=1', {}]);
    expect(name(p, 'a[b=1,c=2')).toEqual(['a[b=1,c=2', {}]);
    expect(name(p, 'a]#b=1')).toEqual(['a]#b=1', {}]);
    expect(p.errors).toBe(3);
  });

  it('Librato and InfluxDB: whichever separator comes first starts the tags', () => {
    const p = new TagParser(ALL);
    expect(name(p, 'a,b=1#c=2')).toEqual(['a', { b: '1#c=2' }]);
    expect(name(p, 'a#b=1,c=2')).toEqual(['a', { b: '1', c: '2' }]);
    expect(name(new TagParser({ ...ALL, librato: false }), 'a#x,b=1')).toEqual(['a#x', { b: '1' }]);
  });
});
