/**
 * cgroup limits and accounting of each group: the CPU quota as the group's CPU limit, throttling,
 * memory in use against its limit, and pressure. Both hierarchies are read:
 *
 * - cgroup v2 (unified): `cpu.max`, `cpu.stat` (usage_usec, nr_periods, nr_throttled,
 *   throttled_usec), `memory.current`, `memory.max`, `*.pressure`;
 * - cgroup v1 (one mount per controller, as on older container hosts and in hybrid mode):
 *   `cpu.cfs_quota_us` / `cpu.cfs_period_us`, `cpu.stat` (nr_periods, nr_throttled,
 *   throttled_time in ns), `cpuacct.usage` (ns), `memory.usage_in_bytes`, `memory.limit_in_bytes`.
 *
 * In hybrid mode (v2 mounted at `unified` without controllers, v1 for cpu and memory) each
 * quantity comes from the hierarchy that has its controller: a quota or limit is the tightest
 * found in either; pressure exists only in v2.
 *
 * A group's cgroup is the one that holds most of its processes (read once per process from
 * /proc/PID/cgroup). Limits are effective limits: the tightest quota and memory limit on the path
 * from that cgroup up to the root, as the kernel enforces them; throttling is read where that quota
 * is set (a container's quota throttles at the container's cgroup).
 *
 * Mounts are found in /proc/self/mountinfo (a mount's root inside its hierarchy is taken off the
 * process's path, as in a container without a cgroup namespace). Without any cgroup mount nothing
 * is read and no series are published.
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

/** A mounted cgroup hierarchy: where it is, and which path inside the hierarchy is its root. */
export interface CgroupMount {
  dir: string;
  root: string;
}

/** The hierarchies a reader uses: the unified one, and v1 ones by controller. */
export interface CgroupMounts {
  v2: CgroupMount | null;
  /** v1 mounts by controller name (`cpu`, `cpuacct`, `memory`). */
  v1: Map<string, CgroupMount>;
}

/** The v1 controllers read. */
const V1_CONTROLLERS = ['cpu', 'cpuacct', 'memory'] as const;

/** Octal escapes of mountinfo (`\040` for a space). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** cgroup mounts from the text of /proc/self/mountinfo; the first mount of each hierarchy wins. */
export function parseMountinfo(text: string): CgroupMounts {
  const out: CgroupMounts = { v2: null, v1: new Map() };
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const root = left[3];
    const dir = left[4];
    const fstype = right[0];
    if (root === undefined || dir === undefined) continue;
    const m = { dir: unescapeMount(dir), root: unescapeMount(root) };
    if (fstype === 'cgroup2') {
      out.v2 ??= m;
    } else if (fstype === 'cgroup') {
      for (const opt of (right[2] ?? '').split(',')) {
        if ((V1_CONTROLLERS as readonly string[]).includes(opt) && !out.v1.has(opt)) out.v1.set(opt, m);
      }
    }
  }
  return out;
}

/**
 * The hierarchies to read. `given` is a directory laid out like /sys/fs/cgroup: a v2 root (it has
 * `cgroup.controllers`), or v1 controller directories (`cpu/`, `cpuacct/`, `memory/`) beside an
 * optional `unified/` v2 root. Without it, /proc/self/mountinfo tells, else the usual places.
 */
export function findCgroupMounts(given?: string): CgroupMounts {
  const isV2 = (d: string): boolean => fs.existsSync(`${d}/cgroup.controllers`);
  const fromDir = (base: string): CgroupMounts => {
    const out: CgroupMounts = { v2: null, v1: new Map() };
    if (isV2(base)) out.v2 = { dir: base, root: '/' };
    else if (isV2(`${base}/unified`)) out.v2 = { dir: `${base}/unified`, root: '/' };
    if (out.v2?.dir !== base) {
      for (const c of V1_CONTROLLERS) {
        if (fs.existsSync(`${base}/${c}/cgroup.procs`)) out.v1.set(c, { dir: `${base}/${c}`, root: '/' });
      }
    }
    return out;
  };
  if (given !== undefined) return fromDir(given);
  const info = proc.readText('self/mountinfo');
  if (info !== null) {
    const found = parseMountinfo(info);
    if (found.v2 !== null && !isV2(found.v2.dir)) found.v2 = null;
    if (found.v2 !== null || found.v1.size > 0) return found;
  }
  return fromDir('/sys/fs/cgroup');
}

