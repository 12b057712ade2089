// The host collector's public surface (loaded by the CLI on demand).
import fs from 'node:fs';
import type { Store } from '../../core/store.js';
import { HostCollector, type HostOptions } from './collector.js';
import { FallbackCollector } from './fallback.js';
import type { PidGroups } from '../../core/pid-groups.js';

export { HostCollector, FallbackCollector };
export type { HostOptions };
export { parseGroupFlag, matches, ROLES } from './groups.js';
export type { GroupSpec, Role } from './groups.js';

export interface RunningCollector extends PidGroups {
  /** Declared groups that have matched no process yet (the live view's banner reads this). */
  emptyGroups(): string[];
  /** What is read of the host besides /proc, for the start-up log ("cgroups v1 cpu,memory + v2 …"). */
  readonly reads: string;
  start(): void;
  stop(): Promise<void>;
  tick(): Promise<void>;
}

/** /proc where it exists (Linux); systeminformation + pidusage elsewhere (fewer metrics). */
export function createHostCollector(store: Store, opts: HostOptions & { fallback?: boolean }): RunningCollector {
  const procRoot = opts.procRoot ?? '/proc';
  if (!opts.fallback && fs.existsSync(`${procRoot}/self/stat`)) return new HostCollector(store, opts);
  return new FallbackCollector(store, { intervalMs: opts.intervalMs, groups: opts.groups });
}
