/**
 * `redline demo`: a ramp test anyone can run. Starts the agent, the demo service (probed) and one
 * more injector process per step; the agent's analysis stage measures the ramp, and at the end
 * the demo prints what `redline report` prints: the step table, the knee, the first resource to
 * saturate and whether it was the service or the injector. The demo keeps no analysis of its
 * own: it reads the agent's (`/api/v1/analysis`), so the demo, the report, the live view and
 * /metrics give one answer.
 *
 * Safe by construction: 127.0.0.1 only, free ports unless told otherwise, bounded in time (but
 * for `--keep`, which waits for Ctrl-C), every child stopped by its pid (also on SIGINT, SIGTERM
 * and on any failure).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnalysisSnapshot } from '../analysis/stage.js';
import type { Step } from '../analysis/steps.js';
import { fmtSeconds } from '../analysis/steps.js';
import { loadText, reportJson, sutReading, type ReportJson } from '../analysis/summary.js';
import { RESOURCES } from '../analysis/thresholds.js';
import { probePath } from '../collector/probe/path.js';
import { terminalText } from '../exporters/report/cli.js';
import { fromAgent } from '../exporters/report/sources.js';
import { parseFlags, numberFlag } from './flags.js';
import { REQUESTS_PER_SCENARIO } from './injector.js';
import { parseExposition, sum, max, type Scrape } from './scrape.js';

export const BOTTLENECKS = ['cpu', 'fds', 'backlog', 'injector'] as const;
export type Bottleneck = (typeof BOTTLENECKS)[number];

export const SUT_GROUP = 'demo-sut';
export const INJECTOR_GROUP = 'demo-injector';

/** The defaults, and so the run length docs/demo.md states (a test holds them together). */
export const DEFAULTS = { steps: 6, stepSeconds: 10, rate: 20 } as const;

export interface DemoOptions {
  steps: number;
  stepSeconds: number;
  rate: number;
  bottleneck: Bottleneck;
  json: boolean;
  keep: boolean;
  port: number;
  statsdPort: number;
  sutPort: number;
}

/** The demo service's costs, chosen so that the requested bottleneck gives out about 60% into the ramp. */
export interface Profile {
  loginMs: number;
  holdMs: number;
  backlog: number;
  fdLimit: number | null;
  arrivals: 'uniform' | 'wave';
  injectorBurnMs: number;
}

export function profileFor(b: Bottleneck, rate: number, steps: number): Profile {
  // The step at which the chosen resource should run out.
  const target = Math.max(1.5, steps * 0.6);
  switch (b) {
    case 'cpu':
      // One login per scenario: the main thread is busy k * rate * loginMs per second at step k,
      // a core's worth at the target step. The steps after it ask for more than a core, long
      // enough for the verdict to settle (VERDICT_TIMING) and for the knee to show; on a busy
      // machine the service gets less than a core and gives out earlier.
      return { loginMs: 1000 / (rate * target), holdMs: 0, backlog: 128, fdLimit: null, arrivals: 'uniform', injectorBurnMs: 0 };
    case 'fds': {
      // /work holds a socket and a file: 2 fds per request in flight; rate * hold requests in flight per injector.
      const fdLimit = 128;
      // What the idle service holds: stdio, the event loop's fds, the probe's socket.
      const base = 22;
      const holdMs = Math.max(100, ((0.8 * fdLimit - base) / (2 * rate * target)) * 1000);
      return { loginMs: 0.2, holdMs, backlog: 128, fdLimit, arrivals: 'uniform', injectorBurnMs: 0 };
    }
    case 'backlog':
      // Users arrive in waves (k * rate at each second). While the service hashes the wave's
      // logins, the users already served come back on new connections and wait in the accept
      // queue, which overflows once a wave is larger than the backlog.
      return { loginMs: 0.3, holdMs: 0, backlog: Math.max(2, Math.round(rate * (target - 0.5))), fdLimit: null, arrivals: 'wave', injectorBurnMs: 0 };
    case 'injector':
      // Each injector spends ~1.3 cores' worth of CPU per second on its own requests: it cannot.
      return { loginMs: 0.2, holdMs: 0, backlog: 128, fdLimit: null, arrivals: 'uniform', injectorBurnMs: 1300 / (rate * REQUESTS_PER_SCENARIO) };
  }
}

/** What `redline demo --json` prints: the report's JSON, and how the demo ran. */
export interface DemoJson extends ReportJson {
  demo: {
    bottleneck: Bottleneck;
    rate_per_injector: number;
    step_seconds: number;
    profile: Profile;
    agent_url: string;
    live_url: string;
    /** Every resource that saturated during the run, in the order of their onsets. */
    saturated: Array<{ role: 'sut' | 'injector'; group: string; resource: string; onset: string }>;
  };
}

