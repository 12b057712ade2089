/**
 * The host collector: every `intervalMs`, reads /proc for the host and for the processes of
 * each group (system under test, injectors), and publishes per-group series. It also publishes
 * the pid → group lookup the statsd path uses (`PidGroups`), answered from the last tick.
 *
 * This file is the group bookkeeping: which processes joined and left which group, and what the
 * groups publish. Reading one process is member.ts; which group a process belongs to is
 * classify.ts; accept queues are listeners.ts; host-wide files are host.ts.
 *
 * Cost model (bench/host-collector; targets ≤ 54 µs per matched, ≤ 5 µs per unmatched process):
 * - an unmatched process costs one small pread every other tick (see classify.ts); its command
 *   line is read once per program image;
 * - a matched process costs stat, the fd directory, io, and per thread schedstat (member.ts);
 * - reads are synchronous and small; the tick yields to the event loop after ~1 ms of reading so
 *   statsd datagrams keep flowing.
 */
import type { Store } from '../../core/store.js';
import type { GroupRef, PidGroups } from '../../core/pid-groups.js';
import { Periodic } from '../../core/periodic.js';
import * as proc from './procfs.js';
import * as F from './families.js';
import { HostMetrics } from './host.js';
import { Classifier } from './classify.js';
import { Member, type GroupTotals } from './member.js';
import { Listeners } from './listeners.js';
import { CgroupReader } from './cgroups.js';
import type { GroupSpec } from './groups.js';

export interface HostOptions {
  intervalMs: number;
  perProcess: boolean;
  groups: GroupSpec[];
  procRoot?: string;
  /** cgroup v2 mount point (default /sys/fs/cgroup). */
  cgroupRoot?: string;
  /**
   * Read accept queues from /proc/net/tcp{,6} (default true). The kernel walks its whole socket
   * table to produce those files: milliseconds a tick however few sockets there are.
   */
  listenQueues?: boolean;
  /** The agent's pid (default: this process): it and its ancestors, its launchers, never join a group. */
  selfPid?: number;
  /** Where start-up warnings go (a declared group that matches nothing). */
  warn?: (msg: string, fields?: Record<string, unknown>) => void;
  /** How long a declared group may match nothing before the warning (default 10 s). */
  emptyGroupWarnMs?: number;
}

const GROUP_FAMILIES = {
  count: F.PROCESS_COUNT,
  started: F.PROCESS_STARTED,
  exited: F.PROCESS_EXITED,
  fds: F.PROCESS_OPEN_FDS,
  maxFds: F.PROCESS_MAX_FDS,
  fdRatio: F.PROCESS_FD_RATIO,
  threads: F.PROCESS_THREADS,
  cpu: F.PROCESS_CPU,
  cpuCores: F.PROCESS_CPU_CORES,
  busiestProcess: F.PROCESS_BUSIEST_PROCESS,
  busiestThread: F.PROCESS_BUSIEST_THREAD,
  busiestProcessDemand: F.PROCESS_BUSIEST_PROCESS_DEMAND,
  busiestThreadDemand: F.PROCESS_BUSIEST_THREAD_DEMAND,
  memory: F.PROCESS_MEMORY,
  maps: F.PROCESS_MAPS,
  mapsRatio: F.PROCESS_MAPS_RATIO,
  ctx: F.PROCESS_CONTEXT_SWITCHES,
  io: F.PROCESS_IO,
  wait: F.PROCESS_RUNQUEUE_WAIT,
  listenQueue: F.LISTEN_QUEUE_LENGTH,
  listenLimit: F.LISTEN_QUEUE_LIMIT,
  injectors: F.INJECTOR_PROCESSES,
  injectorCores: F.INJECTOR_CPU_CORES,
  duration: F.COLLECTOR_DURATION,
  busy: F.COLLECTOR_BUSY,
  ticks: F.COLLECTOR_TICKS,
  skipped: F.COLLECTOR_SKIPPED,
  errors: F.COLLECTOR_ERRORS,
  seen: F.COLLECTOR_PROCESSES,
  reclassified: F.COLLECTOR_RECLASSIFIED,
  pidCpu: F.PID_CPU,
  pidFds: F.PID_OPEN_FDS,
  pidThreads: F.PID_THREADS,
  pidRss: F.PID_RSS,
  pidBusiest: F.PID_BUSIEST_THREAD,
} as const;

/** One declared group: its members now, and totals that never go back when members leave. */
class GroupState implements GroupTotals {
  readonly members = new Map<number, Member<GroupState>>();
  readonly ref: GroupRef;
  readonly labels: readonly [string, string];
  started = 0;
  exited = 0;
  cpuUser = 0;
  cpuSystem = 0;
  voluntary = 0;
  involuntary = 0;
  readBytes = 0;
  writeBytes = 0;
  waitSeconds = 0;
  /** Whether it ever had a member, and whether the "matches nothing" warning was given. */
  everMatched = false;
  warned = false;
  constructor(readonly spec: GroupSpec) {
    this.ref = Object.freeze({ group: spec.name, role: spec.role });
    this.labels = [spec.name, spec.role];
  }
}

