/**
 * The per-process reader: one matched process, known by (pid, start time), read from /proc each
 * tick. It keeps that process's last readings and adds its deltas (CPU, I/O, context switches,
 * run-queue wait) into the totals of the group it belongs to; group bookkeeping is collector.ts.
 *
 * Cost (bench/host-collector): stat, the fd directory's size, io every tick; status and
 * per-thread context switches every SLOW_EVERY ticks; the thread list when the thread count moved
 * or a listed thread vanished; limits and maps every RARE_EVERY
 * ticks (every tick past half their limits); per thread one schedstat pread, skipped for threads
 * idle on their last two readings while the process's CPU is accounted for by the others.
 */
import * as proc from './procfs.js';

/** What a member adds into its group: monotonic totals that survive the member's exit. */
export interface GroupTotals {
  cpuUser: number;
  cpuSystem: number;
  voluntary: number;
  involuntary: number;
  readBytes: number;
  writeBytes: number;
  waitSeconds: number;
}

interface ThreadState {
  runNs: number;
  waitNs: number;
  /** Switch-ins when its status was last read: unchanged means no context switch since. */
  slicesAtStatus: number;
  voluntary: number;
  involuntary: number;
  /** The tick it was last read in (threads not seen when the list is re-read have exited). */
  seen: number;
  /** When it was last read (ms), and the span (s), CPU (ns) and run-queue wait (ns) of its last reading. */
  readAt: number;
  span: number;
  lastNs: number;
  lastWaitNs: number;
  /** Consecutive readings with under 1 ms of CPU and wait: from 2 on, it is skipped while the process's CPU is accounted for. */
  idleReads: number;
}

/** Reused for every schedstat and io read (no allocation per thread or process). */
const SCHED: proc.Schedstat = { runNs: 0, waitNs: 0, slices: 0 };
const IO = { readBytes: 0, writeBytes: 0 };

/** Costly or slow-moving readings (status, maps, per-thread context switches) every N ticks. */
export const SLOW_EVERY = 5;
/** The fd limit and the memory-map count every N ticks (every tick past half their limit). */
export const RARE_EVERY = 10;

export class Member<G extends GroupTotals = GroupTotals> {
  utime = 0;
  stime = 0;
  readBytes = 0;
  writeBytes = 0;
  maxFds: number | null = null;
  limitsAge = 0;
  mapsAge = 0;
  threads = new Map<number, ThreadState>();
  tids: number[] | null = null;
  /** A listed thread could not be read (it exited): the list is read again next tick. */
  threadGone = false;
  slowAge = 0;
  /** Listening socket inodes among its descriptors (listeners.ts), and whether they were scanned. */
  listenInodes = new Set<string>();
  socketsScanned = false;
  // Latest gauges.
  fds = 0;
  threadCount = 0;
  rss = 0;
  vsize = 0;
  swap = 0;
  maps = 0;
  /** Busiest thread: cores received, and cores asked for (received + run-queue wait). */
  busiest = 0;
  busiestDemand = 0;
  /** The whole process over the last interval: cores received, and cores asked for. */
  cpuCores = 0;
  demandCores = 0;
  fresh = true;

  constructor(
    readonly pid: number,
    readonly start: number,
    readonly group: G,
  ) {}

  /**
   * The process exec()ed another program but stays in its group: what belonged to the old image
   * (threads, maps, descriptors) is read afresh; counters carry on.
   */
  execed(): void {
    for (const tid of this.threads.keys()) proc.forgetThread(this.pid, tid);
    this.threads.clear();
    this.tids = null;
    this.threadGone = false;
    this.slowAge = 0;
    this.mapsAge = 0;
    this.limitsAge = 0;
    this.maxFds = null;
    this.socketsScanned = false;
  }