export const DEMO_HELP = `usage: redline demo [flags]

A short ramp test on this machine: the agent, a demo service and one more injector process per
step. The agent's analysis measures the ramp; at the end the demo prints what redline report
prints: the step table, where throughput stopped following the load (the knee), and the first
resource to saturate, of the service or of the injector. While it runs, the agent's live view
is at the URL it prints.

  --bottleneck=cpu|fds|backlog|injector  what gives out first (default cpu):
                          cpu       password hashing on the service's main thread
                          fds       requests holding sockets and files under a 128-fd limit
                          backlog   waves of users overflow a modest listen backlog
                          injector  the injectors burn CPU per request and saturate first
  --steps=N               injector processes to ramp up to, one per step (default ${DEFAULTS.steps}, max 20)
  --step-seconds=S        length of each step (default ${DEFAULTS.stepSeconds}, 2 to 300)
  --rate=R                scenarios per second started by each injector (default ${DEFAULTS.rate}); a
                          scenario is log in, do something, log out (3 requests)
  --json                  print the report's JSON (verdict, knee, steps) and how the demo ran
  --keep                  after the ramp, keep the agent (and its live view) up until Ctrl-C
  --port=P                the agent's HTTP port (/metrics, the live view) on 127.0.0.1 (default: any free port)
  --statsd-port=P         the agent's statsd UDP port on 127.0.0.1 (default: any free port)
  --sut-port=P            the demo service's port on 127.0.0.1 (default: any free port)
  --help                  this text

The ramp takes steps x step-seconds (${DEFAULTS.steps} steps of ${DEFAULTS.stepSeconds} s with the defaults) plus a few
seconds to start. Everything listens on 127.0.0.1 only; every process it started is stopped at
the end, also on Ctrl-C.
`;

export function parseDemoArgs(argv: string[]): DemoOptions | 'help' {
  const flags = parseFlags(argv, ['steps', 'step-seconds', 'rate', 'bottleneck', 'json', 'keep', 'port', 'statsd-port', 'sut-port', 'help'], ['json', 'keep', 'help']);
  if (flags.has('help')) return 'help';
  const b = flags.get('bottleneck') ?? 'cpu';
  if (!(BOTTLENECKS as readonly string[]).includes(b)) throw new Error(`--bottleneck: expected one of ${BOTTLENECKS.join(', ')}, got ${JSON.stringify(b)}`);
  const bool = (name: string): boolean => {
    const v = flags.get(name);
    if (v !== undefined && v !== 'true' && v !== 'false') throw new Error(`--${name} takes no value`);
    return v === 'true';
  };
  return {
    steps: numberFlag(flags, 'steps', DEFAULTS.steps, 1, 20, true),
    stepSeconds: numberFlag(flags, 'step-seconds', DEFAULTS.stepSeconds, 2, 300),
    rate: numberFlag(flags, 'rate', DEFAULTS.rate, 1, 500),
    bottleneck: b as Bottleneck,
    json: bool('json'),
    keep: bool('keep'),
    port: numberFlag(flags, 'port', 0, 0, 65535, true),
    statsdPort: numberFlag(flags, 'statsd-port', 0, 0, 65535, true),
    sutPort: numberFlag(flags, 'sut-port', 0, 0, 65535, true),
  };
}

/** The package root: the nearest directory upwards holding bin/redline.js. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'bin', 'redline.js')) && fs.existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the redline package root (bin/redline.js)');
}

class PortTaken extends Error {}

async function checkTcpFree(port: number, what: string, flag: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new PortTaken(`${what}: 127.0.0.1:${port} is already in use (another redline agent or demo?). Pass another ${flag}, or ${flag}=0 for any free port.`) : err),
    );
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve()));
  });
}

async function checkUdpFree(port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new PortTaken(`statsd: 127.0.0.1:${port}/udp is already in use (another statsd server?). Pass another --statsd-port, or --statsd-port=0 for any free port.`) : err),
    );
    s.bind({ address: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve()));
  });
}

/** The processes the demo started; stopped by pid, TERM then KILL after a grace period. */
class Children {
  private readonly list: Array<{ name: string; child: ChildProcess }> = [];

  add(name: string, child: ChildProcess): void {
    this.list.push({ name, child });
  }

  get count(): number {
    return this.list.filter((c) => c.child.exitCode === null && c.child.signalCode === null).length;
  }