/** Where the cgroup v2 hierarchy is mounted (see findCgroupMounts), or null. */
export function findCgroupRoot(given?: string): string | null {
  return findCgroupMounts(given).v2?.dir ?? null;
}

/**
 * A process's cgroup paths from the text of /proc/PID/cgroup: `0::/a/b` is its v2 path,
 * `4:cpu,cpuacct:/a/b` its path in those v1 controllers.
 */
export function parseProcCgroup(text: string): { v2: string | null; v1: Map<string, string> } {
  const out = { v2: null as string | null, v1: new Map<string, string>() };
  for (const line of text.split('\n')) {
    const a = line.indexOf(':');
    const b = line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    const path = line.slice(b + 1).replace(/ \(deleted\)$/, '') || '/';
    const controllers = line.slice(a + 1, b);
    if (line.slice(0, a) === '0' && controllers === '') out.v2 = path;
    else for (const c of controllers.split(',')) if ((V1_CONTROLLERS as readonly string[]).includes(c)) out.v1.set(c, path);
  }
  return out;
}

/** The v2 path of a process from /proc/PID/cgroup (`0::/a/b` gives `/a/b`), or null. */
export function cgroupOf(pid: number): string | null {
  const s = proc.readText(`${pid}/cgroup`);
  return s === null ? null : parseProcCgroup(s).v2;
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

/** v1 `cpu.cfs_quota_us` over `cpu.cfs_period_us` in cores, or null when unlimited (-1) or unreadable. */
export function parseCfsQuota(quota: string | null, period: string | null): number | null {
  if (quota === null || period === null) return null;
  const q = Number(quota.trim());
  const p = Number(period.trim());
  return q > 0 && p > 0 ? q / p : null;
}

/** v1 memory limits at or above this are "unlimited" (the kernel's PAGE_COUNTER_MAX in bytes is about 2^63). */
const V1_UNLIMITED_BYTES = 2 ** 62;

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

/** A hierarchy path's directory in a mount, or null when the mount does not show it. */
function dirIn(m: CgroupMount, p: string): string | null {
  if (m.root === '/' || m.root === '') return p === '/' ? m.dir : `${m.dir}${p}`;
  if (p === m.root) return m.dir;
  if (p.startsWith(`${m.root}/`)) return `${m.dir}${p.slice(m.root.length)}`;
  return null;
}

/** `p` and each of its ancestors up to the root, nearest first. */
function* upward(p: string): Generator<string> {
  for (let q = p; ; q = q.slice(0, Math.max(1, q.lastIndexOf('/')))) {
    yield q;
    if (q === '/') return;
  }
}

/** A process's place in each hierarchy read, as one key (the group's cgroup is voted by it). */
interface Place {
  key: string;
  v2: string | null;
  v1: Map<string, string>;
}

export class CgroupReader {
  private readonly mounts: CgroupMounts;
  /** Controllers bound to the v2 hierarchy (in hybrid mode, cpu and memory are v1's). */
  private readonly v2Controllers: ReadonlySet<string>;
  private readonly placeOf = new WeakMap<Node, Place>();
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
    this.mounts = findCgroupMounts(root);
    const v2 = this.mounts.v2;
    this.v2Controllers = new Set(v2 === null ? [] : (readFile(`${v2.dir}/cgroup.controllers`) ?? '').trim().split(/\s+/));
    this.m = !this.enabled
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
    return this.mounts.v2 !== null || this.mounts.v1.size > 0;
  }

  /** Which hierarchies are read, for the start-up log: "v2 /sys/fs/cgroup", "v1 cpu,cpuacct,memory + v2 …". */
  describe(): string {
    const parts: string[] = [];
    if (this.mounts.v1.size > 0) parts.push(`v1 ${[...this.mounts.v1.keys()].join(',')}`);
    if (this.mounts.v2 !== null) parts.push(`v2 ${this.mounts.v2.dir}`);
    return parts.join(' + ') || 'none';
  }

  /** A process joined a group: its cgroup is read once. */
  join(member: Node): void {
    if (!this.enabled) return;
    const s = proc.readText(`${member.pid}/cgroup`);
    if (s === null) return;
    const { v2, v1 } = parseProcCgroup(s);
    const mine = new Map<string, string>();
    for (const [c, p] of v1) if (this.mounts.v1.has(c)) mine.set(c, p);
    const v2Here = this.mounts.v2 !== null ? v2 : null;
    if (v2Here === null && mine.size === 0) return;
    const key = [v2Here ?? '', ...[...mine].map(([c, p]) => `${c}:${p}`)].join('\n');
    this.placeOf.set(member, { key, v2: v2Here, v1: mine });
  }

  /** Reads and publishes the cgroup of one group (the cgroup most of its members are in). */
  publish(labels: readonly [string, string], members: Iterable<Node>): void {
    const m = this.m;
    if (m === null) return;
    const votes = new Map<string, { place: Place; n: number }>();
    for (const mb of members) {
      const p = this.placeOf.get(mb);
      if (p === undefined) continue;
      const v = votes.get(p.key);
      if (v === undefined) votes.set(p.key, { place: p, n: 1 });
      else v.n++;
    }
    let place: Place | null = null;
    let best = 0;
    for (const v of votes.values()) if (v.n > best) [place, best] = [v.place, v.n];
    const L = [...labels];
    if (place === null) {
      for (const fam of [m.limit, m.usage, m.periods, m.throttledPeriods, m.throttled, m.memory, m.memoryLimit]) fam.remove(L);
      return;
    }
    const cpu = this.readCpu(place);
    if (cpu.cores !== null) m.limit.set(L, cpu.cores);
    else m.limit.remove(L);
    if (!cpu.readable) this.onError('cgroup');
    if (cpu.usageSeconds !== null) m.usage.set(L, cpu.usageSeconds);
    if (cpu.periods !== null) m.periods.set(L, cpu.periods);
    if (cpu.throttledPeriods !== null) m.throttledPeriods.set(L, cpu.throttledPeriods);
    if (cpu.throttledSeconds !== null) m.throttled.set(L, cpu.throttledSeconds);
    const mem = this.readMemory(place);
    if (mem.current !== null) m.memory.set(L, mem.current);
    if (mem.limit !== null) m.memoryLimit.set(L, mem.limit);
    else m.memoryLimit.remove(L);
    const v2 = this.mounts.v2;
    const v2dir = v2 !== null && place.v2 !== null ? dirIn(v2, place.v2) : null;
    if (v2dir === null) return;
    for (const resource of ['cpu', 'memory', 'io']) {
      const s = readFile(`${v2dir}/${resource}.pressure`);
      if (s === null) continue;
      for (const line of s.split('\n')) {
        const r = /^(some|full) .*total=(\d+)/.exec(line);
        if (r) m.pressure.set([...L, resource, r[1]!], Number(r[2]) / 1e6);
      }
    }
  }

  /** The tightest quota up the path in either hierarchy, throttling where it is set, and usage. */
  private readCpu(place: Place): {
    cores: number | null;
    usageSeconds: number | null;
    periods: number | null;
    throttledPeriods: number | null;
    throttledSeconds: number | null;
    readable: boolean;
  } {
    let cores: number | null = null;
    /** Throttling at the cgroup of the tightest quota (else the group's own), in common units. */
    let throttle: { periods?: number; throttled?: number; seconds?: number } | null = null;
    let usageSeconds: number | null = null;
    let readable = false;
    const v2 = this.mounts.v2;
    if (v2 !== null && place.v2 !== null) {
      const own = dirIn(v2, place.v2);
      let quotaDir = own;
      for (const p of upward(place.v2)) {
        const d = dirIn(v2, p);
        if (d === null) break;
        const c = parseCpuMax(readFile(`${d}/cpu.max`));
        if (c !== null && (cores === null || c < cores)) [cores, quotaDir] = [c, d];
      }
      if (own !== null) {
        const stat = parseKeyed(readFile(`${own}/cpu.stat`));
        readable ||= stat.size > 0;
        const usage = stat.get('usage_usec');
        if (usage !== undefined) usageSeconds = usage / 1e6;
        const at = quotaDir === own ? stat : parseKeyed(readFile(`${quotaDir}/cpu.stat`));
        if (at.has('nr_periods')) throttle = { periods: at.get('nr_periods'), throttled: at.get('nr_throttled'), seconds: (at.get('throttled_usec') ?? NaN) / 1e6 };
      }
    }
    const cpu1 = this.mounts.v1.get('cpu');
    const path1 = place.v1.get('cpu');
    if (cpu1 !== undefined && path1 !== undefined) {
      const own = dirIn(cpu1, path1);
      let quotaDir = own;
      let cores1: number | null = null;
      for (const p of upward(path1)) {
        const d = dirIn(cpu1, p);
        if (d === null) break;
        const c = parseCfsQuota(readFile(`${d}/cpu.cfs_quota_us`), readFile(`${d}/cpu.cfs_period_us`));
        if (c !== null && (cores1 === null || c < cores1)) [cores1, quotaDir] = [c, d];
      }
      if (own !== null) {
        const at = parseKeyed(readFile(`${quotaDir}/cpu.stat`));
        readable ||= at.size > 0;
        // The v1 quota governs when it is the tighter one (or v2 has none): its throttling is the one felt.
        if (cores1 !== null && (cores === null || cores1 < cores)) {
          cores = cores1;
          throttle = null;
        }
        if (throttle === null && at.has('nr_periods')) throttle = { periods: at.get('nr_periods'), throttled: at.get('nr_throttled'), seconds: (at.get('throttled_time') ?? NaN) / 1e9 };
      }
    }
    const acct = this.mounts.v1.get('cpuacct');
    const pathAcct = place.v1.get('cpuacct');
    // v2 accounts CPU in every cgroup, but where the cpu controller is bound to v1 (hybrid mode)
    // the process's v2 cgroup is usually not the one its limits are set on: cpuacct tells then.
    if ((usageSeconds === null || !this.v2Controllers.has('cpu')) && acct !== undefined && pathAcct !== undefined) {
      const d = dirIn(acct, pathAcct);
      const u = d === null ? null : readFile(`${d}/cpuacct.usage`);
      if (u !== null && Number.isFinite(Number(u.trim()))) {
        usageSeconds = Number(u.trim()) / 1e9;
        readable = true;
      }
    }
    const num = (v: number | undefined): number | null => (v !== undefined && Number.isFinite(v) ? v : null);
    return {
      cores,
      usageSeconds,
      periods: num(throttle?.periods),
      throttledPeriods: num(throttle?.throttled),
      throttledSeconds: num(throttle?.seconds),
      readable,
    };
  }

  /** Memory in use (v2 memory.current, else v1 memory.usage_in_bytes) and the tightest limit in either hierarchy. */
  private readMemory(place: Place): { current: number | null; limit: number | null } {
    let current: number | null = null;
    let limit: number | null = null;
    const tighter = (v: number): void => {
      if (Number.isFinite(v) && v > 0 && (limit === null || v < limit)) limit = v;
    };
    const v2 = this.mounts.v2;
    if (v2 !== null && place.v2 !== null) {
      const own = dirIn(v2, place.v2);
      const c = own === null ? null : readFile(`${own}/memory.current`);
      if (c !== null) current = Number(c.trim());
      for (const p of upward(place.v2)) {
        const d = dirIn(v2, p);
        if (d === null) break;
        const mm = readFile(`${d}/memory.max`);
        if (mm !== null && mm.trim() !== 'max') tighter(Number(mm.trim()));
      }
    }
    const mem1 = this.mounts.v1.get('memory');
    const path1 = place.v1.get('memory');
    if (mem1 !== undefined && path1 !== undefined) {
      const own = dirIn(mem1, path1);
      const c = own === null || (current !== null && this.v2Controllers.has('memory')) ? null : readFile(`${own}/memory.usage_in_bytes`);
      if (c !== null) current = Number(c.trim());
      for (const p of upward(path1)) {
        const d = dirIn(mem1, p);
        if (d === null) break;
        const mm = readFile(`${d}/memory.limit_in_bytes`);
        if (mm !== null && Number(mm.trim()) < V1_UNLIMITED_BYTES) tighter(Number(mm.trim()));
      }
    }
    return { current: current !== null && Number.isFinite(current) ? current : null, limit };
  }
}
