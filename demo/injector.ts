/**
 * One demo injector process: starts --rate scenarios per second against the demo service, each
 * "log in, do something, log out" on fresh connections, and reports over statsd with hot-shots
 * under the names the dashboards read (DogStatsD tags become labels; `ms` timers become seconds):
 *
 *   loadtest_requests_total{scenario,step,status}      counter, one per finished request
 *   loadtest_errors_total{scenario,step,reason}        counter, failed requests (5xx, refused, timeout…)
 *   loadtest_request_duration_seconds{scenario,step}   timer (ms on the wire) → histogram in seconds
 *   loadtest_active_users{scenario,pid}                gauge, scenarios in flight in this process
 *   loadtest_offered_rate{scenario,pid}                gauge, requests per second asked of this process
 *   loadtest_scenarios_total{scenario,outcome}         counter, finished scenarios (ok, failed, dropped)
 *   loadtest_slow_connects_total{scenario}             counter, connects that took ≥ 0.9 s (a SYN was
 *                                                      dropped and retried: an overflowing accept queue)
 *
 * Arrivals are open-model: scenarios start on schedule whether earlier ones finished or not, up
 * to --max-active in flight (beyond that a scenario is dropped and counted, so a stalled SUT
 * shows as achieved < offered instead of the injector eating memory). `--arrivals=uniform`
 * spreads them over each second; `--arrivals=wave` starts a second's worth together at each
 * wall-clock second, so several injector processes arrive in the same wave. `--burn-ms` spends
 * that much CPU per request in the injector itself (a heavy client: templating, parsing,
 * crypto), which is how `redline demo --bottleneck injector` saturates the injector first.
 */
import http from 'node:http';
import StatsD from 'hot-shots';
import { parseFlags, numberFlag, isMain } from './flags.js';

export interface InjectorOptions {
  target: URL;
  /** Scenarios started per second. */
  rate: number;
  statsdHost: string;
  statsdPort: number;
  scenario: string;
  arrivals: 'uniform' | 'wave';
  burnMs: number;
  maxActive: number;
  timeoutMs: number;
  /** Safety bound: the process exits after this many seconds whatever happens. */
  maxSeconds: number;
}

export const STEPS = ['login', 'work', 'logout'] as const;
export const REQUESTS_PER_SCENARIO = STEPS.length;

interface Outcome {
  status: number;
  error: string | null;
  connectMs: number;
}

function burn(ms: number): void {
  if (ms <= 0) return;
  const until = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
  let x = 0;
  while (process.hrtime.bigint() < until) x += Math.sqrt(x + 1);
  if (x < 0) process.stdout.write('');
}

function request(target: URL, method: string, path: string, body: string | null, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    let connectMs = 0;
    let settled = false;
    const done = (o: Omit<Outcome, 'connectMs'>): void => {
      if (settled) return;
      settled = true;
      resolve({ ...o, connectMs });
    };
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        method,
        path,
        // A fresh connection per request, as many users arriving would make.
        agent: false,
        headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' } : { connection: 'close' },
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => done({ status: res.statusCode ?? 0, error: (res.statusCode ?? 0) >= 500 ? `status_${res.statusCode}` : null }));
        res.on('error', (err: NodeJS.ErrnoException) => done({ status: 0, error: err.code ?? 'response_error' }));
      },
    );
    req.on('socket', (s) => {
      s.once('connect', () => {
        connectMs = performance.now() - started;
      });
    });
    req.on('timeout', () => {
      req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => done({ status: 0, error: (err.code ?? 'request_error').toLowerCase() }));
    if (body) req.end(body);
    else req.end();
  });
}

export class Injector {
  private readonly statsd: InstanceType<typeof StatsD>;
  private active = 0;
  private timer: NodeJS.Timeout | null = null;
  private gaugeTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly pidTags: Record<string, string>;

  constructor(private readonly opts: InjectorOptions) {
    this.statsd = new StatsD({
      host: opts.statsdHost,
      port: opts.statsdPort,
      protocol: 'udp',
      // Batch lines into datagrams; flush often enough for 1-second scrapes.
      maxBufferSize: 1400,
      bufferFlushInterval: 100,
      globalTags: { scenario: opts.scenario },
      // Statsd is fire-and-forget: an agent that is not there must not stop the load.
      errorHandler: () => {},
    });
    this.pidTags = { pid: String(process.pid) };
  }

  start(): void {
    this.publishGauges();
    this.gaugeTimer = setInterval(() => this.publishGauges(), 500);
    if (this.opts.arrivals === 'wave') {
      const next = (): void => {
        if (this.stopped) return;
        for (let i = 0; i < this.opts.rate; i++) this.launch();
        this.timer = setTimeout(next, 1000 - (Date.now() % 1000));
      };
      this.timer = setTimeout(next, 1000 - (Date.now() % 1000));
    } else {
      // Uniform: one scenario every 1/rate s, from a schedule (not from the previous timer's
      // firing), so a lagging loop catches up instead of silently lowering the rate.
      const period = 1000 / this.opts.rate;
      const t0 = performance.now() + Math.random() * period;
      let launched = 0;
      const tick = (): void => {
        if (this.stopped) return;
        const due = Math.floor((performance.now() - t0) / period) + 1;
        // Bounded catch-up: at most one second's worth at once.
        for (let n = 0; launched < due && n < Math.max(1, this.opts.rate); n++, launched++) this.launch();
        if (launched < due) launched = due;
        this.timer = setTimeout(tick, Math.max(1, Math.min(period, 20)));
      };
      this.timer = setTimeout(tick, Math.max(0, t0 - performance.now()));
    }
  }