  async stop(name?: string, graceMs = 3000): Promise<void> {
    const targets = this.list.filter((c) => (name === undefined || c.name === name) && c.child.pid !== undefined);
    await Promise.all(
      targets.map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const kill = setTimeout(() => {
              try {
                process.kill(child.pid!, 'SIGKILL');
              } catch {
                // Already gone.
              }
            }, graceMs);
            child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            try {
              process.kill(child.pid!, 'SIGTERM');
            } catch {
              clearTimeout(kill);
              resolve();
            }
          }),
      ),
    );
  }
}

function waitForLine(child: ChildProcess, stream: 'stdout' | 'stderr', test: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let all = '';
    const s = child[stream]!;
    s.setEncoding('utf8');
    const timer = setTimeout(() => finish(new Error(`${what} did not start within ${timeoutMs / 1000} s${all ? `:\n${all.slice(-2000)}` : ''}`)), timeoutMs);
    const onData = (d: string): void => {
      buf += d;
      all += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (test(line)) return finish(null, line);
      }
    };
    const onExit = (code: number | null): void => finish(new Error(`${what} exited (${code}) before it was ready${all ? `:\n${all.slice(-2000)}` : ''}`));
    const finish = (err: Error | null, line?: string): void => {
      clearTimeout(timer);
      s.off('data', onData);
      child.off('exit', onExit);
      // Keep draining so a chatty child never blocks on a full pipe.
      s.resume();
      if (err) reject(err);
      else resolve(line!);
    };
    s.on('data', onData);
    child.once('exit', onExit);
  });
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = (): void => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

async function scrape(url: string): Promise<Scrape | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) return null;
    return parseExposition(await res.text());
  } catch {
    return null;
  }
}

const SUT = { group: SUT_GROUP };
const INJ = { group: INJECTOR_GROUP };
const SUT_PROBE = { role: 'sut', service: SUT_GROUP };

/** Polls /metrics until `ok` holds (bounded in time; false when it never did or the run was aborted). */
async function until(url: string, ok: (s: Scrape) => boolean, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!signal.aborted && Date.now() < deadline) {
    const s = await scrape(url);
    if (s && ok(s)) return true;
    await sleep(200, signal);
  }
  return false;
}

const pct = (v: number | null): string => (v === null ? '-' : `${(v * 100).toFixed(0)}%`);

/** One line per finished step, from the agent's analysis (the full table follows at the end). */
export function progressLine(s: Step): string {
  const saturated = s.saturation.filter((x) => x.saturated).map((x) => `${x.group}/${x.resource}`);
  return [
    `step ${s.step}: ${loadText(s)}`,
    `offered ${s.offeredRps === null ? '-' : s.offeredRps.toFixed(1)}/s`,
    `achieved ${s.achievedRps.toFixed(1)}/s`,
    `p95 ${fmtSeconds(s.latencyP95Seconds)}`,
    `host CPU ${pct(s.hostCpu)}`,
    `SUT CPU ${pct(sutReading(s, RESOURCES.cpu_thread.resource, 'mean'))}`,
  ].join(', ') + (saturated.length ? `; saturated: ${saturated.join(', ')}` : '');
}

