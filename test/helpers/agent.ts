/**
 * Starts the real agent (`node bin/redline.js`) as a child process on ephemeral 127.0.0.1 ports
 * and reads the ports it bound from its start-up log line. Every agent started here is stopped
 * by its PID in `stop()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'redline.js');

export interface AgentProcess {
  child: ChildProcess;
  pid: number;
  httpPort: number;
  udpPort: number | null;
  tcpPort: number | null;
  url: string;
  stderr: () => string;
  metrics: (accept?: string) => Promise<string>;
  /** The value of one exposed series line such as `foo{a="b"}`, or undefined. */
  value: (series: string) => Promise<number | undefined>;
  stop: () => Promise<number | null>;
}

export async function startAgent(args: string[] = [], env: NodeJS.ProcessEnv = {}, timeoutMs = 15_000): Promise<AgentProcess> {
  const child = spawn(
    process.execPath,
    [BIN, '--statsd.listen-udp=127.0.0.1:0', '--statsd.listen-tcp=127.0.0.1:0', '--web.listen-address=127.0.0.1:0', '--host.enabled=false', ...args],
    { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stdout!.resume();
  const started = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not start within ${timeoutMs} ms:\n${err}`)), timeoutMs);
    child.stderr!.on('data', (d: string) => {
      err += d;
      const line = err.split('\n').find((l) => l.includes('redline agent started'));
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with ${code} before starting:\n${err}`));
    });
  });
  const field = (k: string): number | null => {
    const m = new RegExp(`${k}=(\\d+)`).exec(started);
    return m ? Number(m[1]) : null;
  };
  child.once('exit', (code, signal) => {
    // An agent that dies on its own is a bug worth seeing in the test output.
    if (signal !== 'SIGTERM' && signal !== 'SIGKILL' && code !== 0) process.stderr.write(`agent ${child.pid} exited (${code ?? signal}):\n${err.slice(-4000)}\n`);
  });
  const httpPort = field('http_port')!;
  const url = `http://127.0.0.1:${httpPort}`;
  const metrics = async (accept?: string): Promise<string> => {
    const res = await fetch(`${url}/metrics`, accept ? { headers: { accept } } : {});
    return res.text();
  };
  return {
    child,
    pid: child.pid!,
    httpPort,
    udpPort: field('udp_port'),
    tcpPort: field('tcp_port'),
    url,
    stderr: () => err,
    metrics,
    value: async (series: string) => parseValue(await metrics(), series),
    stop: () =>
      new Promise<number | null>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        const kill = setTimeout(() => process.kill(child.pid!, 'SIGKILL'), 5000);
        child.once('exit', (code) => {
          clearTimeout(kill);
          resolve(code);
        });
        process.kill(child.pid!, 'SIGTERM');
      }),
  };
}

export function parseValue(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    const sp = line.lastIndexOf(' ');
    if (sp > 0 && line.slice(0, sp) === series) return Number(line.slice(sp + 1));
  }
  return undefined;
}

/** Polls `fn` until it returns a value that `ok` accepts, or the deadline passes. */
export async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000, stepMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await fn();
  while (!ok(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, stepMs));
    last = await fn();
  }
  return last;
}
