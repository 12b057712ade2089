/**
 * cgroup v2 limits and accounting of each group: the CPU quota (cpu.max) as the group's CPU
 * limit, throttling (cpu.stat), memory.current against memory.max, and pressure (*.pressure).
 *
 * A group's cgroup is the one that holds most of its processes (read once per process from
 * /proc/PID/cgroup, line `0::/path`). Limits are effective limits: the tightest quota and memory
 * limit on the path from that cgroup up to the root, as the kernel enforces them; throttling is
 * read where that quota is set (a container's quota throttles at the container's cgroup).
 *
 * Without cgroup v2 (no `cgroup.controllers` under the root, or no `0::` line) nothing is read
 * and no series are published.
 */
import fs from 'node:fs';
import type { Store } from '../../core/store.js';
import * as proc from './procfs.js';
import * as F from './families.js';

interface Node {
  pid: number;
}

function readFile(path: string): string | null {
  try {
    return fs.readFileSync(path, 'latin1');
  } catch {
    return null;
  }
}

/** Where the cgroup v2 hierarchy is mounted: the root given, else /sys/fs/cgroup, else its hybrid-mode `unified` mount. */
export function findCgroupRoot(given?: string): string | null {
  const candidates = given !== undefined ? [given] : ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'];
  for (const c of candidates) if (fs.existsSync(`${c}/cgroup.controllers`)) return c;
  return null;
}

/** The v2 path of a process from /proc/PID/cgroup (`0::/a/b` gives `/a/b`), or null. */
export function cgroupOf(pid: number): string | null {
  const s = proc.readText(`${pid}/cgroup`);
  if (s === null) return null;
  for (const line of s.split('\n')) if (line.startsWith('0::')) return line.slice(3).replace(/ \(deleted\)$/, '') || '/';
  return null;
}

/** `cpu.max` ("max 100000" or "50000 100000") in cores, or null when unlimited or unreadable. */
export function parseCpuMax(s: string | null): number | null {
  if (s === null) return null;
  const [quota, period] = s.trim().split(/\s+/);
  if (quota === undefined || quota === 'max') return null;
  const q = Number(quota);
  const p = Number(period ?? 100000);
  return q > 0 && p > 0 ? q / p : null;
}

/** A flat-keyed cgroup file ("usage_usec 123\nnr_periods 4\n…") as a map. */
export function parseKeyed(s: string | null): Map<string, number> {
  const out = new Map<string, number>();
  if (s === null) return out;
  for (const line of s.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp > 0) out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

export class CgroupReader {
  private readonly root: string | null;
  private readonly pathOf = new WeakMap<Node, string>();
  private readonly m: F.Declared<{
    limit: typeof F.CGROUP_CPU_LIMIT;
    usage: typeof F.CGROUP_CPU_USAGE;
    periods: typeof F.CGROUP_PERIODS;
    throttledPeriods: typeof F.CGROUP_THROTTLED_PERIODS;
    throttled: typeof F.CGROUP_THROTTLED;
    memory: typeof F.CGROUP_MEMORY;
    memoryLimit: typeof F.CGROUP_MEMORY_LIMIT;
    pressure: typeof F.CGROUP_PRESSURE;
  }> | null;

  constructor(
    store: Store,
    root: string | undefined,
    private readonly onError: (reader: string) => void,
  ) {
    this.root = findCgroupRoot(root);
    this.m =
      this.root === null
        ? null
        : F.declareAll(store, {
            limit: F.CGROUP_CPU_LIMIT,
            usage: F.CGROUP_CPU_USAGE,
            periods: F.CGROUP_PERIODS,
            throttledPeriods: F.CGROUP_THROTTLED_PERIODS,
            throttled: F.CGROUP_THROTTLED,
            memory: F.CGROUP_MEMORY,
            memoryLimit: F.CGROUP_MEMORY_LIMIT,
            pressure: F.CGROUP_PRESSURE,
          });
  }

  get enabled(): boolean {
    return this.root !== null;
  }

  /** A process joined a group: its cgroup is read once. */
  join(member: Node): void {
    if (this.root === null) return;
    const p = cgroupOf(member.pid);
    if (p !== null) this.pathOf.set(member, p);
  }

  /** Reads and publishes the cgroup of one group (the cgroup most of its members are in). */
  publish(labels: readonly [string, string], members: Iterable<Node>): void {
    const m = this.m;
    if (m === null || this.root === null) return;
    const votes = new Map<string, number>();
    for (const mb of members) {
      const p = this.pathOf.get(mb);
      if (p !== undefined) votes.set(p, (votes.get(p) ?? 0) + 1);
    }
    let path: string | null = null;
    let best = 0;
    for (const [p, n] of votes) if (n > best) [path, best] = [p, n];
    const L = [...labels];
    if (path === null) {
      for (const fam of [m.limit, m.usage, m.periods, m.throttledPeriods, m.throttled, m.memory, m.memoryLimit]) fam.remove(L);
      return;
    }
    const dir = (p: string): string => (p === '/' ? this.root! : `${this.root}${p}`);
    // The tightest quota and memory limit from the cgroup up to the root.
    let cores: number | null = null;
    let quotaAt = path;
    let memMax: number | null = null;
    for (let p = path; ; p = p.slice(0, Math.max(1, p.lastIndexOf('/')))) {
      const c = parseCpuMax(readFile(`${dir(p)}/cpu.max`));
      if (c !== null && (cores === null || c < cores)) [cores, quotaAt] = [c, p];
      const mm = readFile(`${dir(p)}/memory.max`);
      if (mm !== null && mm.trim() !== 'max') {
        const v = Number(mm.trim());
        if (Number.isFinite(v) && (memMax === null || v < memMax)) memMax = v;
      }
      if (p === '/') break;
    }
    if (cores !== null) m.limit.set(L, cores);
    else m.limit.remove(L);
    const own = parseKeyed(readFile(`${dir(path)}/cpu.stat`));
    if (own.size === 0) this.onError('cgroup');
    const usage = own.get('usage_usec');
    if (usage !== undefined) m.usage.set(L, usage / 1e6);
    const at = quotaAt === path ? own : parseKeyed(readFile(`${dir(quotaAt)}/cpu.stat`));
    const periods = at.get('nr_periods');
    const throttledPeriods = at.get('nr_throttled');
    const throttledUs = at.get('throttled_usec');
    if (periods !== undefined) m.periods.set(L, periods);
    if (throttledPeriods !== undefined) m.throttledPeriods.set(L, throttledPeriods);
    if (throttledUs !== undefined) m.throttled.set(L, throttledUs / 1e6);
    const current = readFile(`${dir(path)}/memory.current`);
    if (current !== null) m.memory.set(L, Number(current.trim()));
    if (memMax !== null) m.memoryLimit.set(L, memMax);
    else m.memoryLimit.remove(L);
    for (const resource of ['cpu', 'memory', 'io']) {
      const s = readFile(`${dir(path)}/${resource}.pressure`);
      if (s === null) continue;
      for (const line of s.split('\n')) {
        const r = /^(some|full) .*total=(\d+)/.exec(line);
        if (r) m.pressure.set([...L, resource, r[1]!], Number(r[2]) / 1e6);
      }
    }
  }
}

