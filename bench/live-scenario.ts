/**
 * A small load test to look at, shared by the live view's e2e test, its screenshots and its
 * benchmark: a real agent (`bin/redline.js`, ephemeral 127.0.0.1 ports) with a SUT group and an
 * injector group of real child processes, and a statsd feed that describes the load each second.
 * The SUT and the injector run with a file-descriptor limit of 256 and open 230 descriptors on
 * SIGUSR1 (closed again on SIGUSR2): a saturation that does not depend on how busy the machine is.
 * Every process started here is stopped by its pid in `stop()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = [path.resolve(here, '..'), path.resolve(here, '..', '..')].find((p) => fs.existsSync(path.join(p, 'bin', 'redline.js')))!;
const BIN = path.join(ROOT, 'bin', 'redline.js');

/** What the injectors report in one second. */
export interface LoadSecond {
  users: number;
  offered: number;
  requests: number;
  errors: number;
  latencyMs: number;
}

export type LoadShape = (second: number) => LoadSecond;

/** Constant load: 10 users asking 100 req/s, all served in 40 ms, 10 % errors. */
export const STEADY: LoadShape = () => ({ users: 10, offered: 100, requests: 100, errors: 10, latencyMs: 40 });

/** A ramp of 5 users every `stepSeconds` against a service that serves 300 req/s at most. */
export function ramp(stepSeconds: number): LoadShape {
  return (s) => {
    const users = 5 * Math.min(10, 1 + Math.floor(s / stepSeconds));
    const offered = users * 10;
    const requests = Math.min(offered, 300);
    return { users, offered, requests, errors: Math.max(0, offered - 300) / 10, latencyMs: offered <= 300 ? 40 : 40 + (offered - 300) * 2 };
  };
}

export interface Scenario {
  url: string;
  agentPid: number;
  udpPort: number;
  sut: ChildProcess;
  injector: ChildProcess;
  /** Makes the SUT (or the injector) hold 230 of its 256 descriptors; `false` releases them. */
  saturate(who: 'sut' | 'injector', on?: boolean): void;
  /** Seconds of load fed so far. */
  seconds(): number;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

const CHILD = `
const fs = require('fs');
const net = require('net');
net.createServer(() => {}).listen(0, '127.0.0.1', 64);
const held = [];
process.on('SIGUSR1', () => { while (held.length < 230) held.push(fs.openSync('/dev/null', 'r')); });
process.on('SIGUSR2', () => { while (held.length) fs.closeSync(held.pop()); });
setInterval(() => {}, 1000);
`;

function child(marker: string): ChildProcess {
  // `ulimit -n` in sh sets the soft and the hard limit, so Node cannot raise it back at start.
  return spawn('sh', ['-c', 'ulimit -n 256 && exec "$0" "$@"', process.execPath, '-e', CHILD, marker], { stdio: 'ignore' });
}

export interface ScenarioOptions {
  load?: LoadShape;
  /** Extra SUT groups reported over statsd (probe-style event-loop gauges), to load the page. */
  extraGroups?: number;
  /**
   * Several load tests reporting to one agent, each tagged `env`/`run` (`staging/r1`): run i
   * (from 0) reports the load shape scaled by i + 1. Without it the load carries no such tags.
   */
  runs?: string[];
  args?: string[];
}

export async function startScenario(opts: ScenarioOptions = {}): Promise<Scenario> {
  const tag = `${process.pid}x${Math.floor(Math.random() * 1e9)}`;
  const sut = child(`live-sut-${tag}`);
  const injector = child(`live-injector-${tag}`);
  const agent = spawn(
    process.execPath,
    [
      BIN,
      '--statsd.listen-udp=127.0.0.1:0',
      '--statsd.listen-tcp=',
      '--web.listen-address=127.0.0.1:0',
      `--sut=api=live-sut-${tag}`,
      `--injector=load=live-injector-${tag}`,
      ...(opts.args ?? []),
    ],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const killAll = (): void => {
    for (const c of [agent, sut, injector]) if (c.pid && c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  };
  let log = '';
  agent.stderr!.setEncoding('utf8');
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not start within 20 s:\n${log}`)), 20_000);
    agent.stderr!.on('data', (d: string) => {
      log += d;
      if (log.length > 100_000) log = log.slice(-50_000);
      const l = log.split('\n').find((x) => x.includes('redline agent started'));
      if (l) {
        clearTimeout(timer);
        resolve(l);
      }
    });
    agent.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with ${code}:\n${log}`));
    });
  }).catch((err: unknown) => {
    killAll();
    throw err;
  });
  const field = (k: string): number => Number(new RegExp(`${k}=(\\d+)`).exec(line)![1]);
  const httpPort = field('http_port');
  const udpPort = field('udp_port');
  const url = `http://127.0.0.1:${httpPort}`;

  const load = opts.load ?? STEADY;
  const sock = dgram.createSocket('udp4');
  let second = 0;
  const feed = (): void => {
    const l = load(second++);
    const packets: string[] = [];
    for (const [i, tags] of (opts.runs ?? ['']).entries()) {
      const [env, run] = tags.split('/');
      const k = i + 1;
      const t = tags === '' ? '' : `|#env:${env},run:${run}`;
      const lines = [
        `loadtest_active_users:${l.users * k}|g${t}`,
        `loadtest_offered_rate:${l.offered * k}|g${t}`,
        `loadtest_requests_total:${l.requests * k}|c${t}`,
        `loadtest_errors_total:${l.errors * k}|c${t}`,
        `loadtest_request_duration_seconds:${l.latencyMs}|ms|@${(20 / Math.max(1, l.requests * k)).toFixed(4)}${t}`,
      ];
      // Twenty sampled timings stand for every request of the second.
      packets.push(lines.join('\n'));
      for (let j = 1; j < 20; j++) packets.push(lines[4]!);
    }
    for (let g = 0; g < (opts.extraGroups ?? 0); g++) {
      const busy = (0.3 + 0.6 * Math.abs(Math.sin((second + g) / 7))).toFixed(3);
      packets.push(
        `redline_nodejs_eventloop_utilization:${busy}|g|#service:svc${String(g).padStart(3, '0')},role:sut,pid:${100000 + g}\n` +
          `redline_nodejs_eventloop_lag_seconds:${(Number(busy) / 20).toFixed(4)}|g|#service:svc${String(g).padStart(3, '0')},role:sut,pid:${100000 + g},quantile:0.99`,
      );
    }
    for (const p of packets) sock.send(p, udpPort, '127.0.0.1');
  };
  feed();
  const timer = setInterval(feed, 1000);
  timer.unref();

  return {
    url,
    agentPid: agent.pid!,
    udpPort,
    sut,
    injector,
    saturate: (who, on = true) => {
      const c = who === 'sut' ? sut : injector;
      if (c.pid) process.kill(c.pid, on ? 'SIGUSR1' : 'SIGUSR2');
    },
    seconds: () => second,
    metrics: async () => (await fetch(`${url}/metrics`)).text(),
    stop: async () => {
      clearInterval(timer);
      sock.close();
      const exited = [agent, sut, injector].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const kill = setTimeout(() => c.pid && process.kill(c.pid, 'SIGKILL'), 5000);
            c.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            if (c.pid) process.kill(c.pid, 'SIGTERM');
          }),
      );
      await Promise.all(exited);
    },
  };
}
