/**
 * The host collector: every `intervalMs`, reads /proc for the host and for the processes of
 * each group (system under test, injectors), and publishes per-group series.
 *
 * Cost model (the targets: ≤ 70 µs per matched process, ≤ 5 µs per unmatched one):
 * - an unmatched process costs one read of /proc/PID/stat per tick (its identity: pid + start
 *   time); its command line is read once per identity and cached;
 * - a matched process costs stat, status, fd directory, maps, io, and per thread schedstat and
 *   status (for the busiest thread and the context switches summed over threads);
 * - reads are synchronous and small; the tick yields to the event loop every few processes so
 *   statsd datagrams keep flowing.
 */
import { spawn } from 'node:child_process';
import type { Store, OwnMetric } from '../../core/store.js';
import * as proc from './procfs.js';
import { HostMetrics } from './host.js';
import { Periodic } from '../../core/periodic.js';
import { matches, type GroupSpec, type Role } from './groups.js';

export interface HostOptions {
  intervalMs: number;
  perProcess: boolean;
  groups: GroupSpec[];
  procRoot?: string;
  /**
   * Read accept queues from /proc/net/tcp{,6} (default true). The kernel walks its whole socket
   * table to produce those files: milliseconds a tick however few sockets there are.
   */
  listenQueues?: boolean;
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
  /** When it was last read (ms), and the span (s) and CPU (ns) of its last reading. */
  readAt: number;
  span: number;
  lastNs: number;
  /** Consecutive readings with under 1 ms of CPU: from 2 on, it is skipped while the process's CPU is accounted for. */
  idleReads: number;
}

/** Reused for every schedstat read (no allocation per thread). */
const SCHED: proc.Schedstat = { runNs: 0, waitNs: 0, slices: 0 };

/** Costly or slow-moving readings (status, maps, per-thread context switches) every N ticks. */
const SLOW_EVERY = 5;
/** The fd limit and the memory-map count every N ticks (every tick past half their limit). */
const RARE_EVERY = 10;

/** One matched process, known by (pid, start time). */
class Member {
  utime = 0;
  stime = 0;
  readBytes = 0;
  writeBytes = 0;
  maxFds: number | null = null;
  limitsAge = 0;
  mapsAge = 0;
  threads = new Map<number, ThreadState>();
  tids: number[] | null = null;
  slowAge = 0;
  listenInodes = new Set<string>();
  socketsScanned = false;
  // Latest gauges.
  fds = 0;
  threadCount = 0;
  rss = 0;
  vsize = 0;
  swap = 0;
  maps = 0;
  busiest = 0;
  cpuCores = 0;
  fresh = true;

  constructor(
    readonly pid: number,
    readonly start: number,
    readonly group: GroupState,
  ) {}
}

class GroupState {
  members = new Map<number, Member>();
  started = 0;
  exited = 0;
  cpuUser = 0;
  cpuSystem = 0;
  voluntary = 0;
  involuntary = 0;
  readBytes = 0;
  writeBytes = 0;
  waitSeconds = 0;
  constructor(readonly spec: GroupSpec) {}
  get labels(): [string, Role] {
    return [this.spec.name, this.spec.role];
  }
}

interface Classified {
  start: number;
  /** Index into the groups, or -1 for an unmatched process. */
  group: number;
}

const SLICE_NS = 1_000_000n;
const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

