/**
 * Mapping cost on a cache miss (what a cardinality flood costs): Redline's glob index against a
 * rule-by-rule scan of the same rules (one anchored regex per glob, in file order, which is what
 * a straightforward mapper does), in the same process. Also the regex path with the README's
 * patterns (names that miss them all, and names that match one), against the engine Redline used
 * before re2js (each rule's pattern translated to one V8 RegExp, run for every name), and a
 * hostile 4,000-character name against both.
 *
 *   npm run build && flock /tmp/redline-bench.lock node dist/bench/mapper.js
 */
import os from 'node:os';
import { escapeMetricName } from '../core/labels.js';
import { Mapper, type StatsdKind } from '../collector/statsd/mapper.js';
import { translateRe2 } from '../collector/statsd/mapper/re2.js';
import { Template } from '../collector/statsd/mapper/template.js';
import { writeSection, machineLine } from './results.js';

const RULES = 1000;
const NAMES = 200_000;

function globRules(): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < RULES - 3; i++) {
    const svc = `svc${i % 250}`;
    switch (i % 4) {
      case 0:
        out.push(`${svc}.*.requests.*`);
        break;
      case 1:
        out.push(`${svc}.http.*.latency_ms`);
        break;
      case 2:
        out.push(`${svc}.db_*.*`);
        break;
      default:
        out.push(`${svc}.cache.*.*.hits`);
    }
  }
  out.push('*.*.*', '*.*.*.*', 'legacy.*.*.*.*');
  return out;
}

function names(): string[] {
  const out: string[] = [];
  let s = 12345;
  const r = (n: number) => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s % n;
  };
  for (let k = 0; k < NAMES; k++) {
    const svc = `svc${r(300)}`; // 50 of 300 services have no rule
    switch (r(5)) {
      case 0:
        out.push(`${svc}.web${k}.requests.${r(2) ? 'ok' : 'error'}`);
        break;
      case 1:
        out.push(`${svc}.http.route${k}.latency_ms`);
        break;
      case 2:
        out.push(`${svc}.db_query.host${k}`);
        break;
      case 3:
        out.push(`${svc}.cache.region${r(4)}.node${k}.hits`);
        break;
      default:
        out.push(`unmatched.${svc}.thing${k}.x.y.z`);
    }
  }
  return out;
}

/** The baseline: every glob as one regex, tried in file order. */
class LinearGlobs {
  private readonly res: RegExp[];
  constructor(globs: string[]) {
    this.res = globs.map((g) => new RegExp(`^${g.split('.').map((s) => s.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('([^.]*)')).join('\\.')}$`));
  }
  map(name: string): number {
    for (let i = 0; i < this.res.length; i++) if (this.res[i]!.exec(name) !== null) return i;
    return -1;
  }
}

function time(label: string, n: number, fn: () => void): number {
  fn(); // warm-up
  const t0 = process.hrtime.bigint();
  fn();
  const ns = Number(process.hrtime.bigint() - t0) / n;
  console.log(`${label}: ${ns.toFixed(0)} ns per name`);
  return ns;
}

const globs = globRules();
const yaml = 'mappings:\n' + globs.map((g, i) => `- match: "${g}"\n  name: "rule${i}_$1"\n  labels: {a: "$1", b: "$2"}\n`).join('');
const mapper = Mapper.fromYaml(yaml, 'bench.yml');
const linear = new LinearGlobs(globs);
const ns = names();
const kinds: StatsdKind[] = ['counter', 'gauge', 'observer'];

// Both must agree on which rule wins before their speed means anything.
for (let k = 0; k < 5000; k++) {
  const r = mapper.map(ns[k]!, 'counter');
  const i = linear.map(ns[k]!);
  const want = i === -1 ? null : `rule${i}_`;
  if ((r.matched ? r.name.slice(0, want?.length ?? 0) : null) !== want) throw new Error(`disagree on ${ns[k]}: ${r.name} vs rule${i}`);
}

let sink = 0;
const tIndex = time(`Redline glob index, ${RULES} rules`, ns.length, () => {
  for (let k = 0; k < ns.length; k++) sink += mapper.map(ns[k]!, kinds[k % 3]!).name.length;
});
const tLinear = time(`rule-by-rule regex scan, ${RULES} rules`, ns.length, () => {
  for (let k = 0; k < ns.length; k++) sink += linear.map(ns[k]!);
});

const REGEX_RULES: { match: string; name: string; labels: Record<string, string> }[] = [
  { match: '(.*)\\.(.*)--(.*)\\.status\\.(.*)\\.count', name: 'request_total', labels: { hostname: '$1', exec: '$2', protocol: '$3', code: '$4' } },
  { match: 'test\\.(\\w+)\\.(\\w+)\\.counter', name: '${2}_total', labels: { provider: '$1' } },
  { match: '^(?P<svc>[a-z]+)\\.(?P<code>\\d{3})$', name: '${svc}_responses', labels: {} },
];
const regexYaml =
  'mappings:\n' +
  REGEX_RULES.map((r) => `- match: '${r.match}'\n  match_type: regex\n  name: "${r.name}"\n  labels: {${Object.entries(r.labels).map(([k, v]) => `${k}: "${v}"`).join(', ')}}\n`).join('');

