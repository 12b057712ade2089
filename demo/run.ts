/**
 * `redline demo`: a ramp test anyone can run. Starts the agent, the demo service (probed) and one
 * more injector process per step, scrapes the agent every second, prints one line per step and
 * then says at which step throughput stopped following the load and which saturation signal
 * crossed its threshold first — of the system under test, or of the injector.
 *
 * Safe by construction: 127.0.0.1 only, free ports unless told otherwise, bounded in time, every
 * child stopped by its pid (also on SIGINT and on any failure).
 */
import { LIMITS } from '../analysis/thresholds.js';
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { probePath } from '../collector/probe/path.js';
import { parseFlags, numberFlag } from './flags.js';
import { REQUESTS_PER_SCENARIO } from './injector.js';
import { parseExposition, sum, max, increase, bucketIncrease, quantile, type Scrape } from './scrape.js';

export const BOTTLENECKS = ['cpu', 'fds', 'backlog', 'injector'] as const;
export type Bottleneck = (typeof BOTTLENECKS)[number];

export const SUT_GROUP = 'demo-sut';
export const INJECTOR_GROUP = 'demo-injector';

export interface DemoOptions {
  steps: number;
  stepSeconds: number;
  rate: number;
  bottleneck: Bottleneck;
  json: boolean;
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

/** Saturation thresholds: from analysis/thresholds.ts, as the alert rules read them. */
export const THRESHOLDS = {
  sut_cpu: LIMITS.sutThreadCores,
  sut_eventloop_lag: LIMITS.eventLoopLagSeconds,
  sut_eventloop_utilization: LIMITS.eventLoopUtilisation,
  sut_fds: LIMITS.fdRatio,
  injector_cpu: LIMITS.injectorProcessCores,
  injector_eventloop_lag: LIMITS.eventLoopLagSeconds,
} as const;

export function profileFor(b: Bottleneck, rate: number, steps: number): Profile {
  // The step at which the chosen resource should run out.
  const target = Math.max(1.5, steps * 0.6);
  switch (b) {
    case 'cpu':
      // One login per scenario: the main thread is busy k * rate * loginMs per second at step k.
      // Aimed a little later in the ramp: on a shared machine the service gets less than a core.
      return { loginMs: 1000 / (rate * Math.max(1.5, steps * 0.75)), holdMs: 0, backlog: 128, fdLimit: null, arrivals: 'uniform', injectorBurnMs: 0 };
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

export interface StepResult {
  step: number;
  injector_processes: number;
  offered_rps: number;
  achieved_rps: number;
  latency_p50_seconds: number | null;
  latency_p95_seconds: number | null;
  latency_p99_seconds: number | null;
  error_ratio: number;
  sut_busiest_thread_cpu: number | null;
  sut_eventloop_lag_p99_seconds: number | null;
  sut_eventloop_utilization: number | null;
  sut_open_fds: number | null;
  sut_fd_ratio: number | null;
  accept_queue_depth: number | null;
  accept_queue_limit: number | null;
  listen_overflows: number;
  injector_cpu_cores: number | null;
  injector_busiest_process_cpu: number | null;
  injector_eventloop_lag_p99_seconds: number | null;
  signals: string[];
}

export interface Crossing {
  signal: string;
  group: string;
  role: 'sut' | 'injector';
  step: number;
  at_seconds: number;
  value: number;
  threshold: number;
}

export interface DemoResult {
  bottleneck: Bottleneck;
  rate_per_injector: number;
  step_seconds: number;
  profile: Profile;
  steps: StepResult[];
  knee_step: number | null;
  knee_reason: string | null;
  first_saturated: Crossing | null;
  crossings: Crossing[];
  verdict: string;
  agent_url: string;
}

const HELP = `usage: redline demo [flags]

A short ramp test on this machine: the agent, a demo service and one more injector process per
step. Prints one line per step, then the knee (where throughput stopped following the load) and
the first saturation signal that crossed its threshold, of the service or of the injector.

  --bottleneck=cpu|fds|backlog|injector  what gives out first (default cpu):
                          cpu       password hashing on the service's main thread
                          fds       requests holding sockets and files under a 128-fd limit
                          backlog   waves of users overflow a modest listen backlog
                          injector  the injectors burn CPU per request and saturate first
  --steps=N               injector processes to ramp up to, one per step (default 6, max 20)
  --step-seconds=S        length of each step (default 10, 2 to 300)
  --rate=R                scenarios per second started by each injector (default 20); a
                          scenario is log in, do something, log out (3 requests)
  --json                  print the steps and the summary as one JSON object instead
  --port=P                the agent's /metrics port on 127.0.0.1 (default: any free port)
  --statsd-port=P         the agent's statsd UDP port on 127.0.0.1 (default: any free port)
  --sut-port=P            the demo service's port on 127.0.0.1 (default: any free port)
  --help                  this text

Everything listens on 127.0.0.1 only; the run takes steps x step-seconds plus a few seconds and
stops every process it started, also on Ctrl-C.
`;

export function parseDemoArgs(argv: string[]): DemoOptions | 'help' {
  const flags = parseFlags(argv, ['steps', 'step-seconds', 'rate', 'bottleneck', 'json', 'port', 'statsd-port', 'sut-port', 'help'], ['json', 'help']);
  if (flags.has('help')) return 'help';
  const b = flags.get('bottleneck') ?? 'cpu';
  if (!(BOTTLENECKS as readonly string[]).includes(b)) throw new Error(`--bottleneck: expected one of ${BOTTLENECKS.join(', ')}, got ${JSON.stringify(b)}`);
  const json = flags.get('json');
  if (json !== undefined && json !== 'true' && json !== 'false') throw new Error(`--json takes no value`);
  return {
    steps: numberFlag(flags, 'steps', 6, 1, 20, true),
    stepSeconds: numberFlag(flags, 'step-seconds', 10, 2, 300),
    rate: numberFlag(flags, 'rate', 20, 1, 500),
    bottleneck: b as Bottleneck,
    json: json === 'true',
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
const INJ_PROBE = { role: 'injector', service: INJECTOR_GROUP };

interface SignalReading {
  signal: keyof typeof THRESHOLDS | 'sut_accept_queue';
  group: string;
  role: 'sut' | 'injector';
  value: number;
  threshold: number;
  over: boolean;
}

/** Reads every saturation signal from one scrape (and the one before it, for increases). */
function readSignals(prev: Scrape, cur: Scrape): SignalReading[] {
  const r: SignalReading[] = [];
  const gauge = (signal: keyof typeof THRESHOLDS, group: string, role: 'sut' | 'injector', v: number | null): void => {
    if (v === null) return;
    r.push({ signal, group, role, value: v, threshold: THRESHOLDS[signal], over: v >= THRESHOLDS[signal] });
  };
  gauge('sut_cpu', SUT_GROUP, 'sut', max(cur, 'redline_process_busiest_thread_cpu_ratio', SUT));
  gauge('sut_eventloop_lag', SUT_GROUP, 'sut', max(cur, 'redline_nodejs_eventloop_lag_seconds', { ...SUT_PROBE, quantile: '0.99' }));
  gauge('sut_eventloop_utilization', SUT_GROUP, 'sut', max(cur, 'redline_nodejs_eventloop_utilization', SUT_PROBE));
  gauge('sut_fds', SUT_GROUP, 'sut', max(cur, 'redline_process_fd_ratio', SUT));
  gauge('injector_cpu', INJECTOR_GROUP, 'injector', max(cur, 'redline_process_busiest_process_cpu_ratio', INJ));
  gauge('injector_eventloop_lag', INJECTOR_GROUP, 'injector', max(cur, 'redline_nodejs_eventloop_lag_seconds', { ...INJ_PROBE, quantile: '0.99' }));
  // Listen overflows are counted host-wide by the kernel; they are the service's only with
  // evidence of its own: its queue seen near full, or its clients' SYNs retried.
  const overflows = increase(prev, cur, 'redline_host_tcp_listen_overflows_total');
  const depth = max(cur, 'redline_listen_queue_length', SUT);
  const limit = max(cur, 'redline_listen_queue_limit', SUT);
  const slow = increase(prev, cur, 'loadtest_slow_connects_total');
  const full = depth !== null && limit !== null && limit > 0 && depth >= limit;
  const own = slow > 0 || (depth !== null && limit !== null && limit > 0 && depth >= limit / 2);
  r.push({ signal: 'sut_accept_queue', group: SUT_GROUP, role: 'sut', value: overflows, threshold: 1, over: full || (overflows > 0 && own) });
  return r;
}

function fmt(v: number | null, digits = 2, unit = ''): string {
  if (v === null || !Number.isFinite(v)) return '-';
  return `${v.toFixed(digits)}${unit}`;
}

function fmtSeconds(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '-';
  return v < 1 ? `${(v * 1000).toFixed(v < 0.01 ? 1 : 0)}ms` : `${v.toFixed(2)}s`;
}

const HEADER =
  'step inj  offered achieved    p50     p95     p99   err%  sut-cpu lag-p99  fds  acceptq  ovfl  inj-cpu inj-lag';

function stepLine(s: StepResult): string {
  const pad = (x: string, n: number): string => x.padStart(n);
  return [
    pad(String(s.step), 4),
    pad(String(s.injector_processes), 3),
    pad(s.offered_rps.toFixed(1), 8),
    pad(s.achieved_rps.toFixed(1), 8),
    pad(fmtSeconds(s.latency_p50_seconds), 7),
    pad(fmtSeconds(s.latency_p95_seconds), 7),
    pad(fmtSeconds(s.latency_p99_seconds), 7),
    pad((s.error_ratio * 100).toFixed(1), 6),
    pad(fmt(s.sut_busiest_thread_cpu), 8),
    pad(fmtSeconds(s.sut_eventloop_lag_p99_seconds), 7),
    pad(s.sut_open_fds === null ? '-' : String(Math.round(s.sut_open_fds)), 4),
    pad(`${s.accept_queue_depth === null ? '-' : Math.round(s.accept_queue_depth)}/${s.accept_queue_limit === null ? '-' : Math.round(s.accept_queue_limit)}`, 8),
    pad(String(Math.round(s.listen_overflows)), 5),
    pad(fmt(s.injector_busiest_process_cpu), 8),
    pad(fmtSeconds(s.injector_eventloop_lag_p99_seconds), 7),
  ].join(' ') + (s.signals.length ? `  ! ${s.signals.join(', ')}` : '');
}

const SIGNAL_TEXT: Record<string, string> = {
  sut_cpu: "busiest thread's CPU (a single-threaded service at its one core)",
  sut_eventloop_lag: 'event-loop lag p99',
  sut_eventloop_utilization: 'event-loop utilisation',
  sut_fds: 'open file descriptors against the limit',
  sut_accept_queue: 'TCP accept queue overflowing (listen backlog)',
  injector_cpu: "injector process's CPU",
  injector_eventloop_lag: "injector's event-loop lag p99",
};

/** The knee: the first step where throughput stopped following the load. */
export function findKnee(steps: StepResult[]): { step: number | null; reason: string | null } {
  const base = steps[0]?.latency_p95_seconds ?? null;
  for (const s of steps) {
    if (s.offered_rps > 0 && s.achieved_rps < 0.9 * s.offered_rps) {
      return { step: s.step, reason: `achieved ${s.achieved_rps.toFixed(1)}/s of ${s.offered_rps.toFixed(1)}/s offered (${((100 * s.achieved_rps) / s.offered_rps).toFixed(0)}%)` };
    }
    if (s.error_ratio >= 0.01) return { step: s.step, reason: `${(s.error_ratio * 100).toFixed(1)}% of requests failed` };
    if (base !== null && s.step > 1 && s.latency_p95_seconds !== null && s.latency_p95_seconds >= Math.max(5 * base, 0.05)) {
      return { step: s.step, reason: `latency p95 ${fmtSeconds(s.latency_p95_seconds)}, ${(s.latency_p95_seconds / base).toFixed(1)}x step 1's` };
    }
  }
  return { step: null, reason: null };
}

export function verdictText(first: Crossing | null, knee: { step: number | null; reason: string | null }): string {
  if (!first) {
    return knee.step === null
      ? 'Nothing saturated: the service kept up with every step. Ramp further (--steps, --rate).'
      : `Throughput stopped following the load at step ${knee.step}, but no saturation signal crossed its threshold.`;
  }
  const what = SIGNAL_TEXT[first.signal] ?? first.signal;
  if (first.role === 'injector') {
    return `The INJECTOR (${first.group}) was the limit, not the system under test: ${what} crossed ${first.threshold} at step ${first.step}. From there on the results measure the injector; add injector processes or hosts, or make each one lighter.`;
  }
  return `The system under test (${first.group}) was the limit: ${what} crossed its threshold at step ${first.step}${knee.step !== null ? `; throughput stopped following the load at step ${knee.step}` : ''}.`;
}

export async function runDemo(argv: string[]): Promise<number> {
  let opts: DemoOptions;
  try {
    const parsed = parseDemoArgs(argv);
    if (parsed === 'help') {
      process.stdout.write(HELP);
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
    await checkTcpFree(opts.port, 'agent /metrics', '--port');
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
  const budgetSeconds = opts.steps * opts.stepSeconds + 60;
  const deadline = setTimeout(() => abort.abort(new Error(`the run exceeded its ${budgetSeconds} s budget`)), budgetSeconds * 1000);
  deadline.unref();
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
    abort.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);

  try {
    // 1. the agent
    // The agent has no lifetime flag of its own: coreutils' timeout(1), where there is one,
    // bounds it in case the demo itself is killed with SIGKILL (it forwards SIGTERM to the agent).
    const timeoutBin = ['/usr/bin/timeout', '/bin/timeout'].find((f) => fs.existsSync(f));
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
    const metricsUrl = `http://127.0.0.1:${httpPort}/metrics`;
    const statsdAddr = `127.0.0.1:${udpPort}`;

    // 2. the service, probed
    const sutArgs = [
      '--require',
      files.probe,
      files.sut,
      `--port=${opts.sutPort}`,
      `--login-ms=${profile.loginMs.toFixed(3)}`,
      `--hold-ms=${Math.round(profile.holdMs)}`,
      `--backlog=${profile.backlog}`,
      `--max-seconds=${budgetSeconds + 30}`,
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

    say(`redline demo: bottleneck=${opts.bottleneck}, ${opts.steps} steps of ${opts.stepSeconds} s, ${opts.rate} scenarios/s per injector process`);
    say(`  agent   ${metricsUrl}  (statsd ${statsdAddr}/udp)`);
    say(`  service ${target}  (login ${profile.loginMs.toFixed(1)} ms CPU, /work holds ${Math.round(profile.holdMs)} ms, backlog ${profile.backlog}${profile.fdLimit !== null ? `, fd limit ${profile.fdLimit}` : ''})`);
    say('');

    // Wait until the agent sees the service's process group and its probe (bounded).
    let first: Scrape | null = null;
    for (let i = 0; i < 50 && !abort.signal.aborted; i++) {
      first = await scrape(metricsUrl);
      if (first && sum(first, 'redline_process_count', SUT) >= 1 && max(first, 'redline_nodejs_eventloop_utilization', SUT_PROBE) !== null) break;
      await sleep(200, abort.signal);
    }
    if (!first) throw new Error(`cannot scrape the agent at ${metricsUrl}`);
    let prev: Scrape = first;

    say(HEADER);
    const results: StepResult[] = [];
    const crossings: Crossing[] = [];
    const consecutive = new Map<string, number>();
    const runStart = Date.now();
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

      const stepStart = Date.now();
      // The window measured for rates and latency starts once the new injector has warmed up.
      // (a scenario that holds its request for a while completes that much later).
      const warm = Math.min(1500 + profile.holdMs, opts.stepSeconds * 600);
      let from: Scrape | null = null;
      let fromTime = stepStart;
      let last: Scrape = prev;
      // Rates and latency are taken between aligned scrapes (see below).
      let rateTo: Scrape | null = null;
      let rateToTime = stepStart;
      const gauges: Record<string, number[]> = {};
      const keep = (k: string, v: number | null): void => {
        if (v !== null && Number.isFinite(v)) (gauges[k] ??= []).push(v);
      };
      let overflows = 0;
      const stepSignals = new Set<string>();
      while (!abort.signal.aborted) {
        const elapsed = Date.now() - stepStart;
        const left = opts.stepSeconds * 1000 - elapsed;
        if (left <= 0) break;
        // Scrape at half past each wall-clock second: waves of users arrive on the second, so
        // every window between two scrapes holds whole waves and their requests.
        const toHalf = (1500 - (Date.now() % 1000)) % 1000 || 1000;
        const wait = toHalf < 300 ? toHalf + 1000 : toHalf;
        const aligned = wait <= left;
        await sleep(Math.min(wait, left), abort.signal);
        const cur = await scrape(metricsUrl);
        if (!cur) continue;
        const now = Date.now();
        if (aligned && from === null && now - stepStart >= warm) {
          from = cur;
          fromTime = now;
        }
        if (aligned && from !== null) {
          rateTo = cur;
          rateToTime = now;
        }
        for (const r of readSignals(last, cur)) {
          const key = `${r.signal}/${r.group}`;
          // Gauges must hold for two readings in a row (one noisy second is not saturation);
          // an overflowing accept queue counts at once, as the alert rule does.
          const n = r.over ? (consecutive.get(key) ?? 0) + 1 : 0;
          consecutive.set(key, n);
          const needed = r.signal === 'sut_accept_queue' ? 1 : 2;
          if (n >= needed) {
            stepSignals.add(r.signal);
            if (!crossings.some((c) => c.signal === r.signal && c.group === r.group)) {
              crossings.push({ signal: r.signal, group: r.group, role: r.role, step, at_seconds: Math.round((Date.now() - runStart) / 100) / 10, value: r.value, threshold: r.threshold });
            }
          }
        }
        if (Date.now() - stepStart >= warm) {
          keep('sut_cpu', max(cur, 'redline_process_busiest_thread_cpu_ratio', SUT));
          keep('sut_lag', max(cur, 'redline_nodejs_eventloop_lag_seconds', { ...SUT_PROBE, quantile: '0.99' }));
          keep('sut_elu', max(cur, 'redline_nodejs_eventloop_utilization', SUT_PROBE));
          keep('sut_fds', max(cur, 'redline_process_open_fds', SUT));
          keep('sut_fd_ratio', max(cur, 'redline_process_fd_ratio', SUT));
          keep('queue', max(cur, 'redline_listen_queue_length', SUT));
          keep('queue_limit', max(cur, 'redline_listen_queue_limit', SUT));
          keep('inj_cores', max(cur, 'redline_injector_cpu_cores', INJ));
          keep('inj_cpu', max(cur, 'redline_process_busiest_process_cpu_ratio', INJ));
          keep('inj_lag', max(cur, 'redline_nodejs_eventloop_lag_seconds', { ...INJ_PROBE, quantile: '0.99' }));
        }
        overflows += increase(last, cur, 'redline_host_tcp_listen_overflows_total');
        last = cur;
      }
      const to: Scrape = last;
      const start = from ?? prev;
      const end = rateTo !== null && rateTo !== from ? rateTo : to;
      const windowSeconds = Math.max(0.001, ((rateTo !== null && rateTo !== from ? rateToTime : Date.now()) - fromTime) / 1000);
      const requests = increase(start, end, 'loadtest_requests_total');
      const errors = increase(start, end, 'loadtest_errors_total');
      const buckets = bucketIncrease(start, end, 'loadtest_request_duration_seconds');
      const mean = (k: string): number | null => {
        const v = gauges[k];
        return v && v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
      };
      const peak = (k: string): number | null => {
        const v = gauges[k];
        return v && v.length ? Math.max(...v) : null;
      };
      const offeredGauge = sum(to, 'loadtest_offered_rate');
      const row: StepResult = {
        step,
        injector_processes: Math.round(max(to, 'redline_injector_processes', { group: INJECTOR_GROUP }) ?? step),
        offered_rps: offeredGauge > 0 ? offeredGauge : step * opts.rate * REQUESTS_PER_SCENARIO,
        achieved_rps: (requests - errors) / windowSeconds,
        latency_p50_seconds: quantile(0.5, buckets),
        latency_p95_seconds: quantile(0.95, buckets),
        latency_p99_seconds: quantile(0.99, buckets),
        error_ratio: requests > 0 ? errors / requests : 0,
        sut_busiest_thread_cpu: mean('sut_cpu'),
        sut_eventloop_lag_p99_seconds: peak('sut_lag'),
        sut_eventloop_utilization: mean('sut_elu'),
        sut_open_fds: peak('sut_fds'),
        sut_fd_ratio: peak('sut_fd_ratio'),
        accept_queue_depth: peak('queue'),
        accept_queue_limit: peak('queue_limit'),
        listen_overflows: overflows,
        injector_cpu_cores: mean('inj_cores'),
        injector_busiest_process_cpu: mean('inj_cpu'),
        injector_eventloop_lag_p99_seconds: peak('inj_lag'),
        signals: [...stepSignals],
      };
      results.push(row);
      say(stepLine(row));
      prev = to;
    }
    if (abort.signal.aborted) throw abort.signal.reason instanceof Error ? abort.signal.reason : new Error('aborted');

    const knee = findKnee(results);
    crossings.sort((a, b) => a.at_seconds - b.at_seconds || a.step - b.step);
    const firstCrossing = crossings[0] ?? null;
    const result: DemoResult = {
      bottleneck: opts.bottleneck,
      rate_per_injector: opts.rate,
      step_seconds: opts.stepSeconds,
      profile,
      steps: results,
      knee_step: knee.step,
      knee_reason: knee.reason,
      first_saturated: firstCrossing,
      crossings,
      verdict: verdictText(firstCrossing, knee),
      agent_url: metricsUrl,
    };
    if (opts.json) {
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    } else {
      say('');
      say(knee.step === null ? 'knee: none — achieved throughput followed the offered load at every step' : `knee: step ${knee.step} (${results[knee.step - 1]?.injector_processes ?? knee.step} injector processes): ${knee.reason}`);
      say(
        firstCrossing
          ? `first saturated: ${firstCrossing.role === 'sut' ? 'SUT' : 'INJECTOR'} ${firstCrossing.group}, ${SIGNAL_TEXT[firstCrossing.signal] ?? firstCrossing.signal} = ${firstCrossing.signal === 'sut_accept_queue' ? `${firstCrossing.value} overflows` : firstCrossing.value.toFixed(3)} (threshold ${firstCrossing.threshold}) at step ${firstCrossing.step}, ${firstCrossing.at_seconds} s in`
          : 'first saturated: none',
      );
      for (const c of crossings.slice(1)) say(`  then: ${c.role === 'sut' ? 'SUT' : 'INJECTOR'} ${c.group}, ${SIGNAL_TEXT[c.signal] ?? c.signal} at step ${c.step}`);
      say(`verdict: ${result.verdict}`);
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
    await children.stop('injector');
    await children.stop();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}
