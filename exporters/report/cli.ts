/**
 * `redline report`: the run's answer after (or during) any load test — the step table and the
 * verdict in the terminal, `--json` for scripts, `--out FILE.html` for a ticket, `--fail-on` for
 * CI and `--baseline` to compare two runs.
 */
import fs from 'node:fs';
import type { AnalysisSnapshot } from '../../analysis/stage.js';
import { reportJson, stepTable, verdictText, verdictTitle, type ReportJson } from '../../analysis/summary.js';
import { resourceDefinition } from '../../analysis/thresholds.js';
import { compare, comparisonText, readBaseline, type Comparison } from './baseline.js';
import { renderHtml } from './html.js';
import { fromAgent, fromPrometheus, parseTime } from './sources.js';

export const EXIT = { ok: 0, failOn: 1, usage: 2, source: 3 } as const;

export const REPORT_HELP = `usage: redline report [flags]

The answer of a load test: the ramp's steps, where throughput stopped following the load (the
knee), the first resource to saturate and whether it was the system under test or the injector.

Where the run comes from (one of):
  --agent URL          a running agent (default http://127.0.0.1:9102); it keeps the last two
                       hours in memory
  --prometheus URL     a Prometheus that scraped the agent, with
    --start T          start of the run: epoch seconds, RFC 3339 or now-30m
    --end T            end of the run (default now)
    --env E            only series with env="E"
    --run R            only series with run="R"
    --rate-window S    seconds of rate() windows (default 5; a few scrape intervals)

What to write:
  (default)            the step table and the verdict on stdout
  --json               {"verdict": {limit, group, resource, onset}, "knee": {step, load, throughput}, "steps": [...]}
  --out FILE.html      one self-contained HTML file (charts included; opens offline)
  --baseline FILE      a --json report of another run: both side by side, with the deltas
  --fail-on LIST       exit ${EXIT.failOn} when the verdict's limit is in LIST (sut, injector; comma-separated)

Exit codes: ${EXIT.ok} ok, ${EXIT.failOn} a --fail-on limit was hit, ${EXIT.usage} bad flags, ${EXIT.source} the run could not be read.
`;

export interface ReportOptions {
  agent: string;
  prometheus: string | null;
  start: number | null;
  end: number | null;
  env: string | undefined;
  run: string | undefined;
  rateWindowSeconds: number;
  json: boolean;
  out: string | null;
  baseline: string | null;
  failOn: Array<'sut' | 'injector'>;
}

const VALUE_FLAGS = ['agent', 'prometheus', 'start', 'end', 'env', 'run', 'rate-window', 'out', 'baseline', 'fail-on'];
const BOOL_FLAGS = ['json', 'help'];

export class UsageError extends Error {}

export function parseReportArgs(argv: readonly string[], nowMs = Date.now()): ReportOptions | 'help' {
  const v = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(a);
    if (!m) throw new UsageError(`unexpected argument ${JSON.stringify(a)}`);
    const name = m[1]!;
    if (BOOL_FLAGS.includes(name)) {
      if (m[2] !== undefined) throw new UsageError(`--${name} takes no value`);
      v.set(name, 'true');
    } else if (VALUE_FLAGS.includes(name)) {
      const value = m[2] ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      v.set(name, value);
    } else {
      throw new UsageError(`unknown flag --${name}`);
    }
  }
  if (v.has('help')) return 'help';
  const prometheus = v.get('prometheus') ?? null;
  if (prometheus !== null && v.has('agent')) throw new UsageError('give --agent or --prometheus, not both');
  for (const f of ['start', 'end', 'env', 'run', 'rate-window']) {
    if (prometheus === null && v.has(f)) throw new UsageError(`--${f} goes with --prometheus`);
  }
  const time = (f: string): number | null => {
    const s = v.get(f);
    if (s === undefined) return null;
    try {
      return parseTime(s, `--${f}`, nowMs);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  };
  const start = time('start');
  const end = prometheus !== null ? (time('end') ?? Math.round(nowMs / 1000)) : null;
  if (prometheus !== null && start === null) throw new UsageError('--prometheus needs --start (and --end, default now)');
  const rw = v.has('rate-window') ? Number(v.get('rate-window')) : 5;
  if (!(rw >= 1 && rw <= 3600)) throw new UsageError('--rate-window: seconds from 1 to 3600');
  const failOn = (v.get('fail-on') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const f of failOn) if (f !== 'sut' && f !== 'injector') throw new UsageError(`--fail-on: expected sut and/or injector, got ${JSON.stringify(f)}`);
  for (const u of [v.get('agent'), prometheus]) {
    if (u === undefined || u === null) continue;
    if (!/^https?:\/\/[^/]+/.test(u)) throw new UsageError(`${u}: expected an http:// or https:// URL`);
  }
  const out = v.get('out') ?? null;
  if (out !== null && !out.endsWith('.html') && !out.endsWith('.htm')) throw new UsageError('--out: the file name must end in .html');
  return {
    agent: v.get('agent') ?? 'http://127.0.0.1:9102',
    prometheus,
    start,
    end,
    env: v.get('env'),
    run: v.get('run'),
    rateWindowSeconds: rw,
    json: v.has('json'),
    out,
    baseline: v.get('baseline') ?? null,
    failOn: failOn as Array<'sut' | 'injector'>,
  };
}