  /** One reading; `tick` numbers the collector's ticks, `maxMapCount` is vm.max_map_count. */
  read(stat: proc.ProcStat, elapsedS: number, tick: number, maxMapCount: number): void {
    const g = this.group;
    const pid = this.pid;
    // CPU: deltas since the last tick (the whole history when first seen) go into the group.
    const du = Math.max(0, stat.utime - this.utime);
    const ds = Math.max(0, stat.stime - this.stime);
    g.cpuUser += du / proc.CLOCK_TICKS;
    g.cpuSystem += ds / proc.CLOCK_TICKS;
    const measured = !this.fresh && elapsedS > 0;
    this.cpuCores = measured ? (du + ds) / proc.CLOCK_TICKS / elapsedS : 0;
    this.utime = stat.utime;
    this.stime = stat.stime;
    this.threadCount = stat.threads;
    this.rss = stat.rssBytes;
    this.vsize = stat.vsizeBytes;

    // Cheap and fast-moving: every tick. Slow-moving or costly (status, per-thread status for
    // context switches): every SLOW_EVERY ticks. The fd limit and the maps (the kernel formats
    // every mapping: ~120 µs for a Node process) every 10th tick, and every tick once the
    // process is past half its limit, where they matter (netdata's rule for limits).
    const slow = this.slowAge-- <= 0;
    if (slow) this.slowAge = SLOW_EVERY - 1;
    const fds = proc.countFds(pid);
    if (fds !== null) this.fds = fds;
    const fdsHigh = this.maxFds !== null && this.fds > this.maxFds / 2;
    if (this.maxFds === null || fdsHigh || this.limitsAge-- <= 0) {
      this.maxFds = proc.readMaxFds(pid);
      this.limitsAge = RARE_EVERY - 1;
    }
    const status = slow ? proc.readStatus(pid) : null;
    if (status !== null) this.swap = status.swapBytes;
    if (this.mapsAge-- <= 0 || this.maps > maxMapCount / 2) {
      const maps = proc.countMaps(pid);
      if (maps !== null) this.maps = maps;
      this.mapsAge = RARE_EVERY - 1;
    }
    if (proc.readIo(pid, IO)) {
      g.readBytes += Math.max(0, IO.readBytes - this.readBytes);
      g.writeBytes += Math.max(0, IO.writeBytes - this.writeBytes);
      this.readBytes = IO.readBytes;
      this.writeBytes = IO.writeBytes;
    }

    // Threads: the busiest one, run-queue wait and context switches summed over all of them.
    // A process that used no CPU since the last tick (less than one clock tick, 10 ms) has no
    // busy thread and no new waits worth a read per thread: its threads are skipped, and read
    // again, with deltas over the whole span, once it runs. Idle injectors and services between
    // bursts cost a few reads instead of two per thread.
    const now = Date.now();
    const idle = !this.fresh && du + ds === 0 && !slow;
    let busiest = 0;
    let busiestDemand = 0;
    let waitNs = 0;
    if (!idle) {
      // The thread list (a readdir, dearer than all the threads' schedstat reads together) is
      // read again when the count moved or a listed thread is gone (a replaced thread: every
      // listed one is read on slow ticks, so a vanished one is noticed within SLOW_EVERY ticks).
      if (this.tids === null || this.threadGone || stat.threads !== this.tids.length) {
        this.tids = proc.listTids(pid);
        this.threadGone = false;
      }
      if (this.tids !== null) {
        // Threads idle on their last two readings are "cold" and skipped, unless the process's
        // CPU since the last tick is more than the threads read account for (then a cold one
        // woke up: all are read). The busiest thread stays exact to a clock tick; a skipped
        // thread's run-queue wait is counted when it is next read (every slow tick at least).
        let skipped = false;
        let readNs = 0;
        for (const tid of this.tids) {
          const prev = this.threads.get(tid);
          if (!slow && prev !== undefined && prev.idleReads >= 2) {
            skipped = true;
            continue;
          }
          const r = this.readThread(tid, slow, status, now, tick);
          if (r >= 0) readNs += r;
          else this.threadGone = true;
        }
        const procNs = ((du + ds) * 1e9) / proc.CLOCK_TICKS;
        if (skipped && procNs - readNs > (2 * 1e9) / proc.CLOCK_TICKS) {
          for (const tid of this.tids) {
            const prev = this.threads.get(tid);
            if (prev !== undefined && prev.idleReads >= 2 && prev.seen !== tick) this.readThread(tid, slow, status, now, tick);
          }
        }
        for (const t of this.threads.values()) {
          if (t.seen !== tick || t.span <= 0) continue;
          busiest = Math.max(busiest, t.lastNs / 1e9 / t.span);
          busiestDemand = Math.max(busiestDemand, (t.lastNs + t.lastWaitNs) / 1e9 / t.span);
          waitNs += t.lastWaitNs;
        }
        if (slow) {
          for (const [tid, t] of this.threads) {
            if (t.seen === tick) continue;
            this.threads.delete(tid);
            proc.forgetThread(pid, tid);
          }
        }
      }
    }
    this.busiest = Math.min(busiest, 1);
    this.busiestDemand = Math.min(busiestDemand, 1);
    this.demandCores = measured ? this.cpuCores + waitNs / 1e9 / elapsedS : 0;
    this.fresh = false;
  }

  /**
   * Reads one thread's schedstat (and, on slow ticks, its status when it was switched in since):
   * adds its run-queue wait and context switches to the group. Returns the CPU nanoseconds it
   * used since its last reading (0 when first seen), or -1 when it is gone.
   */
  private readThread(tid: number, slow: boolean, status: proc.ProcStatus | null, now: number, tick: number): number {
    const g = this.group;
    if (!proc.readThreadSchedstat(this.pid, tid, SCHED)) return -1;
    let prev = this.threads.get(tid);
    let delta = 0;
    let waitDelta = 0;
    if (prev === undefined) {
      // First sight: its whole history joins the group's counters, as a new process's CPU does.
      prev = { runNs: SCHED.runNs, waitNs: SCHED.waitNs, slicesAtStatus: -1, voluntary: 0, involuntary: 0, seen: 0, readAt: now, idleReads: 0, lastNs: 0, lastWaitNs: 0, span: 0 };
      this.threads.set(tid, prev);
      g.waitSeconds += SCHED.waitNs / 1e9;
    } else {
      delta = Math.max(0, SCHED.runNs - prev.runNs);
      waitDelta = Math.max(0, SCHED.waitNs - prev.waitNs);
      g.waitSeconds += waitDelta / 1e9;
      prev.span = (now - prev.readAt) / 1000;
      // A thread starved of CPU (runnable, waiting) is not idle.
      prev.idleReads = delta + waitDelta < 1e6 ? prev.idleReads + 1 : 0;
    }
    prev.lastNs = delta;
    prev.lastWaitNs = waitDelta;
    prev.readAt = now;
    prev.runNs = SCHED.runNs;
    prev.waitNs = SCHED.waitNs;
    prev.seen = tick;
    // Context switches: a thread not switched in since its status was last read has the same
    // counts (the main thread's come with the process status already read).
    if (slow && SCHED.slices !== prev.slicesAtStatus) {
      const st = tid === this.pid ? status : proc.readStatus(this.pid, tid);
      if (st !== null) {
        g.voluntary += Math.max(0, st.voluntary - prev.voluntary);
        g.involuntary += Math.max(0, st.involuntary - prev.involuntary);
        prev.voluntary = st.voluntary;
        prev.involuntary = st.involuntary;
        prev.slicesAtStatus = SCHED.slices;
      }
    }
    return delta;
  }
}
