import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseExposition, sum, max } from './scrape.js';
import { DEFAULTS, DEMO_HELP, parseDemoArgs, profileFor, progressLine } from './run.js';
import type { Step } from '../analysis/steps.js';
import { parseFlags, numberFlag } from './flags.js';

const before = parseExposition(`# HELP x y
# TYPE loadtest_requests_total counter
loadtest_requests_total{scenario="demo",step="login",status="200"} 10
loadtest_requests_total{scenario="demo",step="work",status="200"} 5
lat_bucket{step="a",le="0.1"} 0
lat_bucket{step="a",le="1"} 0
lat_bucket{step="a",le="+Inf"} 0
g{group="demo-sut",quote="a\\"b"} 0.5
g{group="other"} 2
`);
const after = parseExposition(`loadtest_requests_total{scenario="demo",step="login",status="200"} 25
loadtest_requests_total{scenario="demo",step="work",status="200"} 3
loadtest_requests_total{scenario="demo",step="logout",status="200"} 4
lat_bucket{step="a",le="0.1"} 50
lat_bucket{step="a",le="1"} 90
lat_bucket{step="a",le="+Inf"} 100
lat_bucket{step="b",le="0.1"} 0
lat_bucket{step="b",le="1"} 10
lat_bucket{step="b",le="+Inf"} 10
bad line without value
NaNvalue{a="b"} x
`);

describe('scrape', () => {
  it('parses names, labels (with escapes) and values', () => {
    expect(max(before, 'g', { group: 'demo-sut' })).toBe(0.5);
    expect(before.get('g')![0]!.labels['quote']).toBe('a"b');
    expect(sum(before, 'g')).toBe(2.5);
    expect(max(before, 'g', { group: /^nope$/ })).toBeNull();
    expect(after.has('bad')).toBe(false);
  });
});

