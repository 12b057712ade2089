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

/**
 * Per-process files are read through descriptors kept open between ticks: one pread() a tick
 * instead of open + fstat + read + close (measured: ~4x cheaper). A descriptor on
 * /proc/PID/stat belongs to that process: once it exits, reads fail (ESRCH) even if the pid is
 * reused, so identity comes for free. `forget(pid)` closes them when the process is gone.
 */
const fds = new Map<number, Map<string, number>>();
const scratch = Buffer.allocUnsafe(256 * 1024);
// Small files are read into a small buffer: measured, a pread of /proc/PID/stat into 4 KiB costs
// ~30% less CPU than into 256 KiB. A file that fills it is read again into `scratch`.
const small = Buffer.allocUnsafe(4096);

function keptFd(pid: number, sub: string): number {
  let files = fds.get(pid);
  if (files === undefined) fds.set(pid, (files = new Map()));
  let fd = files.get(sub);
  if (fd === undefined) {
    fd = fs.openSync(`${root}/${pid}/${sub}`, 'r');
    files.set(sub, fd);
  }
  return fd;
}

function drop(pid: number, sub: string): void {
  const files = fds.get(pid);
  const fd = files?.get(sub);
  if (fd === undefined) return;
  try {
    fs.closeSync(fd);
  } catch {
    // Already closed.
  }
  files!.delete(sub);
}

/** Reads /proc/PID/<sub> into `buf` through a kept descriptor; returns the length or -1. */
function preadPid(pid: number, sub: string, buf: Buffer = scratch): number {
  try {
    return fs.readSync(keptFd(pid, sub), buf, 0, buf.length, 0);
  } catch {
    drop(pid, sub);
    return -1;
  }
}

/** Reads a small /proc/PID/<sub> into `small` (or, when larger, into `scratch`); returns the buffer and length. */
function preadSmall(pid: number, sub: string): { buf: Buffer; n: number } | null {
  const n = preadPid(pid, sub, small);
  if (n < 0) return null;
  if (n < small.length) return { buf: small, n };
  const m = preadPid(pid, sub, scratch);
  return m < 0 ? null : { buf: scratch, n: m };
}

const ONE = Buffer.allocUnsafe(1);

/**
 * Does the process still run the program image it ran when this was first asked? One pread of
 * a byte of /proc/PID/environ through a kept descriptor: that descriptor holds the address space
 * it was opened on, so once the process exec()s (a new address space) or exits, reads return 0
 * bytes, even if the comm and the executable stay the same (a Python that forks, then execs
 * `python3 locustfile.py`) and even if the pid is reused. Returns false then, or when the file is
 * not readable (another user's process, a kernel thread, an empty environment): the caller falls
 * back to `commIs`. Measured: about twice a comm read (the kernel copies from the address space),
so unmatched processes are checked every other tick (classify.ts).
 */
export function sameImage(pid: number): boolean {
  return preadPid(pid, 'environ', ONE) > 0;
}

/** The comm as read from /proc/PID/comm (with its newline), for `commIs`. */
export function commBytes(comm: string): Buffer {
  return Buffer.from(`${comm}\n`, 'latin1');
}

/**
 * Is the process behind this pid alive and its comm still `expected` (from `commBytes`)? One
 * pread through a kept descriptor, which fails once the process exits (even with the pid
 * reused); exec changes the comm to the new program's name.
 */
export function commIs(pid: number, expected: Buffer): boolean {
  const n = preadPid(pid, 'comm', small);
  return n === expected.length && small.compare(expected, 0, n, 0, n) === 0;
}

/**
 * Counts lines of /proc/PID/<sub> without making a string. seq_file hands out about a page per
 * read, so large files (maps of a big process: tens of KiB) take several preads.
 */
export function countLinesOf(pid: number, sub: string): number | null {
  let n = preadPid(pid, sub);
  if (n < 0) return null;
  const fd = fds.get(pid)?.get(sub);
  let offset = 0;
  let c = 0;
  for (let rounds = 0; n > 0 && rounds < 100_000; rounds++) {
    for (let i = scratch.indexOf(10, 0); i !== -1 && i < n; i = scratch.indexOf(10, i + 1)) c++;
    offset += n;
    try {
      n = fd === undefined ? 0 : fs.readSync(fd, scratch, 0, scratch.length, offset);
    } catch {
      return null;
    }
  }
  return c;
}

