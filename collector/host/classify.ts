/**
 * Which group each process on the host belongs to, kept per (pid, start time) and checked again
 * whenever the process may have exec()ed another command line since it was classified.
 *
 * - A process is matched against the groups once per program image: its command line (and exe,
 *   if a group asks for it) is read then, never again until it execs.
 * - An unmatched process costs one small pread every other tick (by pid parity, so detection
 *   takes at most 2 ticks): a byte of its environment through a descriptor kept since it was
 *   classified (reads return nothing once it exec()ed or exited: see procfs.sameImage), or, where
 *   that file is not readable, its comm (exec changes it). An exit noticed a tick late costs
 *   nothing: unmatched processes count nowhere.
 * - A matched process's stat is read every tick anyway: its comm and the start of its stack
 *   (randomised at every exec) tell an exec with no extra read.
 * - Children join their parent's group unless they match one themselves.
 * - The agent and its own launcher chain (npm, npx, `sh -c` and any other ancestor) never join a
 *   group: their command lines hold the agent's patterns (`npx redline --sut api='node server.js'`).
 * - Launchers (`sh -c …`, npm/npx/pnpm/yarn runners) are not matched by the command line they
 *   pass on: `npm start` of a SUT counts its node process, not npm and sh too (isLauncher).
 */
import * as proc from './procfs.js';
import { matches, type GroupSpec } from './groups.js';

/**
 * How a classified process is checked for exec each tick: `environ`, a byte of /proc/PID/environ
 * through a descriptor kept since classification; `comm`, /proc/PID/comm against its value then.
 */
type Check = 'environ' | 'comm';

export interface Classified {
  readonly start: number;
  /** Index into the groups, or -1 for an unmatched process. */
  readonly group: number;
  readonly check: Check;
  /** The comm at classification (stat's), and as /proc/PID/comm reads it ('comm' only). */
  readonly comm: string;
  readonly commBytes: Buffer | null;
  readonly startstack: number;
}

export interface Resolved {
  group: number;
  /** Classified again because it exec()ed since (same pid and start time, another image). */
  execed: boolean;
}

const SHELLS = new Set(['sh', 'dash', 'bash', 'zsh', 'ash', 'ksh', 'mksh', 'busybox']);
const PACKAGE_RUNNERS = /^(npm|npx|pnpm|yarn)( |$)/;

/**
 * A shell running a `-c` script, or a package manager's runner (npm sets its title to
 * `npm start …`, which is its comm): processes that only pass a command line on.
 */
export function isLauncher(comm: string, cmdline: string): boolean {
  if (PACKAGE_RUNNERS.test(comm)) return true;
  return SHELLS.has(comm) && / -[a-zA-Z]*c[a-zA-Z]* /.test(` ${cmdline.slice(0, 256)} `);
}

const SAME: Resolved = { group: -1, execed: false };

export class Classifier {
  private readonly cls = new Map<number, Classified>();
  /** The agent and its ancestors at start-up, by pid, with their start times. */
  private readonly own = new Map<number, number>();
  private readonly needsExe: boolean;
  reclassified = 0;

  constructor(
    private readonly groups: readonly GroupSpec[],
    selfPid: number = process.pid,
  ) {
    this.needsExe = groups.some((g) => g.exe);
    let pid = selfPid;
    for (let depth = 0; depth < 64 && pid > 1; depth++) {
      const st = proc.readStat(pid);
      if (st === null) break;
      this.own.set(pid, st.starttime);
      pid = st.ppid;
    }
    // The agent's own kept descriptors are not needed.
    for (const p of this.own.keys()) proc.forget(p);
  }

  get(pid: number): Classified | undefined {
    return this.cls.get(pid);
  }

  /**
   * An unmatched known process, cheaply: true when it is still the same process running the same
   * program image (then nothing else is read this tick). Checked every other tick.
   */
  unchanged(pid: number, known: Classified, tick: number): boolean {
    if (((pid ^ tick) & 1) === 1) return true;
    return known.check === 'environ' ? proc.sameImage(pid) : proc.commIs(pid, known.commBytes!);
  }

  /** The group of a live process whose stat was just read, classifying it when new or exec()ed. */
  resolve(pid: number, stat: proc.ProcStat): Resolved {
    const known = this.cls.get(pid);
    if (known !== undefined && known.start === stat.starttime) {
      // A changed comm or stack start is an exec (the same comm: a Python exec()ing another
      // Python script). Unmatched processes come here only when their cheap check failed.
      const same = stat.comm === known.comm && stat.startstack === known.startstack && (known.group >= 0 || known.check === 'comm' || proc.sameImage(pid));
      if (same) {
        // The common case, each tick for each matched process: one reused answer, no allocation
        // (the caller reads it at once).
        SAME.group = known.group;
        return SAME;
      }
      this.cls.delete(pid);
      // Descriptors opened on the old image (environ, maps) read the old address space.
      proc.forget(pid, 'stat');
      this.reclassified++;
      return { group: this.classify(pid, stat, 0), execed: true };
    }
    if (known !== undefined) {
      // The pid was reused.
      this.cls.delete(pid);
      proc.forget(pid);
    }
    return { group: this.classify(pid, stat, 0), execed: false };
  }

  private classify(pid: number, stat: proc.ProcStat, depth: number): number {
    const known = this.cls.get(pid);
    if (known !== undefined && known.start === stat.starttime) return known.group;
    let group = -1;
    const ownStart = this.own.get(pid);
    const isOwn = ownStart !== undefined && ownStart === stat.starttime;
    if (this.groups.length > 0 && !isOwn) {
      const cmdline = proc.readCmdline(pid) ?? '';
      // A launcher holds the command line it starts (`sh -c 'node server.js'`, `npm start -- --port
      // 1`): it is not matched by that text, or `npm start` would count npm, sh and node. What it
      // starts is matched by its own command line; the launcher still joins its parent's group.
      if (!isLauncher(stat.comm, cmdline)) {
        const id = { comm: stat.comm, cmdline, exe: this.needsExe ? proc.readExe(pid) : null };
        group = this.groups.findIndex((g) => matches(g, id));
      }
      if (group < 0 && stat.ppid > 1 && depth < 64) {
        const parent = proc.readStat(stat.ppid);
        if (parent !== null) group = this.classify(stat.ppid, parent, depth + 1);
      }
    }
    // The exec check of unmatched processes is armed now, on the image just matched.
    const environ = group < 0 && proc.sameImage(pid);
    const commBytes = environ || group >= 0 ? null : proc.commBytes(stat.comm);
    this.cls.set(pid, { start: stat.starttime, group, check: environ ? 'environ' : 'comm', comm: stat.comm, commBytes, startstack: stat.startstack });
    if (group < 0) {
      // From now on this process costs one small read every other tick, through one kept descriptor that
      // stops reading once the process execs or is gone. Nothing else stays open.
      if (commBytes !== null) proc.commIs(pid, commBytes);
      proc.forget(pid, environ ? 'environ' : 'comm');
    }
    return group;
  }

  /** Forgets processes not seen in the last tick. */
  prune(seen: Set<number>): void {
    for (const pid of this.cls.keys()) if (!seen.has(pid)) this.cls.delete(pid);
  }

  /** Forgets one process (its pid no longer names it). */
  delete(pid: number): void {
    this.cls.delete(pid);
  }
}