describe('flags and profiles', () => {
  it('parses the demo flags in both forms, with defaults', () => {
    expect(parseDemoArgs([])).toMatchObject({ steps: 6, stepSeconds: 10, rate: 20, bottleneck: 'cpu', json: false, keep: false, port: 0 });
    expect(parseDemoArgs(['--keep'])).toMatchObject({ keep: true });
    expect(() => parseDemoArgs(['--keep=yes'])).toThrow(/--keep takes no value/);
    expect(parseDemoArgs(['--steps', '3', '--step-seconds=2.5', '--rate=7', '--bottleneck', 'fds', '--json'])).toMatchObject({
      steps: 3,
      stepSeconds: 2.5,
      rate: 7,
      bottleneck: 'fds',
      json: true,
    });
    expect(parseDemoArgs(['--help'])).toBe('help');
    expect(parseDemoArgs(['-h'])).toBe('help');
  });

  it('refuses bad values naming the flag', () => {
    expect(() => parseDemoArgs(['--bottleneck=disk'])).toThrow(/--bottleneck: expected one of cpu, fds, backlog, injector/);
    expect(() => parseDemoArgs(['--steps=0'])).toThrow(/--steps/);
    expect(() => parseDemoArgs(['--steps=2.5'])).toThrow(/--steps: expected an integer/);
    expect(() => parseDemoArgs(['--rate=abc'])).toThrow(/--rate/);
    expect(() => parseDemoArgs(['--port=70000'])).toThrow(/--port/);
    expect(() => parseDemoArgs(['--frobnicate'])).toThrow(/unknown flag --frobnicate/);
    expect(() => parseDemoArgs(['stray'])).toThrow(/unexpected argument/);
    expect(() => numberFlag(parseFlags(['--x='], ['x']), 'x', 1, 0, 2)).toThrow(/--x/);
  });

  it('aims each bottleneck at the middle of the ramp', () => {
    // cpu: at step 2.4 of 4 the main thread needs a whole core; steps 3 and 4 ask for more
    const cpu = profileFor('cpu', 20, 4);
    expect(2.4 * 20 * cpu.loginMs).toBeCloseTo(1000, 6);
    // fds: 2 fds per held request reach 80% of the limit at step 2.4 of 4
    const fds = profileFor('fds', 20, 4);
    expect(fds.fdLimit).toBe(128);
    expect(22 + 2.4 * 20 * (fds.holdMs / 1000) * 2).toBeCloseTo(0.8 * 128, 6);
    // backlog: waves of k * rate users; the backlog sits below the wave at step 2.4
    const backlog = profileFor('backlog', 20, 4);
    expect(backlog.arrivals).toBe('wave');
    expect(backlog.backlog).toBe(38);
    // injector: ~1.3 cores of work per injector process
    const inj = profileFor('injector', 20, 4);
    expect(inj.injectorBurnMs * 20 * 3).toBeCloseTo(1300, 6);
  });
});

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('what the demo prints', () => {
  const step = (load: number): Step => ({
    step: load,
    load,
    loadKind: 'injector_processes',
    injectorProcesses: load,
    activeUsers: null,
    start: 0,
    end: 10,
    measuredFrom: 2,
    offeredRps: 60 * load,
    achievedRps: 59.5 * load,
    errorRatio: 0,
    latencyP50Seconds: 0.002,
    latencyP95Seconds: 0.044,
    latencyP99Seconds: 0.05,
    hostCpu: 0.45,
    saturation: [
      { group: 'demo-sut', role: 'sut', resource: 'cpu_thread', mean: 0.46, peak: 0.5, saturated: false },
      { group: 'demo-sut', role: 'sut', resource: 'eventloop_utilization', mean: 0.95, peak: 1, saturated: load > 1 },
    ],
  });

  it("one line per step from the agent's analysis: host CPU next to the SUT's, one process in the singular", () => {
    expect(progressLine(step(1))).toBe('step 1: 1 injector process, offered 60.0/s, achieved 59.5/s, p95 44 ms, host CPU 45%, SUT CPU 46%');
    expect(progressLine(step(2))).toBe('step 2: 2 injector processes, offered 120.0/s, achieved 119.0/s, p95 44 ms, host CPU 45%, SUT CPU 46%; saturated: demo-sut/eventloop_utilization');
  });

  it("docs/demo.md's flag list is the one --help prints", () => {
    const lines = DEMO_HELP.split('\n');
    const flags = lines.slice(lines.findIndex((l) => l.startsWith('  --')), lines.findIndex((l) => l.startsWith('  --help'))).map((l) => l.slice(2));
    expect(flags.length).toBeGreaterThan(8);
    const doc = fs.readFileSync(path.join(ROOT, 'docs', 'demo.md'), 'utf8');
    const block = /## Flags\n[\s\S]*?```\n([\s\S]*?)\n```/.exec(doc)?.[1];
    expect(block, 'docs/demo.md: a fenced block under "## Flags"').toBeDefined();
    expect(block!.split('\n')).toEqual(flags);
  });

  it('states one run length: docs/demo.md and --help say the defaults, the README links to them', () => {
    const fact = `${DEFAULTS.steps} steps of ${DEFAULTS.stepSeconds} s`;
    const doc = fs.readFileSync(path.join(ROOT, 'docs', 'demo.md'), 'utf8');
    expect(doc).toContain(fact);
    expect(DEMO_HELP.replace(/\s+/g, ' ')).toContain(`the ramp takes steps x step-seconds (${fact} with the defaults)`.replace(/^t/, 'T'));
    expect(DEMO_HELP).toContain(`(default ${DEFAULTS.steps}, max 20)`);
    expect(DEMO_HELP).toContain(`(default ${DEFAULTS.stepSeconds}, 2 to 300)`);
    // The README states no length of its own (no "1-minute", "two minutes" …): it links the page.
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const quick = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Architecture'));
    expect(quick).toContain('docs/demo.md');
    expect(quick).not.toMatch(/\b(\d+|one|two|three)[- ](second|minute)s?\b/i);
  });
});