  private publishGauges(): void {
    this.statsd.gauge('loadtest_active_users', this.active, this.pidTags);
    this.statsd.gauge('loadtest_offered_rate', this.stopped ? 0 : this.opts.rate * REQUESTS_PER_SCENARIO, this.pidTags);
  }

  private launch(): void {
    if (this.active >= this.opts.maxActive) {
      this.statsd.increment('loadtest_scenarios_total', 1, { outcome: 'dropped' });
      return;
    }
    this.active++;
    this.scenario()
      .then((ok) => this.statsd.increment('loadtest_scenarios_total', 1, { outcome: ok ? 'ok' : 'failed' }))
      .catch(() => this.statsd.increment('loadtest_scenarios_total', 1, { outcome: 'failed' }))
      .finally(() => {
        this.active--;
      });
  }

  private async scenario(): Promise<boolean> {
    const user = `user${Math.floor(Math.random() * 10_000)}`;
    const plan: Array<[(typeof STEPS)[number], string, string, string | null]> = [
      ['login', 'POST', '/login', JSON.stringify({ user, password: 'correct horse battery staple' })],
      ['work', 'GET', `/work?user=${user}`, null],
      ['logout', 'POST', '/logout', '{}'],
    ];
    for (const [step, method, path, body] of plan) {
      if (this.stopped) return false;
      burn(this.opts.burnMs);
      const t = performance.now();
      const o = await request(this.opts.target, method, path, body, this.opts.timeoutMs);
      const ms = performance.now() - t;
      const status = o.status > 0 ? String(o.status) : 'none';
      this.statsd.increment('loadtest_requests_total', 1, { step, status });
      this.statsd.timing('loadtest_request_duration_seconds', ms, { step });
      if (o.connectMs >= 900) this.statsd.increment('loadtest_slow_connects_total', 1);
      if (o.error) {
        this.statsd.increment('loadtest_errors_total', 1, { step, reason: o.error });
        return false;
      }
    }
    return true;
  }

  /** Stops starting scenarios, reports zero load, flushes statsd. In-flight requests are abandoned. */
  stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.gaugeTimer) clearInterval(this.gaugeTimer);
    this.statsd.gauge('loadtest_active_users', 0, this.pidTags);
    this.statsd.gauge('loadtest_offered_rate', 0, this.pidTags);
    return new Promise((resolve) => {
      const t = setTimeout(resolve, 1000);
      this.statsd.close(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

const FLAGS = ['target', 'rate', 'statsd', 'scenario', 'arrivals', 'burn-ms', 'max-active', 'timeout-ms', 'max-seconds', 'run-id', 'help'];

export function parseInjectorArgs(argv: string[]): InjectorOptions {
  const flags = parseFlags(argv, FLAGS);
  const target = new URL(flags.get('target') ?? 'http://127.0.0.1:8080');
  if (target.protocol !== 'http:') throw new Error(`--target: only http:// targets, got ${target.protocol}`);
  const statsd = flags.get('statsd') ?? '127.0.0.1:8125';
  const m = /^(.+):(\d+)$/.exec(statsd);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new Error(`--statsd: expected host:port, got ${JSON.stringify(statsd)}`);
  const arrivals = flags.get('arrivals') ?? 'uniform';
  if (arrivals !== 'uniform' && arrivals !== 'wave') throw new Error(`--arrivals: expected uniform or wave, got ${JSON.stringify(arrivals)}`);
  const scenario = flags.get('scenario') ?? 'demo';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(scenario)) throw new Error(`--scenario: letters, digits, _ . - only, got ${JSON.stringify(scenario)}`);
  return {
    target,
    rate: numberFlag(flags, 'rate', 10, 0.1, 10_000),
    statsdHost: m[1]!,
    statsdPort: Number(m[2]),
    scenario,
    arrivals,
    burnMs: numberFlag(flags, 'burn-ms', 0, 0, 10_000),
    maxActive: numberFlag(flags, 'max-active', 200, 1, 100_000, true),
    timeoutMs: numberFlag(flags, 'timeout-ms', 10_000, 10, 600_000),
    maxSeconds: numberFlag(flags, 'max-seconds', 600, 1, 86_400),
  };
}

async function main(argv: string[]): Promise<void> {
  let opts: InjectorOptions;
  try {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(
        'usage: node injector.js --target=http://127.0.0.1:PORT [--rate=10] [--statsd=127.0.0.1:8125] [--scenario=demo]\n' +
          '                        [--arrivals=uniform|wave] [--burn-ms=0] [--max-active=200] [--timeout-ms=10000] [--max-seconds=600]\n',
      );
      return;
    }
    opts = parseInjectorArgs(argv);
  } catch (err) {
    process.stderr.write(`demo injector: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const inj = new Injector(opts);
  inj.start();
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void inj.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  setTimeout(stop, opts.maxSeconds * 1000).unref();
}

if (isMain(import.meta.url)) {
  void main(process.argv.slice(2));
}
