/**
 * Small, allocation-light readers of /proc files. Each returns null when the process (or file)
 * is gone or unreadable: a process exiting mid-read is normal, not an error.
 * Reads are synchronous on purpose: measured, a sync read of a small /proc file costs a few µs
 * of CPU, an async one several times that through the thread pool; the collector yields to
 * the event loop between slices of processes instead (see collector.ts).
 */
import fs from 'node:fs';

export const CLOCK_TICKS = 100; // USER_HZ on every Linux architecture Node runs on
export const PAGE_SIZE = 4096;

let root = '/proc';
export function setProcRoot(p: string): void {
  root = p;
}
export function procRoot(): string {
  return root;
}

function read(path: string): string | null {
  try {
    return fs.readFileSync(path, 'latin1');
  } catch {
    return null;
  }
}

export function readText(path: string): string | null {
  return read(`${root}/${path}`);
}

export interface ProcStat {
  comm: string;
  state: string;
  ppid: number;
  /** Clock ticks. */
  utime: number;
  stime: number;
  /** Clock ticks since boot: with the pid, the identity of a process. */
  starttime: number;
  threads: number;
  vsizeBytes: number;
  rssBytes: number;
}

/** /proc/PID/stat (or /proc/PID/task/TID/stat). The comm may hold spaces and parentheses. */
export function readStat(path: string): ProcStat | null {
  const s = read(`${root}/${path}/stat`);
  if (s === null) return null;
  const open = s.indexOf('(');
  const close = s.lastIndexOf(')');
  if (open < 0 || close < 0) return null;
  const f = s.slice(close + 2).split(' ');
  // f[0] is field 3 (state); field N is f[N - 3].
  return {
    comm: s.slice(open + 1, close),
    state: f[0] ?? '?',
    ppid: Number(f[1]),
    utime: Number(f[11]),
    stime: Number(f[12]),
    threads: Number(f[17]),
    starttime: Number(f[19]),
    vsizeBytes: Number(f[20]),
    rssBytes: Number(f[21]) * PAGE_SIZE,
  };
}

export function readCmdline(pid: number): string | null {
  const s = read(`${root}/${pid}/cmdline`);
  if (s === null) return null;
  // Arguments are NUL-separated (with a trailing NUL); matching is on the space-joined line.
  return s.replace(/\0+$/, '').replace(/\0/g, ' ');
}

export function readExe(pid: number): string | null {
  try {
    return fs.readlinkSync(`${root}/${pid}/exe`);
  } catch {
    return null;
  }
}

export interface ProcStatus {
  swapBytes: number;
  voluntary: number;
  involuntary: number;
}

/** VmSwap and context switches from /proc/PID/status or /proc/PID/task/TID/status. */
export function readStatus(path: string): ProcStatus | null {
  const s = read(`${root}/${path}/status`);
  if (s === null) return null;
  return {
    swapBytes: field(s, 'VmSwap:') * 1024,
    voluntary: field(s, 'voluntary_ctxt_switches:'),
    involuntary: field(s, 'nonvoluntary_ctxt_switches:'),
  };
}

function field(text: string, name: string): number {
  const i = text.indexOf(name);
  if (i < 0) return 0;
  let j = i + name.length;
  while (text.charCodeAt(j) === 32 || text.charCodeAt(j) === 9) j++;
  let v = 0;
  for (;;) {
    const c = text.charCodeAt(j++) - 48;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
  }
  return v;
}

/** /proc/PID/task/TID/schedstat: nanoseconds on CPU and waiting on a run queue. */
export function readSchedstat(path: string): { runNs: number; waitNs: number } | null {
  const s = read(`${root}/${path}/schedstat`);
  if (s === null) return null;
  const sp = s.indexOf(' ');
  const sp2 = s.indexOf(' ', sp + 1);
  return { runNs: Number(s.slice(0, sp)), waitNs: Number(s.slice(sp + 1, sp2)) };
}

/** Open file descriptors (the entries of /proc/PID/fd), or null when not readable. */
export function listFds(pid: number): string[] | null {
  try {
    return fs.readdirSync(`${root}/${pid}/fd`);
  } catch {
    return null;
  }
}

export function readLink(path: string): string | null {
  try {
    return fs.readlinkSync(`${root}/${path}`);
  } catch {
    return null;
  }
}

/** The soft limit on open files from /proc/PID/limits (Infinity when unlimited). */
export function readMaxFds(pid: number): number | null {
  const s = read(`${root}/${pid}/limits`);
  if (s === null) return null;
  const m = /Max open files\s+(\d+|unlimited)/.exec(s);
  if (!m) return null;
  return m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
}

/** Lines of /proc/PID/maps: one per memory mapping. */
export function countMaps(pid: number): number | null {
  const s = read(`${root}/${pid}/maps`);
  if (s === null) return null;
  let n = 0;
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

/** Storage bytes read and written (/proc/PID/io); null when not permitted (other users' processes). */
export function readIo(pid: number): { readBytes: number; writeBytes: number } | null {
  const s = read(`${root}/${pid}/io`);
  if (s === null) return null;
  return { readBytes: field(s, '\nread_bytes:'), writeBytes: field(s, '\nwrite_bytes:') };
}

export function listPids(): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const n of names) {
    const c = n.charCodeAt(0);
    if (c >= 48 && c <= 57) out.push(Number(n));
  }
  return out;
}

export function listTids(pid: number): string[] | null {
  try {
    return fs.readdirSync(`${root}/${pid}/task`);
  } catch {
    return null;
  }
}

export interface ListenSocket {
  port: number;
  inode: string;
  /** Current accept-queue length (sk_ack_backlog). */
  queue: number;
}

/** LISTEN sockets from /proc/net/tcp and tcp6: for them rx_queue is the accept-queue length. */
export function readListenSockets(): ListenSocket[] {
  const out: ListenSocket[] = [];
  for (const file of ['net/tcp', 'net/tcp6']) {
    const s = read(`${root}/${file}`);
    if (s === null) continue;
    const lines = s.split('\n');
    for (let i = 1; i < lines.length; i++) {
      const f = lines[i]!.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue;
      const local = f[1]!;
      const port = parseInt(local.slice(local.indexOf(':') + 1), 16);
      const queues = f[4]!;
      const rx = parseInt(queues.slice(queues.indexOf(':') + 1), 16);
      out.push({ port, inode: f[9]!, queue: rx });
    }
  }
  return out;
}