const SLICE_NS = 1_000_000n;
const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));
const HOST_READERS = ['host_stat', 'host_loadavg', 'host_meminfo', 'host_netstat', 'host_sockstat', 'ss', 'tick', 'cgroup'];

export class HostCollector implements PidGroups {
  private readonly groups: GroupState[];
  private readonly classifier: Classifier;
  private readonly members = new Map<number, Member<GroupState>>();
  private readonly host: HostMetrics;
  private readonly listeners: Listeners;
  private readonly cgroups: CgroupReader;
  private readonly periodic: Periodic;
  private readonly m: F.Declared<typeof GROUP_FAMILIES>;
  private readonly errors = new Map<string, number>();
  private readonly startedAt = Date.now();
  private lastTick = 0;
  private tickCount = 0;
  /** See PidGroups.generation: moved by every join. */
  generation = 0;
  private maxMapCount = 65530;

  constructor(
    store: Store,
    private readonly opts: HostOptions,
  ) {
    if (opts.procRoot) proc.setProcRoot(opts.procRoot);
    const seen = new Set<string>();
    for (const g of opts.groups) {
      if (seen.has(g.name)) throw new Error(`process group ${JSON.stringify(g.name)} is declared twice`);
      seen.add(g.name);
    }
    this.groups = opts.groups.map((g) => new GroupState(g));
    this.classifier = new Classifier(opts.groups, opts.selfPid);
    this.m = F.declareAll(store, GROUP_FAMILIES);
    this.host = new HostMetrics(store, (reader) => this.error(reader));
    this.listeners = new Listeners(this.m.listenQueue, this.m.listenLimit, (reader) => this.error(reader));
    this.cgroups = new CgroupReader(store, opts.cgroupRoot, (reader) => this.error(reader));
    this.periodic = new Periodic(
      opts.intervalMs,
      () => this.tick(),
      () => this.m.skipped.inc(),
      () => this.error('tick'),
    );
    for (const g of this.groups) this.publishGroup(g, 0);
    // Published from the start at 0, so rate() and the agent dashboard have a series to read.
    this.m.skipped.inc([], 0);
    this.m.reclassified.inc([], 0);
    for (const reader of HOST_READERS) this.m.errors.inc([reader], 0);
    const mmc = proc.readText('sys/vm/max_map_count');
    if (mmc !== null) this.maxMapCount = Number(mmc.trim()) || this.maxMapCount;
  }

  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  /** The group of a pid as of the last tick (never reads /proc: the statsd path calls this). */
  groupOf(pid: number): GroupRef | undefined {
    return this.members.get(pid)?.group.ref;
  }

  /** Declared groups that have matched no process yet. */
  get reads(): string {
    return `/proc, cgroups: ${this.cgroups.describe()}`;
  }

  emptyGroups(): string[] {
    return this.groups.filter((g) => !g.everMatched).map((g) => g.spec.name);
  }

  private error(reader: string): void {
    const n = (this.errors.get(reader) ?? 0) + 1;
    this.errors.set(reader, n);
    this.m.errors.set([reader], n);
  }

  /** One full refresh. */
  async tick(): Promise<void> {
    const t0 = process.hrtime.bigint();
    let busyNs = 0n;
    let sliceStart = t0;
    const now = Date.now();
    const elapsedS = this.lastTick > 0 ? (now - this.lastTick) / 1000 : 0;
    this.lastTick = now;
    const tick = ++this.tickCount;

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
      const known = this.classifier.get(pid);
      // An unmatched process costs one pread every other tick while it runs the same program.
      if (known !== undefined && known.group < 0 && this.classifier.unchanged(pid, known, tick)) {
        seen.add(pid);
        continue;
      }
      const stat = proc.readStat(pid);
      // A zombie has exited; only its parent has not collected it yet.
      if (stat === null || stat.state === 'Z') continue;
      seen.add(pid);
      const { group: gi, execed } = this.classifier.resolve(pid, stat);
      let member = this.members.get(pid);
      if (member !== undefined && (member.start !== stat.starttime || gi < 0 || this.groups[gi] !== member.group)) {
        // The pid was reused, or the process exec()ed into another group's command line (or none).
        this.exit(member);
        member = undefined;
      } else if (member !== undefined && execed) {
        member.execed();
      }
      if (gi < 0) continue;
      matched++;
      if (member === undefined) {
        const group = this.groups[gi]!;
        member = new Member(pid, stat.starttime, group);
        this.members.set(pid, member);
        group.members.set(pid, member);
        group.started++;
        group.everMatched = true;
        this.generation++;
        this.cgroups.join(member);
      }
      member.read(stat, elapsedS, tick, this.maxMapCount);
    }
    busyNs += process.hrtime.bigint() - sliceStart;
    sliceStart = process.hrtime.bigint();
    for (const [pid, member] of this.members) if (!seen.has(pid)) this.exit(member);
    this.classifier.prune(seen);
    for (const pid of [...proc.trackedPids()]) if (!seen.has(pid)) proc.forget(pid);