export async function runDemo(argv: string[]): Promise<number> {
  let opts: DemoOptions;
  try {
    const parsed = parseDemoArgs(argv);
    if (parsed === 'help') {
      process.stdout.write(DEMO_HELP);
      return 0;
    }
    opts = parsed;
  } catch (err) {
    process.stderr.write(`redline demo: ${(err as Error).message} (see redline demo --help)\n`);
    return 2;
  }
  const say = (msg: string): void => {
    if (!opts.json) process.stdout.write(msg + '\n');
  };

  let root: string;
  try {
    root = packageRoot();
  } catch (err) {
    process.stderr.write(`redline demo: ${(err as Error).message}\n`);
    return 1;
  }
  const demoDir = path.join(root, 'dist', 'demo');
  const files = { bin: path.join(root, 'bin', 'redline.js'), sut: path.join(demoDir, 'sut.js'), injector: path.join(demoDir, 'injector.js'), probe: probePath() };
  for (const [k, f] of Object.entries(files)) {
    if (!fs.existsSync(f)) {
      process.stderr.write(`redline demo: ${k} not found at ${f}; build first (npm run build)\n`);
      return 1;
    }
  }
  try {
    await checkTcpFree(opts.port, 'agent HTTP', '--port');
    await checkUdpFree(opts.statsdPort);
    await checkTcpFree(opts.sutPort, 'demo service', '--sut-port');
  } catch (err) {
    process.stderr.write(`redline demo: ${(err as Error).message}\n`);
    return 2;
  }

  const profile = profileFor(opts.bottleneck, opts.rate, opts.steps);
  // A token in every child's command line: the agent's process groups match only this run's.
  const runId = crypto.randomBytes(4).toString('hex');
  const children = new Children();
  const abort = new AbortController();
  // Each step waits (bounded) for the agent to count its injector before its clock starts.
  const COUNT_WAIT_MS = 15_000;
  const budgetSeconds = Math.ceil(opts.steps * (opts.stepSeconds + COUNT_WAIT_MS / 1000) + 60);
  const deadline = setTimeout(() => abort.abort(new Error(`the run exceeded its ${budgetSeconds} s budget`)), budgetSeconds * 1000);
  deadline.unref();
  let phase: 'ramp' | 'kept' = 'ramp';
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    abort.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    // 1. the agent
    // The agent has no lifetime flag of its own: coreutils' timeout(1), where there is one,
    // bounds it in case the demo itself is killed with SIGKILL (it forwards SIGTERM to the
    // agent). With --keep the agent lives until the demo is stopped, so it has no such bound.
    const timeoutBin = opts.keep ? undefined : ['/usr/bin/timeout', '/bin/timeout'].find((f) => fs.existsSync(f));
    const agentCmd = timeoutBin ? [timeoutBin, `${budgetSeconds + 30}`, process.execPath] : [process.execPath];
    const agent = spawn(
      agentCmd[0]!,
      [
        ...agentCmd.slice(1),
        files.bin,
        `--statsd.listen-udp=127.0.0.1:${opts.statsdPort}`,
        '--statsd.listen-tcp=',
        `--web.listen-address=127.0.0.1:${opts.port}`,
        // [.] rather than \. so that the agent's own command line (which holds these patterns) never matches them.
        `--sut=${SUT_GROUP}=demo/sut[.]js .*--run-id=${runId}`,
        `--injector=${INJECTOR_GROUP}=demo/injector[.]js .*--run-id=${runId}`,
        '--preset=loadtest',
      ],
      { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    children.add('agent', agent);
    let agentLine: string;
    try {
      agentLine = await waitForLine(agent, 'stderr', (l) => l.includes('redline agent started'), 15_000, 'the agent');
    } catch (err) {
      const msg = (err as Error).message;
      if (/EADDRINUSE|in use/i.test(msg)) throw new PortTaken(`the agent could not listen: a port is already in use. ${msg}`);
      throw err;
    }
    const field = (k: string): number => Number(new RegExp(`${k}=(\\d+)`).exec(agentLine)?.[1] ?? NaN);
    const httpPort = field('http_port');
    const udpPort = field('udp_port');
    if (!Number.isInteger(httpPort) || !Number.isInteger(udpPort)) throw new Error(`cannot read the agent's ports from: ${agentLine}`);
    const agentUrl = `http://127.0.0.1:${httpPort}`;
    const metricsUrl = `${agentUrl}/metrics`;
    const liveUrl = `http://localhost:${httpPort}/`;
    const statsdAddr = `127.0.0.1:${udpPort}`;

    // 2. the service, probed
    const serviceSeconds = opts.keep ? 24 * 3600 : budgetSeconds + 30;
    const sutArgs = [
      '--require',
      files.probe,
      files.sut,
      `--port=${opts.sutPort}`,
      `--login-ms=${profile.loginMs.toFixed(3)}`,
      `--hold-ms=${Math.round(profile.holdMs)}`,
      `--backlog=${profile.backlog}`,
      `--max-seconds=${serviceSeconds}`,
      `--run-id=${runId}`,
    ];
    const probeEnv = (service: string, role: string): NodeJS.ProcessEnv => ({
      ...process.env,
      NODE_OPTIONS: '',
      REDLINE_STATSD: statsdAddr,
      REDLINE_SERVICE: service,
      REDLINE_ROLE: role,
      REDLINE_PROBE_INTERVAL_MS: '1000',
    });
    const sut =
      profile.fdLimit !== null
        ? // A modest fd limit, as a container or systemd unit would set; exec keeps the pid.
          spawn('/bin/sh', ['-c', `ulimit -n ${profile.fdLimit} && exec "$0" "$@"`, process.execPath, ...sutArgs], { cwd: root, env: probeEnv(SUT_GROUP, 'sut'), stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(process.execPath, sutArgs, { cwd: root, env: probeEnv(SUT_GROUP, 'sut'), stdio: ['ignore', 'pipe', 'pipe'] });
    children.add('sut', sut);
    sut.stderr!.resume();
    const sutLine = await waitForLine(sut, 'stdout', (l) => l.startsWith('{'), 15_000, 'the demo service');
    const sutPort = (JSON.parse(sutLine) as { port: number }).port;
    const target = `http://127.0.0.1:${sutPort}`;

    say(`redline demo: bottleneck=${opts.bottleneck}, ${opts.steps} ${opts.steps === 1 ? 'step' : 'steps'} of ${opts.stepSeconds} s, ${opts.rate} scenarios/s per injector process`);
    say(`  live view  ${liveUrl}  (open it in a browser to watch the ramp)`);
    say(`  agent      ${metricsUrl}  (statsd ${statsdAddr}/udp)`);
    say(`  service    ${target}  (login ${profile.loginMs.toFixed(1)} ms CPU, /work holds ${Math.round(profile.holdMs)} ms, backlog ${profile.backlog}${profile.fdLimit !== null ? `, fd limit ${profile.fdLimit}` : ''})`);
    say('');

    // Wait until the agent sees the service's process group and its probe (bounded).
    const seen = await until(metricsUrl, (s) => sum(s, 'redline_process_count', SUT) >= 1 && max(s, 'redline_nodejs_eventloop_utilization', SUT_PROBE) !== null, 15_000, abort.signal);
    if (!seen && !abort.signal.aborted) throw new Error(`the agent at ${metricsUrl} did not see the demo service and its probe within 15 s`);

    for (let step = 1; step <= opts.steps && !abort.signal.aborted; step++) {
      const inj = spawn(
        process.execPath,
        [
          '--require',
          files.probe,
          files.injector,
          `--target=${target}`,
          `--rate=${opts.rate}`,
          `--statsd=${statsdAddr}`,
          `--arrivals=${profile.arrivals}`,
          `--burn-ms=${profile.injectorBurnMs.toFixed(3)}`,
          `--max-seconds=${budgetSeconds + 30}`,
          `--run-id=${runId}`,
        ],
        { cwd: root, env: probeEnv(INJECTOR_GROUP, 'injector'), stdio: ['ignore', 'ignore', 'pipe'] },
      );
      children.add('injector', inj);
      inj.stderr!.resume();
      // The agent's steps are runs of the same injector-process count: the step's clock starts
      // once the host collector counts the new process, so a step is as long on a busy machine
      // as on an idle one.
      await until(metricsUrl, (s) => (max(s, 'redline_injector_processes', INJ) ?? 0) >= step, COUNT_WAIT_MS, abort.signal);
      await sleep(opts.stepSeconds * 1000, abort.signal);
      if (abort.signal.aborted) break;
      if (!opts.json) {
        const snap = await fromAgent(agentUrl).catch(() => null);
        const last = snap?.steps.filter((s) => s.load === step).pop();
        if (last) say(progressLine(last));
      }
    }
    if (abort.signal.aborted) throw abort.signal.reason instanceof Error ? abort.signal.reason : new Error('aborted');

    // The answer, read while the last step's injectors still run.
    const snap: AnalysisSnapshot = await fromAgent(agentUrl);
    clearTimeout(deadline);
    await children.stop('injector');
    if (opts.json) {
      const out: DemoJson = {
        ...reportJson(snap),
        demo: {
          bottleneck: opts.bottleneck,
          rate_per_injector: opts.rate,
          step_seconds: opts.stepSeconds,
          profile,
          agent_url: agentUrl,
          live_url: liveUrl,
          saturated: snap.verdict.crossings.map((c) => ({ role: c.role, group: c.group, resource: c.resource, onset: new Date(c.onset * 1000).toISOString() })),
        },
      };
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    } else {
      say('');
      say(terminalText(snap, `agent ${agentUrl}`, null).trimEnd());
    }
    if (opts.keep) {
      phase = 'kept';
      await children.stop('sut');
      say('');
      say(`The ramp is over; the agent keeps its history: ${liveUrl} (live view), \`npx redline report --agent ${agentUrl} --out report.html\`.`);
      say('Ctrl-C stops it.');
      await new Promise<void>((resolve) => {
        if (abort.signal.aborted) return resolve();
        abort.signal.addEventListener('abort', () => resolve(), { once: true });
        // The agent going away ends the wait too.
        agent.once('exit', () => resolve());
      });
    }
    return 0;
  } catch (err) {
    if (interrupted) {
      process.stderr.write('redline demo: interrupted; stopping everything it started\n');
      return 130;
    }
    process.stderr.write(`redline demo: ${(err as Error).message}\n`);
    return err instanceof PortTaken ? 2 : 1;
  } finally {
    clearTimeout(deadline);
    if (phase === 'kept' && interrupted) process.stderr.write('redline demo: stopping the agent\n');
    await children.stop('injector');
    await children.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