/** Whether the verdict's limit is one `--fail-on` names. */
export function failed(limit: ReportJson['verdict']['limit'], failOn: ReadonlyArray<'sut' | 'injector'>): boolean {
  if (limit === 'none') return false;
  if (limit === 'both') return failOn.length > 0;
  return failOn.includes(limit);
}

export function terminalText(s: AnalysisSnapshot, source: string, cmp: Comparison | null): string {
  const lines: string[] = [];
  lines.push(`redline report: ${source}`);
  lines.push('');
  lines.push(s.steps.length ? stepTable(s.steps) : 'no ramp steps seen (no injector processes or active users in the range)');
  lines.push('');
  lines.push(`verdict: ${verdictTitle(s.verdict)}`);
  lines.push(verdictText(s.verdict, s.knee, s.steps));
  if (s.knee.reason) lines.push(`knee: step ${s.knee.step}: ${s.knee.reason}`);
  for (const c of s.verdict.crossings) {
    lines.push(`  ${c.role === 'sut' ? 'SUT' : 'INJECTOR'} ${c.group}: ${resourceDefinition(c.resource).title} saturated from ${new Date(c.onset * 1000).toISOString()} (settled ${Math.round(c.settled - c.onset)} s later at ${c.value.toFixed(2)}, threshold ${c.threshold})`);
  }
  if (cmp) {
    lines.push('');
    lines.push(comparisonText(cmp));
  }
  return lines.join('\n') + '\n';
}

export async function runReport(argv: readonly string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let opts: ReportOptions;
  try {
    const p = parseReportArgs(argv);
    if (p === 'help') {
      out.write(REPORT_HELP);
      return EXIT.ok;
    }
    opts = p;
  } catch (e) {
    err.write(`redline report: ${(e as Error).message} (see redline report --help)\n`);
    return EXIT.usage;
  }
  let baseline: ReportJson | null = null;
  if (opts.baseline !== null) {
    try {
      baseline = readBaseline(opts.baseline);
    } catch (e) {
      err.write(`redline report: ${(e as Error).message}\n`);
      return EXIT.usage;
    }
  }
  let snap: AnalysisSnapshot;
  let source: string;
  try {
    if (opts.prometheus !== null) {
      source = `Prometheus ${opts.prometheus}${opts.env ? ` env=${opts.env}` : ''}${opts.run ? ` run=${opts.run}` : ''}`;
      snap = await fromPrometheus({ url: opts.prometheus, start: opts.start!, end: opts.end!, env: opts.env, run: opts.run, rateWindowSeconds: opts.rateWindowSeconds });
    } else {
      source = `agent ${opts.agent}`;
      snap = await fromAgent(opts.agent);
    }
  } catch (e) {
    err.write(`redline report: ${(e as Error).message}\n`);
    return EXIT.source;
  }
  const json = reportJson(snap);
  const cmp = baseline ? compare(json, baseline) : null;
  if (opts.out !== null) {
    try {
      fs.writeFileSync(opts.out, renderHtml(snap, { source, baseline: cmp }));
    } catch (e) {
      err.write(`redline report: cannot write ${opts.out}: ${(e as Error).message}\n`);
      return EXIT.usage;
    }
  }
  if (opts.json) {
    out.write(JSON.stringify(cmp ? { ...json, baseline: { verdict: baseline!.verdict, knee: baseline!.knee }, deltas: cmp.deltas } : json, null, 2) + '\n');
  } else {
    out.write(terminalText(snap, source, cmp));
    if (opts.out !== null) out.write(`wrote ${opts.out}\n`);
  }
  return failed(json.verdict.limit, opts.failOn) ? EXIT.failOn : EXIT.ok;
}