    busyNs += process.hrtime.bigint() - sliceStart;
    await yieldToLoop();
    sliceStart = process.hrtime.bigint();
    if (this.members.size > 0 && this.opts.listenQueues !== false) {
      const sockets = await proc.readListenSockets();
      sliceStart = process.hrtime.bigint();
      this.listeners.read(sockets, this.members.values(), tick);
    }
    for (const g of this.groups) {
      this.publishGroup(g, elapsedS);
      this.cgroups.publish(g.labels, g.members.values());
    }
    if (this.opts.perProcess) this.publishPerProcess();
    this.warnEmpty(now);
    busyNs += process.hrtime.bigint() - sliceStart;

    this.m.seen.set(['true'], matched);
    this.m.seen.set(['false'], seen.size - matched);
    this.m.reclassified.set([], this.classifier.reclassified);
    this.m.ticks.inc();
    this.m.busy.inc([], Number(busyNs) / 1e9);
    this.m.duration.set([], Number(process.hrtime.bigint() - t0) / 1e9);
  }

  private warnEmpty(now: number): void {
    if (now - this.startedAt < (this.opts.emptyGroupWarnMs ?? 10_000)) return;
    for (const g of this.groups) {
      if (g.everMatched || g.warned) continue;
      g.warned = true;
      const pattern = [...(g.spec.cmdline ?? []).map((r) => `cmdline /${r.source}/`), ...(g.spec.comm ?? []).map((c) => `comm ${c}`), ...(g.spec.exe ?? []).map((e) => `exe ${e}`)].join(', ');
      this.opts.warn?.(`process group ${g.spec.name} (${g.spec.role}) has matched no process for ${Math.round((now - this.startedAt) / 1000)} s: check its pattern against \`ps -eo args\``, { group: g.spec.name, pattern });
    }
  }

  private exit(member: Member<GroupState>): void {
    // Keep only the stat descriptor (a reused pid is re-read through a fresh one anyway).
    proc.forget(member.pid, 'stat');
    this.members.delete(member.pid);
    member.group.members.delete(member.pid);
    member.group.exited++;
    if (this.opts.perProcess) this.removePerProcess(member);
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
    let busiestDemand = 0;
    let busiestProcess = 0;
    let busiestProcessDemand = 0;
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
      busiestDemand = Math.max(busiestDemand, m.busiestDemand);
      busiestProcess = Math.max(busiestProcess, m.cpuCores);
      busiestProcessDemand = Math.max(busiestProcessDemand, m.demandCores);
      cores += m.cpuCores;
    }
    const m = this.m;
    m.count.set(L, g.members.size);
    m.started.set(L, g.started);
    m.exited.set(L, g.exited);
    m.fds.set(L, fds);
    m.maxFds.set(L, maxFds);
    m.fdRatio.set(L, fdRatio);
    m.threads.set(L, threads);
    m.cpu.set([...L, 'user'], g.cpuUser);
    m.cpu.set([...L, 'system'], g.cpuSystem);
    m.cpuCores.set(L, elapsedS > 0 ? cores : 0);
    m.busiestThread.set(L, busiest);
    m.busiestThreadDemand.set(L, busiestDemand);
    m.busiestProcess.set(L, busiestProcess);
    m.busiestProcessDemand.set(L, busiestProcessDemand);
    m.memory.set([...L, 'resident'], rss);
    m.memory.set([...L, 'virtual'], vsize);
    m.memory.set([...L, 'swap'], swap);
    m.maps.set(L, maps);
    m.mapsRatio.set(L, mapsRatio);
    m.ctx.set([...L, 'voluntary'], g.voluntary);
    m.ctx.set([...L, 'involuntary'], g.involuntary);
    m.io.set([...L, 'read'], g.readBytes);
    m.io.set([...L, 'write'], g.writeBytes);
    m.wait.set(L, g.waitSeconds);
    if (g.spec.role === 'injector') {
      m.injectors.set([g.spec.name], g.members.size);
      m.injectorCores.set([g.spec.name], elapsedS > 0 ? cores : 0);
    }
  }

  private publishPerProcess(): void {
    for (const mb of this.members.values()) {
      const L = [...mb.group.labels, String(mb.pid)];
      this.m.pidCpu.set([...L, 'user'], mb.utime / proc.CLOCK_TICKS);
      this.m.pidCpu.set([...L, 'system'], mb.stime / proc.CLOCK_TICKS);
      this.m.pidFds.set(L, mb.fds);
      this.m.pidThreads.set(L, mb.threadCount);
      this.m.pidRss.set(L, mb.rss);
      this.m.pidBusiest.set(L, mb.busiest);
    }
  }

  private removePerProcess(mb: Member<GroupState>): void {
    const L = [...mb.group.labels, String(mb.pid)];
    this.m.pidCpu.remove([...L, 'user']);
    this.m.pidCpu.remove([...L, 'system']);
    for (const fam of [this.m.pidFds, this.m.pidThreads, this.m.pidRss, this.m.pidBusiest]) fam.remove(L);
  }
}
