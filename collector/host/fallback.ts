/**
 * Where /proc does not exist (macOS, BSDs), the host collector falls back to systeminformation
 * (process list, via `ps`) and pidusage (CPU and memory of the matched pids), and Node's `os`
 * for the host. Fewer metrics, and dearer ones: processes, starts and exits, CPU time and
 * cores, resident memory per group; host CPU by mode, cores, load and memory. No fds, threads,
 * maps, context switches, accept queues or TCP counters. These libraries spawn `ps`, which is why
 * they are not the Linux path.
 */
import os from 'node:os';
import si from 'systeminformation';
import pidusage from 'pidusage';
import type { Store } from '../../core/store.js';
import type { GroupRef, PidGroups } from '../../core/pid-groups.js';
import { matches, type GroupSpec } from './groups.js';
import * as F from './families.js';
import { Periodic } from '../../core/periodic.js';

export interface FallbackOptions {
  intervalMs: number;
  groups: GroupSpec[];
}

/** The families it can fill: the same declarations as the /proc collector's. */
const FALLBACK_FAMILIES = {
  count: F.PROCESS_COUNT,
  started: F.PROCESS_STARTED,
  exited: F.PROCESS_EXITED,
  cpu: F.PROCESS_CPU,
  cores: F.PROCESS_CPU_CORES,
  memory: F.PROCESS_MEMORY,
  injectors: F.INJECTOR_PROCESSES,
  hostCpu: F.HOST_CPU,
  hostCpus: F.HOST_CPUS,
  load1: F.HOST_LOAD1,
  load5: F.HOST_LOAD5,
  load15: F.HOST_LOAD15,
  hostMem: F.HOST_MEMORY,
  errors: F.COLLECTOR_ERRORS,
} as const;

interface Known {
  group: number;
  cpuMs: number;
}

export class FallbackCollector implements PidGroups {
  private readonly periodic: Periodic;
  private readonly known = new Map<string, Known>();
  private readonly started: number[];
  private readonly exited: number[];
  private readonly cpu: number[];
  private readonly m: F.Declared<typeof FALLBACK_FAMILIES>;
  private readonly refs: GroupRef[];
  private byPid = new Map<number, number>();
  /** See PidGroups.generation: moved by a tick in which a pid joined a group. */
  generation = 0;
  private lastTick = 0;

  constructor(
    store: Store,
    private readonly opts: FallbackOptions,
  ) {
    this.m = F.declareAll(store, FALLBACK_FAMILIES);
    this.periodic = new Periodic(opts.intervalMs, () => this.tick(), undefined, () => this.m.errors.inc(['tick']));
    this.started = opts.groups.map(() => 0);
    this.exited = opts.groups.map(() => 0);
    this.cpu = opts.groups.map(() => 0);
    this.refs = opts.groups.map((g) => Object.freeze({ group: g.name, role: g.role }));
  }

  start(): void {
    this.periodic.start();
  }

  async stop(): Promise<void> {
    await this.periodic.stop();
    pidusage.clear();
  }

  /** Declared groups that have matched no process yet (as HostCollector.emptyGroups). */
  readonly reads = 'systeminformation and pidusage (no /proc: fewer metrics, no cgroups)';

  emptyGroups(): string[] {
    return this.opts.groups.filter((_, i) => this.started[i] === 0).map((g) => g.name);
  }

  /** The group of a pid as of the last tick. */
  groupOf(pid: number): GroupRef | undefined {
    const gi = this.byPid.get(pid);
    return gi === undefined ? undefined : this.refs[gi];
  }

  async tick(): Promise<void> {
    const now = Date.now();
    const elapsedS = this.lastTick ? (now - this.lastTick) / 1000 : 0;
    this.lastTick = now;
    this.host();
    const list = (await si.processes()).list;
    const groups = this.opts.groups;
    // Children join their parent's group: resolve in parent order.
    const parent = new Map(list.map((p) => [p.pid, p.parentPid]));
    const own = new Map<number, number>();
    for (const p of list) {
      if (p.pid === process.pid) continue; // the agent is never a member of a group
      own.set(p.pid, groups.findIndex((g) => matches(g, { comm: p.name, exe: p.path || null, cmdline: `${p.command} ${p.params}`.trim() })));
    }
    const groupOfPid = (pid: number, depth = 0): number => {
      const mine = own.get(pid) ?? -1;
      if (mine >= 0 || depth > 64) return mine;
      const pp = parent.get(pid);
      return pp !== undefined && pp > 1 ? groupOfPid(pp, depth + 1) : -1;
    };
    const byPid = new Map<number, number>();
    for (const p of list) {
      const gi = groupOfPid(p.pid);
      if (gi >= 0) byPid.set(p.pid, gi);
    }
    for (const pid of byPid.keys()) {
      if (!this.byPid.has(pid)) {
        this.generation++;
        break;
      }
    }
    this.byPid = byPid;
    const pids = [...byPid.keys()];
    let stats: Record<string, { cpu: number; memory: number; ctime: number; elapsed: number }> = {};
    if (pids.length > 0) {
      try {
        stats = await pidusage(pids);
      } catch {
        this.m.errors.inc(['pidusage']);
      }
    }
    const count = groups.map(() => 0);
    const rss = groups.map(() => 0);
    const cores = groups.map(() => 0);
    const seen = new Set<string>();
    for (const [pid, gi] of byPid) {
      const st = stats[String(pid)];
      if (!st) continue;
      const key = `${pid}:${Math.round((now - st.elapsed) / 1000)}`; // pid + start time
      seen.add(key);
      count[gi]!++;
      rss[gi]! += st.memory;
      const prev = this.known.get(key);
      const delta = Math.max(0, st.ctime - (prev?.cpuMs ?? 0));
      this.cpu[gi]! += delta / 1000;
      if (prev !== undefined && elapsedS > 0) cores[gi]! += delta / 1000 / elapsedS;
      if (prev === undefined) this.started[gi]!++;
      this.known.set(key, { group: gi, cpuMs: st.ctime });
    }
    for (const [key, k] of this.known) {
      if (!seen.has(key)) {
        this.exited[k.group]!++;
        this.known.delete(key);
      }
    }
    groups.forEach((g, i) => {
      const L = [g.name, g.role];
      this.m.count.set(L, count[i]!);
      this.m.started.set(L, this.started[i]!);
      this.m.exited.set(L, this.exited[i]!);
      this.m.cpu.set([...L, 'total'], this.cpu[i]!);
      this.m.cores.set(L, cores[i]!);
      this.m.memory.set([...L, 'resident'], rss[i]!);
      if (g.role === 'injector') this.m.injectors.set([g.name], count[i]!);
    });
  }

  private host(): void {
    const cpus = os.cpus();
    const sum = { user: 0, nice: 0, system: 0, idle: 0, irq: 0 };
    for (const c of cpus) {
      sum.user += c.times.user;
      sum.nice += c.times.nice;
      sum.system += c.times.sys;
      sum.idle += c.times.idle;
      sum.irq += c.times.irq;
    }
    for (const [mode, ms] of Object.entries(sum)) this.m.hostCpu.set([mode], ms / 1000);
    this.m.hostCpus.set([], cpus.length);
    const [l1, l5, l15] = os.loadavg();
    this.m.load1.set([], l1 ?? 0);
    this.m.load5.set([], l5 ?? 0);
    this.m.load15.set([], l15 ?? 0);
    this.m.hostMem.set(['total'], os.totalmem());
    this.m.hostMem.set(['free'], os.freemem());
  }
}