export class HostCollector {
  private readonly groups: GroupState[];
  private readonly cls = new Map<number, Classified>();
  private readonly members = new Map<number, Member>();
  private readonly host: HostMetrics;
  private readonly periodic: Periodic;
  private lastTick = 0;
  private tickCount = 0;
  private maxMapCount = 65530;
  /** Backlog limit by listening socket inode (from `ss`). */
  private backlog = new Map<string, number>();
  private ssRunning = false;
  /** The tick `ss` last ran in; and whether it is not installed (then no limits, no retries). */
  private ssTick = -1000;
  private ssMissing = false;
  private listenInodes = new Set<string>();
  private readonly m: Record<string, OwnMetric>;
  private readonly errors = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly opts: HostOptions,
  ) {
    if (opts.procRoot) proc.setProcRoot(opts.procRoot);
    this.groups = opts.groups.map((g) => new GroupState(g));
    const seen = new Set<string>();
    for (const g of opts.groups) {
      if (seen.has(g.name)) throw new Error(`process group ${JSON.stringify(g.name)} is declared twice`);
      seen.add(g.name);
    }
    const GR = ['group', 'role'];
    this.m = {
      count: store.gauge('redline_process_count', 'Processes in the group now.', GR),
      started: store.counter('redline_process_started_total', 'Processes that joined the group (started, or first seen).', GR),
      exited: store.counter('redline_process_exited_total', 'Processes of the group that exited.', GR),
      fds: store.gauge('redline_process_open_fds', 'Open file descriptors, summed over the group (/proc/PID/fd).', GR),
      maxFds: store.gauge('redline_process_max_fds', 'File descriptor limits (soft RLIMIT_NOFILE), summed over the group (/proc/PID/limits).', GR),
      fdRatio: store.gauge('redline_process_fd_ratio', 'The worst open/limit file descriptor ratio of any process in the group (0-1).', GR),
      threads: store.gauge('redline_process_threads', 'Threads, summed over the group (/proc/PID/stat).', GR),
      cpu: store.counter('redline_process_cpu_seconds_total', 'CPU time of the group by mode (user, system), in seconds; never goes back when members exit (/proc/PID/stat).', [...GR, 'mode']),
      cpuCores: store.gauge('redline_process_cpu_cores', 'CPU used by the group over the last interval, in cores.', GR),
      busiestProcess: store.gauge('redline_process_busiest_process_cpu_ratio', 'Cores used by the busiest single process of the group over the last interval.', GR),
      busiest: store.gauge('redline_process_busiest_thread_cpu_ratio', "Cores used by the group's busiest single thread over the last interval (0-1): 1 means a single-threaded process is saturated (/proc/PID/task/TID/schedstat).", GR),
      memory: store.gauge('redline_process_memory_bytes', 'Memory of the group by type (resident, virtual, swap), in bytes.', [...GR, 'type']),
      maps: store.gauge('redline_process_memory_maps', 'Memory mappings (lines of /proc/PID/maps), summed over the group.', GR),
      mapsRatio: store.gauge('redline_process_memory_maps_ratio', 'The worst ratio of memory mappings to vm.max_map_count of any process in the group (0-1).', GR),
      ctx: store.counter('redline_process_context_switches_total', 'Context switches by type (voluntary, involuntary), summed over all threads of the group (/proc/PID/task/TID/status).', [...GR, 'type']),
      io: store.counter('redline_process_io_bytes_total', 'Storage bytes by direction (read, write), where readable (/proc/PID/io).', [...GR, 'direction']),
      wait: store.counter('redline_process_runqueue_wait_seconds_total', 'Time threads of the group spent runnable but waiting for a CPU, in seconds (/proc/PID/task/TID/schedstat).', GR),
      listenQueue: store.gauge('redline_listen_queue_length', 'Connections waiting in the accept queue of the group\'s listening TCP port (/proc/net/tcp rx_queue).', [...GR, 'port']),
      listenLimit: store.gauge('redline_listen_queue_limit', 'Accept queue limit (backlog) of the group\'s listening TCP port (from `ss -ltn`); the queue overflows at limit + 1.', [...GR, 'port']),
      injectors: store.gauge('redline_injector_processes', 'Load-injector processes running now, by injector group.', ['group']),
      injectorCores: store.gauge('redline_injector_cpu_cores', 'CPU used by the injector group over the last interval, in cores.', ['group']),
      duration: store.gauge('redline_host_collector_duration_seconds', 'Wall time of the last host collector tick, in seconds.'),
      busy: store.counter('redline_host_collector_busy_seconds_total', 'Time the host collector spent reading /proc (its cost), in seconds.'),
      ticks: store.counter('redline_host_collector_ticks_total', 'Host collector ticks run.'),
      skipped: store.counter('redline_host_collector_skipped_ticks_total', 'Ticks skipped because the previous one was still running.'),
      errors: store.counter('redline_host_collector_errors_total', 'Reads that failed for a reason other than a process exiting, by reader.', ['reader']),
      seen: store.gauge('redline_host_collector_processes', 'Processes seen on the host in the last tick, by whether a group matched them.', ['matched']),
      pidCpu: store.counter('redline_pid_cpu_seconds_total', 'Per-process CPU time by mode (only with --host.per-process).', [...GR, 'pid', 'mode']),
      pidFds: store.gauge('redline_pid_open_fds', 'Per-process open file descriptors (only with --host.per-process).', [...GR, 'pid']),
      pidThreads: store.gauge('redline_pid_threads', 'Per-process threads (only with --host.per-process).', [...GR, 'pid']),
      pidRss: store.gauge('redline_pid_resident_memory_bytes', 'Per-process resident memory in bytes (only with --host.per-process).', [...GR, 'pid']),
      pidBusiest: store.gauge('redline_pid_busiest_thread_cpu_ratio', 'Per-process busiest thread, in cores (only with --host.per-process).', [...GR, 'pid']),
    };
    this.host = new HostMetrics(store, (reader) => this.error(reader));
    this.periodic = new Periodic(
      opts.intervalMs,
      () => this.tick(),
      () => this.m['skipped']!.inc(),
      () => this.error('tick'),
    );
    for (const g of this.groups) this.publishGroup(g, 0);
    // Published from the start at 0, so rate() and the agent dashboard have a series to read.
    this.m['skipped']!.inc([], 0);
    for (const reader of ['host_stat', 'host_loadavg', 'host_meminfo', 'host_netstat', 'host_sockstat', 'ss', 'tick']) this.m['errors']!.inc([reader], 0);
    const mmc = proc.readText('sys/vm/max_map_count');
    if (mmc !== null) this.maxMapCount = Number(mmc.trim()) || this.maxMapCount;
  }

  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  private error(reader: string): void {
    this.errors.set(reader, (this.errors.get(reader) ?? 0) + 1);
    this.m['errors']!.set([reader], this.errors.get(reader)!);
  }

  /** Which group a pid belongs to (classifying it now if it is new). */
  groupOf(pid: number): { group: string; role: Role } | null {
    const stat = proc.readStat(pid);
    if (stat === null) return null;
    const idx = this.classify(pid, stat, 0);
    if (idx < 0) return null;
    const g = this.groups[idx]!;
    return { group: g.spec.name, role: g.spec.role };
  }

  private classify(pid: number, stat: proc.ProcStat, depth: number): number {
    const known = this.cls.get(pid);
    if (known !== undefined && known.start === stat.starttime) return known.group;
    let group = -1;
    // The agent itself never joins a group, even when its own command line holds the pattern
    // (`redline --injector locust=locust` must not count itself as a locust).
    if (this.groups.length > 0 && pid !== process.pid) {
      const cmdline = proc.readCmdline(pid) ?? '';
      const needsExe = this.groups.some((g) => g.spec.exe);
      const id = { comm: stat.comm, cmdline, exe: needsExe ? proc.readExe(pid) : null };
      group = this.groups.findIndex((g) => matches(g.spec, id));
      // Children join their parent's group unless they match one themselves.
      if (group < 0 && stat.ppid > 1 && depth < 64) {
        const parent = proc.readStat(stat.ppid);
        if (parent !== null) group = this.classify(stat.ppid, parent, depth + 1);
      }
    }
    this.cls.set(pid, { start: stat.starttime, group });
    if (group < 0) {
      // From now on this process costs one small read a tick: its comm, through a kept
      // descriptor that stops reading once the process is gone. Nothing else stays open.
      proc.stillAlive(pid);
      proc.forget(pid, 'comm');
    }
    return group;
  }

  /** One full refresh. */
  async tick(): Promise<void> {
    const t0 = process.hrtime.bigint();
    let busyNs = 0n;
    let sliceStart = t0;
    const now = Date.now();
    const elapsedS = this.lastTick > 0 ? (now - this.lastTick) / 1000 : 0;
    this.lastTick = now;
    this.tickCount++;

    this.host.read();
    const pids = proc.listPids();
    const seen = new Set<number>();
    let matched = 0;
    for (let i = 0; i < pids.length; i++) {
      // Yield to the event loop after ~1 ms of reading, so statsd datagrams never wait long.
      if (i % 8 === 0) {
        const t = process.hrtime.bigint();
        if (t - sliceStart > SLICE_NS) {
          busyNs += t - sliceStart;
          await yieldToLoop();
          sliceStart = process.hrtime.bigint();
        }
      }
      const pid = pids[i]!;
      const known = this.cls.get(pid);
      if (known !== undefined && known.group < 0) {
        // An unmatched process costs one pread a tick: a kept descriptor still reading means
        // the same process (after an exit, even with the pid reused, it fails).
        if (proc.stillAlive(pid)) {
          seen.add(pid);
          continue;
        }
        this.cls.delete(pid);
      }
      const stat = proc.readStat(pid);
      // A zombie has exited; only its parent has not collected it yet.
      if (stat === null || stat.state === 'Z') continue;
      seen.add(pid);
      const gi = this.classify(pid, stat, 0);
      if (gi < 0) continue;
      matched++;
      let member = this.members.get(pid);
      if (member !== undefined && member.start !== stat.starttime) {
        // The pid was reused: the old process exited, a new one started.
        this.exit(member);
        member = undefined;
      }
      if (member === undefined) {
        const group = this.groups[gi]!;
        member = new Member(pid, stat.starttime, group);
        this.members.set(pid, member);
        group.members.set(pid, member);
        group.started++;
      }
      this.readMember(member, stat, elapsedS);
    }
    busyNs += process.hrtime.bigint() - sliceStart;
    sliceStart = process.hrtime.bigint();
    for (const [pid, member] of this.members) if (!seen.has(pid) || member.start !== this.cls.get(pid)?.start) this.exit(member);
    for (const pid of this.cls.keys()) if (!seen.has(pid)) this.cls.delete(pid);
    for (const pid of [...proc.trackedPids()]) if (!seen.has(pid)) proc.forget(pid);

    busyNs += process.hrtime.bigint() - sliceStart;
    await yieldToLoop();
    sliceStart = process.hrtime.bigint();
    if (this.members.size > 0 && this.opts.listenQueues !== false) {
      const sockets = await proc.readListenSockets();
      sliceStart = process.hrtime.bigint();
      this.readListeners(sockets);
    }
    for (const g of this.groups) this.publishGroup(g, elapsedS);
    if (this.opts.perProcess) this.publishPerProcess();
    busyNs += process.hrtime.bigint() - sliceStart;

    this.m['seen']!.set(['true'], matched);
    this.m['seen']!.set(['false'], seen.size - matched);
    this.m['ticks']!.inc();
    this.m['busy']!.inc([], Number(busyNs) / 1e9);
    this.m['duration']!.set([], Number(process.hrtime.bigint() - t0) / 1e9);
  }

  private exit(member: Member): void {
    // Keep only the stat descriptor (a reused pid is re-read through a fresh one anyway).
    proc.forget(member.pid, 'stat');
    this.members.delete(member.pid);
    member.group.members.delete(member.pid);
    member.group.exited++;
    if (this.opts.perProcess) this.removePerProcess(member);
  }

  private readMember(m: Member, stat: proc.ProcStat, elapsedS: number): void {
    const g = m.group;
    const pid = m.pid;
    // CPU: deltas since the last tick (the whole history when first seen) go into the group.
    const du = Math.max(0, stat.utime - m.utime);
    const ds = Math.max(0, stat.stime - m.stime);
    g.cpuUser += du / proc.CLOCK_TICKS;
    g.cpuSystem += ds / proc.CLOCK_TICKS;
    m.cpuCores = !m.fresh && elapsedS > 0 ? (du + ds) / proc.CLOCK_TICKS / elapsedS : 0;
    m.utime = stat.utime;
    m.stime = stat.stime;
    m.threadCount = stat.threads;
    m.rss = stat.rssBytes;
    m.vsize = stat.vsizeBytes;

    // Cheap and fast-moving: every tick. Slow-moving or costly (status, per-thread status for
    // context switches): every SLOW_EVERY ticks. The fd limit and the maps (the kernel formats
    // every mapping: ~120 µs for a Node process) every 10th tick, and every tick once the
    // process is past half its limit, where they matter (netdata's rule for limits).
    const slow = m.slowAge-- <= 0;
    if (slow) m.slowAge = SLOW_EVERY - 1;
    const fds = proc.countFds(pid);
    if (fds !== null) m.fds = fds;
    const fdsHigh = m.maxFds !== null && m.fds > m.maxFds / 2;
    if (m.maxFds === null || fdsHigh || m.limitsAge-- <= 0) {
      m.maxFds = proc.readMaxFds(pid);
      m.limitsAge = RARE_EVERY - 1;
    }
    const status = slow ? proc.readStatus(pid) : null;
    if (status !== null) m.swap = status.swapBytes;
    if (m.mapsAge-- <= 0 || m.maps > this.maxMapCount / 2) {
      const maps = proc.countMaps(pid);
      if (maps !== null) m.maps = maps;
      m.mapsAge = RARE_EVERY - 1;
    }
    const io = proc.readIo(pid);
    if (io !== null) {
      g.readBytes += Math.max(0, io.readBytes - m.readBytes);
      g.writeBytes += Math.max(0, io.writeBytes - m.writeBytes);
      m.readBytes = io.readBytes;
      m.writeBytes = io.writeBytes;
    }

    // Threads: the busiest one, run-queue wait and context switches summed over all of them.
    // A process that used no CPU since the last tick (less than one clock tick, 10 ms) has no
    // busy thread and no new waits worth a read per thread: its threads are skipped, and read
    // again, with deltas over the whole span, once it runs. Idle injectors and services between
    // bursts cost a few reads instead of two per thread.
    const now = Date.now();
    const idle = !m.fresh && du + ds === 0 && !slow;
    let busiest = 0;
    if (!idle) {
      if (m.tids === null || slow || stat.threads !== m.tids.length) m.tids = proc.listTids(pid);
      if (m.tids !== null) {
        // Threads idle on their last two readings are "cold" and skipped, unless the process's
        // CPU since the last tick is more than the threads read account for (then a cold one
        // woke up: all are read). The busiest thread stays exact to a clock tick; a skipped
        // thread's run-queue wait is counted when it is next read (every slow tick at least).
        let skipped = false;
        let readNs = 0;
        for (const tid of m.tids) {
          const prev = m.threads.get(tid);
          if (!slow && prev !== undefined && prev.idleReads >= 2) {
            skipped = true;
            continue;
          }
          const r = this.readThread(m, tid, slow, status, now);
          if (r >= 0) readNs += r;
        }
        const procNs = ((du + ds) * 1e9) / proc.CLOCK_TICKS;
        if (skipped && procNs - readNs > (2 * 1e9) / proc.CLOCK_TICKS) {
          for (const tid of m.tids) {
            const prev = m.threads.get(tid);
            if (prev !== undefined && prev.idleReads >= 2 && prev.seen !== this.tickCount) this.readThread(m, tid, slow, status, now);
          }
        }
        for (const t of m.threads.values()) if (t.seen === this.tickCount && t.span > 0) busiest = Math.max(busiest, t.lastNs / 1e9 / t.span);
        if (slow) {
          for (const [tid, t] of m.threads) {
            if (t.seen === this.tickCount) continue;
            m.threads.delete(tid);
            proc.forgetThread(pid, tid);
          }
        }
      }
    }
    m.busiest = Math.min(busiest, 1);
    m.fresh = false;
  }

  /**
   * Reads one thread's schedstat (and, on slow ticks, its status when it was switched in since):
   * adds its run-queue wait and context switches to the group. Returns the CPU nanoseconds it
   * used since its last reading (0 when first seen), or -1 when it is gone.
   */
  private readThread(m: Member, tid: number, slow: boolean, status: proc.ProcStatus | null, now: number): number {
    const g = m.group;
    if (!proc.readThreadSchedstat(m.pid, tid, SCHED)) return -1;
    let prev = m.threads.get(tid);
    let delta = 0;
    if (prev === undefined) {
      // First sight: its whole history joins the group's counters, as a new process's CPU does.
      m.threads.set(tid, (prev = { runNs: SCHED.runNs, waitNs: SCHED.waitNs, slicesAtStatus: -1, voluntary: 0, involuntary: 0, seen: 0, readAt: now, idleReads: 0, lastNs: 0, span: 0 }));
      g.waitSeconds += SCHED.waitNs / 1e9;
    } else {
      delta = Math.max(0, SCHED.runNs - prev.runNs);
      g.waitSeconds += Math.max(0, SCHED.waitNs - prev.waitNs) / 1e9;
      prev.span = (now - prev.readAt) / 1000;
      prev.idleReads = delta < 1e6 ? prev.idleReads + 1 : 0;
    }
    prev.lastNs = delta;
    prev.readAt = now;
    prev.runNs = SCHED.runNs;
    prev.waitNs = SCHED.waitNs;
    prev.seen = this.tickCount;
    // Context switches: a thread not switched in since its status was last read has the same
    // counts (the main thread's come with the process status already read).
    if (slow && SCHED.slices !== prev.slicesAtStatus) {
      const st = tid === m.pid ? status : proc.readStatus(m.pid, tid);
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

  /** Accept-queue depth of the groups' listening sockets, and their limits (refreshed via `ss`). */
  private readListeners(sockets: proc.ListenSocket[]): void {
    const byInode = new Map(sockets.map((s) => [s.inode, s]));
    // Which process owns which listening socket changes only when a listener opens or closes
    // (its inode appears in or leaves /proc/net/tcp) or a process joins: the fd links of every
    // member are read again only then (and every 30th tick, for sockets handed over between
    // processes), those of a new member once.
    let changed = byInode.size !== this.listenInodes.size || this.tickCount % 30 === 0;
    if (!changed) for (const inode of byInode.keys()) if (!this.listenInodes.has(inode)) changed = true;
    this.listenInodes = new Set(byInode.keys());
    // Per group and port, the distinct sockets: one shared by forked workers counts once;
    // SO_REUSEPORT siblings and the IPv4 and IPv6 sockets of one port add up.
    const perGroup = new Map<GroupState, Map<number, Set<string>>>();
    for (const m of this.members.values()) {
      if (changed || !m.socketsScanned) {
        m.listenInodes.clear();
        for (const fd of proc.listFds(m.pid) ?? []) {
          const link = proc.readLink(`${m.pid}/fd/${fd}`);
          if (link !== null && link.startsWith('socket:[')) {
            const inode = link.slice(8, -1);
            if (byInode.has(inode)) m.listenInodes.add(inode);
          }
        }
        m.socketsScanned = true;
      }
      for (const inode of m.listenInodes) {
        const s = byInode.get(inode);
        if (s === undefined) continue;
        let ports = perGroup.get(m.group);
        if (!ports) perGroup.set(m.group, (ports = new Map()));
        let inodes = ports.get(s.port);
        if (!inodes) ports.set(s.port, (inodes = new Set()));
        inodes.add(inode);
      }
    }
    this.m['listenQueue']!.reset();
    this.m['listenLimit']!.reset();
    let any = false;
    let missingLimit = false;
    for (const [g, ports] of perGroup) {
      for (const [port, inodes] of ports) {
        any = true;
        let queue = 0;
        let limit = 0;
        let limitKnown = true;
        for (const inode of inodes) {
          queue += byInode.get(inode)!.queue;
          const l = this.backlog.get(inode);
          if (l === undefined) limitKnown = false;
          else limit += l;
        }
        this.m['listenQueue']!.set([...g.labels, String(port)], queue);
        if (limitKnown) this.m['listenLimit']!.set([...g.labels, String(port)], limit);
        else missingLimit = true;
      }
    }
    // Backlog limits come from `ss` (netlink: /proc/net/tcp shows 0 for a listener's tx_queue);
    // asked again for a new socket, and every 30th tick.
    const due = this.tickCount - this.ssTick >= (missingLimit ? 2 : 30);
    if (any && due && !this.ssMissing) {
      this.ssTick = this.tickCount;
      this.refreshBacklog();
    }
  }

  /** `ss -ltnHe` reports each listener's backlog (Send-Q) and inode; spawned asynchronously, never on the tick. */
  private refreshBacklog(): void {
    if (this.ssRunning) return;
    this.ssRunning = true;
    let out = '';
    let child;
    try {
      child = spawn('ss', ['-ltnHe'], { stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      this.ssRunning = false;
      return;
    }
    child.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
    child.on('error', (err: NodeJS.ErrnoException) => {
      this.ssRunning = false;
      if (err.code === 'ENOENT') this.ssMissing = true;
      this.error('ss');
    });
    child.on('close', () => {
      this.ssRunning = false;
      const next = new Map<string, number>();
      for (const line of out.split('\n')) {
        const f = line.trim().split(/\s+/);
        const ino = f.find((x) => x.startsWith('ino:'));
        const limit = Number(f[2]);
        if (ino !== undefined && Number.isInteger(limit)) next.set(ino.slice(4), limit);
      }
      this.backlog = next;
    });
  }

  private publishGroup(g: GroupState, elapsedS: number): void {
    const L = g.labels;
    let fds = 0;
    let maxFds = 0;
    let fdRatio = 0;
    let threads = 0;
    let rss = 0;
    let vsize = 0;
    let swap = 0;
    let maps = 0;
    let mapsRatio = 0;
    let busiest = 0;
    let busiestProcess = 0;
    let cores = 0;
    for (const m of g.members.values()) {
      fds += m.fds;
      if (m.maxFds !== null && Number.isFinite(m.maxFds)) {
        maxFds += m.maxFds;
        fdRatio = Math.max(fdRatio, m.fds / m.maxFds);
      }
      threads += m.threadCount;
      rss += m.rss;
      vsize += m.vsize;
      swap += m.swap;
      maps += m.maps;
      mapsRatio = Math.max(mapsRatio, m.maps / this.maxMapCount);
      busiest = Math.max(busiest, m.busiest);
      busiestProcess = Math.max(busiestProcess, m.cpuCores);
      cores += m.cpuCores;
    }
    const m = this.m;
    m['count']!.set(L, g.members.size);
    m['started']!.set(L, g.started);
    m['exited']!.set(L, g.exited);
    m['fds']!.set(L, fds);
    m['maxFds']!.set(L, maxFds);
    m['fdRatio']!.set(L, fdRatio);
    m['threads']!.set(L, threads);
    m['cpu']!.set([...L, 'user'], g.cpuUser);
    m['cpu']!.set([...L, 'system'], g.cpuSystem);
    m['cpuCores']!.set(L, elapsedS > 0 ? cores : 0);
    m['busiest']!.set(L, busiest);
    m['busiestProcess']!.set(L, busiestProcess);
    m['memory']!.set([...L, 'resident'], rss);
    m['memory']!.set([...L, 'virtual'], vsize);
    m['memory']!.set([...L, 'swap'], swap);
    m['maps']!.set(L, maps);
    m['mapsRatio']!.set(L, mapsRatio);
    m['ctx']!.set([...L, 'voluntary'], g.voluntary);
    m['ctx']!.set([...L, 'involuntary'], g.involuntary);
    m['io']!.set([...L, 'read'], g.readBytes);
    m['io']!.set([...L, 'write'], g.writeBytes);
    m['wait']!.set(L, g.waitSeconds);
    if (g.spec.role === 'injector') {
      m['injectors']!.set([g.spec.name], g.members.size);
      m['injectorCores']!.set([g.spec.name], elapsedS > 0 ? cores : 0);
    }
  }

  private publishPerProcess(): void {
    for (const mb of this.members.values()) {
      const L = [...mb.group.labels, String(mb.pid)];
      this.m['pidCpu']!.set([...L, 'user'], mb.utime / proc.CLOCK_TICKS);
      this.m['pidCpu']!.set([...L, 'system'], mb.stime / proc.CLOCK_TICKS);
      this.m['pidFds']!.set(L, mb.fds);
      this.m['pidThreads']!.set(L, mb.threadCount);
      this.m['pidRss']!.set(L, mb.rss);
      this.m['pidBusiest']!.set(L, mb.busiest);
    }
  }

  private removePerProcess(mb: Member): void {
    const L = [...mb.group.labels, String(mb.pid)];
    this.m['pidCpu']!.remove([...L, 'user']);
    this.m['pidCpu']!.remove([...L, 'system']);
    for (const k of ['pidFds', 'pidThreads', 'pidRss', 'pidBusiest']) this.m[k]!.remove(L);
  }
}
