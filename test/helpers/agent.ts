/**
 * Starts the real agent (`node bin/redline.js`) as a child process on ephemeral 127.0.0.1 ports
 * and reads the ports it bound from its start-up log line. Every agent started here is stopped
 * by its PID (`stop()`, or `stopAll()` from ./process.js).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { start, type Proc } from './process.js';
import { valueOf } from './exposition.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'redline.js');

export interface AgentProcess {
  proc: Proc;
  child: Proc['child'];
  pid: number;
  httpPort: number;
  udpPort: number | null;
  tcpPort: number | null;
  /** The OTLP/HTTP receiver's port, null when it is off. */
  otlpPort: number | null;
  url: string;
  stderr: () => string;
  metrics: (accept?: string) => Promise<string>;
  /** The value of one exposed series line such as `foo{a="b"}`, or undefined. */
  value: (series: string) => Promise<number | undefined>;
  /** SIGTERM (SIGKILL after a grace period); resolves with the exit code once exited. */
  stop: () => Promise<number | null>;
}

/** Agent flags every test agent gets unless it passes its own (ephemeral ports, no /proc walk). */
export const TEST_AGENT_FLAGS = [
  '--statsd.listen-udp=127.0.0.1:0',
  '--statsd.listen-tcp=127.0.0.1:0',
  '--web.listen-address=127.0.0.1:0',
  '--otlp.listen-address=127.0.0.1:0',
  '--host.enabled=false',
];

export async function startAgent(args: string[] = [], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<AgentProcess> {
  const proc = start(process.execPath, [BIN, ...TEST_AGENT_FLAGS, ...args], { cwd: ROOT, env });
  let started: string;
  try {
    const err = await proc.until(() => proc.stderr().includes('redline agent started'), { timeoutMs, what: 'the agent start-up line' });
    started = err.split('\n').find((l) => l.includes('redline agent started'))!;
  } catch (e) {
    await proc.stop();
    throw e;
  }
  const field = (k: string): number | null => {
    const m = new RegExp(`${k}=(\\d+)`).exec(started);
    return m ? Number(m[1]) : null;
  };
  void proc.exited.then(({ code, signal }) => {
    // An agent that dies on its own is a bug worth seeing in the test output.
    if (signal !== 'SIGTERM' && signal !== 'SIGKILL' && code !== 0) process.stderr.write(`agent ${proc.pid} exited (${code ?? signal}):\n${proc.stderr().slice(-4000)}\n`);
  });
  const httpPort = field('http_port')!;
  const url = `http://127.0.0.1:${httpPort}`;
  const metrics = async (accept?: string): Promise<string> => {
    const res = await fetch(`${url}/metrics`, accept ? { headers: { accept } } : {});
    return res.text();
  };
  return {
    proc,
    child: proc.child,
    pid: proc.pid,
    httpPort,
    udpPort: field('udp_port'),
    tcpPort: field('tcp_port'),
    otlpPort: field('otlp_port'),
    url,
    stderr: proc.stderr,
    metrics,
    value: async (series: string) => valueOf(await metrics(), series),
    stop: async () => (await proc.stop()).code,
  };
}

// One reader and one wait for the whole suite; re-exported here because most agent tests want them.
export { valueOf as parseValue } from './exposition.js';
export { eventually, waitFor } from './wait.js';