/**
 * Open descriptors of a process: the size Linux ≥ 6.2 reports for /proc/PID/fd (an fstat of a
 * kept directory descriptor: no path lookup), else a readdir.
 */
export function countFds(pid: number): number | null {
  try {
    const size = fs.fstatSync(keptFd(pid, 'fd')).size;
    if (size > 0) return size;
  } catch {
    drop(pid, 'fd');
    return null;
  }
  const list = listFds(pid);
  return list === null ? null : list.length;
}

const VOL = Buffer.from('\nvoluntary_ctxt_switches:');
const NONVOL = Buffer.from('\nnonvoluntary_ctxt_switches:');
const SWAP = Buffer.from('\nVmSwap:');
const NOFILE = Buffer.from('\nMax open files');

/**
 * The decimal after `key` (and blanks) in buf[0, n), or -1 when the key is absent. Bytes past n
 * are stale (an earlier, longer read): a key there is found only when the fresh part lacks it,
 * at or past n, and counts as absent, so no view of the fresh part is needed (one allocation per
 * read less).
 */
function numberAfter(buf: Buffer, n: number, key: Buffer): number {
  const i = buf.indexOf(key);
  if (i < 0 || i + key.length >= n) return -1;
  let j = i + key.length;
  while (j < n && (buf[j] === 32 || buf[j] === 9)) j++;
  let v = 0;
  let digits = 0;
  for (; j < n; j++, digits++) {
    const c = buf[j]! - 48;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
  }
  return digits === 0 ? -1 : v;
}

/** Closes the descriptors kept for a process (it exited, or is no longer watched in detail). */
export function forget(pid: number, keep?: string): void {
  const files = fds.get(pid);
  if (files === undefined) return;
  for (const [sub, fd] of files) {
    if (sub === keep) continue;
    try {
      fs.closeSync(fd);
    } catch {
      // Already closed.
    }
    files.delete(sub);
  }
  if (files.size === 0) fds.delete(pid);
}

/** Pids with descriptors kept open (for closing those of vanished processes). */
export function trackedPids(): IterableIterator<number> {
  return fds.keys();
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
  /**
   * Start of the main stack (randomised at every exec, so a changed value means the process
   * exec()ed); 0 when the kernel hides it (another user's process).
   */
  startstack: number;
}

/** Field numbers (man 5 proc) of /proc/PID/stat that readStat keeps. */
const STAT_PPID = 4;
const STAT_UTIME = 14;
const STAT_STIME = 15;
const STAT_THREADS = 20;
const STAT_STARTTIME = 22;
const STAT_VSIZE = 23;
const STAT_RSS = 24;
const STAT_STARTSTACK = 28;

/**
 * /proc/PID/stat, parsed from bytes (the comm is the one string made: measured, splitting the
 * line into 50 strings cost about half of the whole read). The comm may hold spaces and
 * parentheses: it runs from the first "(" to the last ")".
 */
