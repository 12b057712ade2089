/**
 * Shared helpers for benchmarks: per-process CPU from /proc, RSS, and writing one section of
 * bench/RESULTS.md without touching the others.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = [path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'), path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')].find((p) =>
  fs.existsSync(path.join(p, 'package.json')),
)!;

/** CPU time of every thread of a process, in nanoseconds (from /proc/PID/task/TID/schedstat). */
export function cpuNs(pid: number): number {
  let total = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
    } catch {
      // A thread that exited between readdir and read.
    }
  }
  return total;
}

/** Resident memory of a process in bytes. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Replaces (or appends) the section under `## heading` in bench/RESULTS.md. */
export function writeSection(heading: string, body: string): void {
  const file = path.join(ROOT, 'bench', 'RESULTS.md');
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmark results\n\nEach section is written by the benchmark named in it; rerun it to refresh.\n';
  const marker = `## ${heading}\n`;
  const start = text.indexOf(marker);
  if (start === -1) {
    text = text.trimEnd() + '\n\n' + marker + body.trimEnd() + '\n';
  } else {
    const next = text.indexOf('\n## ', start + marker.length);
    text = text.slice(0, start) + marker + body.trimEnd() + '\n' + (next === -1 ? '' : text.slice(next));
  }
  fs.writeFileSync(file, text);
}

export function machineLine(): string {
  const cpus = fs.readFileSync('/proc/cpuinfo', 'latin1').match(/model name\s*:\s*(.*)/);
  return `${cpus?.[1] ?? 'unknown CPU'}, ${fs.readFileSync('/proc/cpuinfo', 'latin1').match(/^processor/gm)?.length ?? '?'} cores, Node ${process.versions.node}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The command line that runs `cmd` pinned to one CPU (taskset), or `cmd` as it is where taskset is missing. */
export const pin = (cpu: number, cmd: string[]): [string, string[]] => (fs.existsSync('/usr/bin/taskset') ? ['taskset', ['-c', String(cpu), ...cmd]] : [cmd[0]!, cmd.slice(1)]);

/** Stops a benchmark's child: SIGTERM, SIGKILL after 3 s; resolves once it has exited. */
export function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** What bench/statsd-sender.js reports when it is done. */
export interface Sent {
  lines: number;
  elapsedMs: number;
}

/** Runs bench/statsd-sender.js on CPU 1: `rate` lines a second (0: flat out) to 127.0.0.1:`port` over UDP for `ms`. */
export function sendStatsd(port: number, rate: number, ms: number): Promise<Sent> {
  const [cmd, argv] = pin(1, [process.execPath, path.join(ROOT, 'dist', 'bench', 'statsd-sender.js'), String(port), String(rate), String(ms)]);
  const sender = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  sender.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise<Sent>((resolve) => sender.once('exit', () => resolve(JSON.parse(out) as Sent)));
}
