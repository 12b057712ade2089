/**
 * A cgroup of the test's own with a CPU quota and/or a memory limit, for driving the container
 * limits with real processes: cgroup v2 where its controllers can be enabled, else cgroup v1 (one
 * directory per controller). Needs root (or a delegated hierarchy); `makeCgroup` returns the reason
 * instead when the host does not allow it, so a test can say why it does not run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { findCgroupMounts } from '../../collector/host/cgroups.js';
import { waitFor } from './wait.js';

export interface TestCgroup {
  /** `v1` or `v2`. */
  readonly kind: 'v1' | 'v2';
  /** Its directory in each hierarchy it was made in. */
  readonly dirs: readonly string[];
  /** A shell prefix that moves the shell into the cgroup, to be followed by `exec …`. */
  readonly enter: string;
  /** Removes it (bounded wait for its processes, which the caller stopped, to leave). */
  remove(): Promise<void>;
}

export interface CgroupLimits {
  cpuCores?: number;
  memoryBytes?: number;
}

const PERIOD_US = 100_000;

function tryWrite(file: string, text: string): string | null {
  try {
    fs.writeFileSync(file, text);
    return null;
  } catch (err) {
    return `${file}: ${(err as Error).message}`;
  }
}

function removeDirs(dirs: readonly string[]): Promise<void> {
  return waitFor(
    () => {
      for (const d of dirs) {
        try {
          fs.rmdirSync(d);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return false;
        }
      }
      return true;
    },
    { timeoutMs: 10_000, intervalMs: 100, what: `cgroups ${dirs.join(', ')} removed` },
  ).then(() => undefined);
}

/** Makes a cgroup named `name` with `limits`, or says why it cannot. */
export function makeCgroup(name: string, limits: CgroupLimits): TestCgroup | string {
  const mounts = findCgroupMounts();
  const wantCpu = limits.cpuCores !== undefined;
  const wantMem = limits.memoryBytes !== undefined;
  const v2 = mounts.v2;
  const v2Controllers = v2 === null ? [] : fs.readFileSync(path.join(v2.dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
  if (v2 !== null && (!wantCpu || v2Controllers.includes('cpu')) && (!wantMem || v2Controllers.includes('memory'))) {
    const dir = path.join(v2.dir, name);
    const made = (() => {
      try {
        fs.mkdirSync(dir);
      } catch (err) {
        return `${dir}: ${(err as Error).message}`;
      }
      const enable = [wantCpu ? '+cpu' : '', wantMem ? '+memory' : ''].filter(Boolean).join(' ');
      return (
        tryWrite(path.join(v2.dir, 'cgroup.subtree_control'), enable) ??
        (wantCpu ? tryWrite(path.join(dir, 'cpu.max'), `${Math.round(limits.cpuCores! * PERIOD_US)} ${PERIOD_US}`) : null) ??
        (wantMem ? tryWrite(path.join(dir, 'memory.max'), String(limits.memoryBytes)) : null)
      );
    })();
    if (made === null) return { kind: 'v2', dirs: [dir], enter: `echo $$ > ${dir}/cgroup.procs && `, remove: () => removeDirs([dir]) };
    try {
      fs.rmdirSync(dir);
    } catch {
      // It was not made.
    }
    if (mounts.v1.size === 0) return `cgroup v2 at ${v2.dir}: ${made}`;
  }
  const needed = [...(wantCpu ? ['cpu'] : []), ...(wantMem ? ['memory'] : [])];
  const missing = needed.filter((c) => !mounts.v1.has(c));
  // A container runtime puts its processes in cpuacct beside cpu (where it is a mount of its own):
  // the cgroup's CPU time is read there.
  if (wantCpu && mounts.v1.has('cpuacct') && mounts.v1.get('cpuacct')!.dir !== mounts.v1.get('cpu')?.dir) needed.push('cpuacct');
  if (missing.length > 0) return `this host has the ${missing.join(' and ')} controller in no cgroup hierarchy the test can write`;
  const dirs: string[] = [];
  const fail = (why: string): string => {
    for (const d of dirs) {
      try {
        fs.rmdirSync(d);
      } catch {
        // Best effort: it is empty.
      }
    }
    return `cgroup v1: ${why}`;
  };
  for (const c of needed) {
    const dir = path.join(mounts.v1.get(c)!.dir, name);
    try {
      fs.mkdirSync(dir);
    } catch (err) {
      return fail(`${dir}: ${(err as Error).message}`);
    }
    dirs.push(dir);
    const err =
      c === 'cpu'
        ? (tryWrite(path.join(dir, 'cpu.cfs_period_us'), String(PERIOD_US)) ?? tryWrite(path.join(dir, 'cpu.cfs_quota_us'), String(Math.round(limits.cpuCores! * PERIOD_US))))
        : c === 'memory'
          ? tryWrite(path.join(dir, 'memory.limit_in_bytes'), String(limits.memoryBytes))
          : null;
    if (err !== null) return fail(err);
  }
  return { kind: 'v1', dirs, enter: dirs.map((d) => `echo $$ > ${d}/cgroup.procs && `).join(''), remove: () => removeDirs(dirs) };
}