export function readStat(pid: number): ProcStat | null {
  const r = preadSmall(pid, 'stat');
  if (r === null || r.n === 0) return null;
  const { buf, n } = r;
  const open = buf.indexOf(40 /* ( */);
  const close = buf.lastIndexOf(41 /* ) */, n - 1);
  if (open < 0 || close < open || close + 2 >= n) return null;
  const out: ProcStat = { comm: buf.toString('latin1', open + 1, close), state: String.fromCharCode(buf[close + 2]!), ppid: 0, utime: 0, stime: 0, threads: 0, starttime: 0, vsizeBytes: 0, rssBytes: 0, startstack: 0 };
  // Field 3 (state) starts at close + 2; numbers from field 4 on. Signed fields (priority, nice)
  // may hold a "-": none is kept, and the running number starts again at the next blank.
  let fieldNo = 3;
  let v = 0;
  for (let i = close + 4; i < n && fieldNo < STAT_STARTSTACK; i++) {
    const c = buf[i]!;
    if (c !== 32 && c !== 10) {
      v = v * 10 + (c - 48);
      continue;
    }
    fieldNo++;
    if (fieldNo === STAT_PPID) out.ppid = v;
    else if (fieldNo === STAT_UTIME) out.utime = v;
    else if (fieldNo === STAT_STIME) out.stime = v;
    else if (fieldNo === STAT_THREADS) out.threads = v;
    else if (fieldNo === STAT_STARTTIME) out.starttime = v;
    else if (fieldNo === STAT_VSIZE) out.vsizeBytes = v;
    else if (fieldNo === STAT_RSS) out.rssBytes = v * PAGE_SIZE;
    else if (fieldNo === STAT_STARTSTACK) out.startstack = v;
    v = 0;
  }
  return out;
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

/** VmSwap and context switches from /proc/PID/status or /proc/PID/task/TID/status, parsed from bytes. */
export function readStatus(pid: number, tid?: number): ProcStatus | null {
  const r = preadSmall(pid, tid === undefined ? 'status' : `task/${tid}/status`);
  if (r === null || r.n === 0) return null;
  const buf = r.buf;
  return {
    swapBytes: Math.max(0, numberAfter(buf, r.n, SWAP)) * 1024,
    voluntary: Math.max(0, numberAfter(buf, r.n, VOL)),
    involuntary: Math.max(0, numberAfter(buf, r.n, NONVOL)),
  };
}

export interface Schedstat {
  /** Nanoseconds on a CPU. */
  runNs: number;
  /** Nanoseconds runnable but waiting on a run queue. */
  waitNs: number;
  /** Times the thread was switched in (any context switch ends with one). */
  slices: number;
}

/**
 * /proc/PID/task/TID/schedstat ("run wait slices\n"), parsed from bytes into `out`.
 * Returns false when the thread is gone.
 */
export function readThreadSchedstat(pid: number, tid: number, out: Schedstat): boolean {
  const n = preadPid(pid, `task/${tid}/schedstat`, small);
  if (n <= 0) return false;
  let field = 0;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = small[i]! - 48;
    if (c >= 0 && c <= 9) {
      v = v * 10 + c;
      continue;
    }
    if (field === 0) out.runNs = v;
    else if (field === 1) out.waitNs = v;
    else out.slices = v;
    v = 0;
    if (++field === 3) break;
  }
  return field >= 2;
}

/** Forgets the kept descriptors of one thread (it exited). */
export function forgetThread(pid: number, tid: number): void {
  drop(pid, `task/${tid}/schedstat`);
  drop(pid, `task/${tid}/status`);
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
  const r = preadSmall(pid, 'limits');
  if (r === null) return null;
  const buf = r.buf;
  const i = buf.indexOf(NOFILE);
  if (i < 0 || i + NOFILE.length >= r.n) return null;
  // "Max open files            1024                 524288               files"
  let j = i + NOFILE.length;
  while (j < r.n && buf[j] === 32) j++;
  if (buf[j] === 117 /* u */) return Number.POSITIVE_INFINITY;
  const v = numberAfter(buf, r.n, NOFILE);
  return v < 0 ? null : v;
}

/** Lines of /proc/PID/maps: one per memory mapping. */
export function countMaps(pid: number): number | null {
  return countLinesOf(pid, 'maps');
}

const READ_BYTES = Buffer.from('\nread_bytes:');
const WRITE_BYTES = Buffer.from('\nwrite_bytes:');

/**
 * Storage bytes read and written (/proc/PID/io), parsed from bytes into `out`; false when not
 * permitted (other users' processes) or gone.
 */
export function readIo(pid: number, out: { readBytes: number; writeBytes: number }): boolean {
  const r = preadSmall(pid, 'io');
  if (r === null || r.n === 0) return false;
  const buf = r.buf;
  out.readBytes = Math.max(0, numberAfter(buf, r.n, READ_BYTES));
  out.writeBytes = Math.max(0, numberAfter(buf, r.n, WRITE_BYTES));
  return true;
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

export function listTids(pid: number): number[] | null {
  try {
    return fs.readdirSync(`${root}/${pid}/task`).map(Number);
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

/**
 * LISTEN sockets from /proc/net/tcp and tcp6: for them rx_queue is the accept-queue length.
 * Read on the thread pool: the kernel walks its whole socket hash table to produce these files
 * (milliseconds even with few sockets), which must not hold the event loop.
 */
export async function readListenSockets(): Promise<ListenSocket[]> {
  const out: ListenSocket[] = [];
  for (const file of ['net/tcp', 'net/tcp6']) {
    let s: string;
    try {
      s = await fs.promises.readFile(`${root}/${file}`, 'latin1');
    } catch {
      continue;
    }
    parseListen(s, out);
  }
  return out;
}

export function parseListen(s: string, out: ListenSocket[]): void {
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