/** The engine before re2js: every rule's translated RegExp, exec'd in file order, then the same templates. */
class V8Regexes {
  private readonly rules = REGEX_RULES.map((r) => {
    const t = translateRe2(r.match);
    return { re: new RegExp(t.source, t.flags), name: Template.parse(r.name), labels: Object.entries(r.labels).map(([k, v]) => [k, Template.parse(v)] as const) };
  });
  map(name: string): string {
    for (const r of this.rules) {
      const m = r.re.exec(name);
      if (m === null) continue;
      const labels: Record<string, string> = {};
      for (const [k, t] of r.labels) labels[k] = t.expand(m, m.groups);
      return escapeMetricName(r.name.expand(m, m.groups));
    }
    return escapeMetricName(name);
  }
}

const rx = Mapper.fromYaml(regexYaml, 'bench-regex.yml');
const v8rx = new V8Regexes();
const rxMiss = ns.slice(0, 50_000);
const rxHit: string[] = [];
for (let k = 0; k < 50_000; k++) {
  switch (k % 3) {
    case 0:
      rxHit.push(`host${k}.exec${k % 7}--http.status.${200 + (k % 5)}.count`);
      break;
    case 1:
      rxHit.push(`test.prov${k}.metric${k % 9}.counter`);
      break;
    default:
      rxHit.push(`${'abcdefghij'[k % 10]!.repeat(1 + (k % 6))}svc${'abcdefghij'[(k >> 3) % 10]}.${200 + (k % 300)}`);
  }
}
for (const list of [rxMiss, rxHit]) {
  for (let k = 0; k < 3000; k++) {
    const a = rx.map(list[k]!, 'counter').name;
    const b = v8rx.map(list[k]!);
    if (a !== b) throw new Error(`engines disagree on ${list[k]}: ${a} vs ${b}`);
  }
}
const tRegexMiss = time('Redline, 3 README regex rules, names that miss them all', rxMiss.length, () => {
  for (let k = 0; k < rxMiss.length; k++) sink += rx.map(rxMiss[k]!, 'counter').name.length;
});
const tV8Miss = time('V8 RegExp engine (before), same names', rxMiss.length, () => {
  for (let k = 0; k < rxMiss.length; k++) sink += v8rx.map(rxMiss[k]!).length;
});
const tRegexHit = time('Redline, 3 README regex rules, names that match one', rxHit.length, () => {
  for (let k = 0; k < rxHit.length; k++) sink += rx.map(rxHit[k]!, 'counter').name.length;
});
const tV8Hit = time('V8 RegExp engine (before), same names', rxHit.length, () => {
  for (let k = 0; k < rxHit.length; k++) sink += v8rx.map(rxHit[k]!).length;
});
const hostile = 'x.'.repeat(2000) + '--' + '.status.'.repeat(3);
const hostileTimes = [() => rx.map(hostile, 'counter'), () => v8rx.map(hostile)].map((f) => {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
});
const [hostileMs, hostileV8Ms] = hostileTimes as [number, number];
console.log(`hostile 4,000-character name against them: Redline ${hostileMs.toFixed(2)} ms, V8 RegExp engine ${hostileV8Ms.toFixed(1)} ms`);
if (sink === 42) console.log('');
const load = os.loadavg().map((l) => l.toFixed(2)).join(', ');

writeSection(
  'Mapper (cache misses)',
  [
    'Command: `npm run build && flock /tmp/redline-bench.lock node dist/bench/mapper.js`.',
    `Machine: ${machineLine()}. Run: ${new Date().toISOString()}; load average at the end ${load}.`,
    '',
    `${NAMES.toLocaleString('en-US')} distinct names (a cardinality flood: every one a cache miss), 5 shapes, 1 in 5 unmatched.`,
    '',
    '| mapper | rules | ns per name | × Redline |',
    '|---|---|---|---|',
    `| Redline glob index (segment trie) | ${RULES} globs | ${tIndex.toFixed(0)} | 1.00 |`,
    `| rule-by-rule regex scan, file order (same rules) | ${RULES} globs | ${tLinear.toFixed(0)} | ${(tLinear / tIndex).toFixed(1)} |`,
    '',
    'Regex rules (the README\'s three), Redline (re2js decides the match in linear time; captures of names up to 256 characters from V8\'s RegExp) against the engine it used before (each rule\'s translated V8 RegExp run on every name), same process:',
    '',
    '| names | Redline ns per name | V8 RegExp engine (before) ns per name | Redline / before |',
    '|---|---|---|---|',
    `| 50,000 that miss all three | ${tRegexMiss.toFixed(0)} | ${tV8Miss.toFixed(0)} | ${(tRegexMiss / tV8Miss).toFixed(2)} |`,
    `| 50,000 that match one (captures into labels) | ${tRegexHit.toFixed(0)} | ${tV8Hit.toFixed(0)} | ${(tRegexHit / tV8Hit).toFixed(2)} |`,
    `| one hostile 4,000-character name (\`x.\` × 2,000 + \`--\` + \`.status.\` × 3) | ${(hostileMs * 1e6).toFixed(0)} | ${(hostileV8Ms * 1e6).toFixed(0)} | ${(hostileMs / hostileV8Ms).toFixed(3)} |`,
  ].join('\n'),
);
