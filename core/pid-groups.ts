/**
 * Which process group a pid belongs to, as the host collector last saw it.
 *
 * The host collector publishes this lookup; the statsd path reads it to label a probe's series
 * with `group` and `role`. Sources never call each other: an implementation answers from the
 * last tick's map and never reads /proc on the caller's path.
 */

/** What a group is for: the system under test, a load injector, or anything else watched. */
export type Role = 'sut' | 'injector' | 'other';

/** The group and role of one process. */
export interface GroupRef {
  readonly group: string;
  readonly role: Role;
}

export interface PidGroups {
  /** The group `pid` was in at the last tick, or undefined (unknown pid, or in no group). */
  groupOf(pid: number): GroupRef | undefined;
  /**
   * Moves whenever a process joins a group: a pid `groupOf` did not know may be known now. The
   * statsd path re-resolves a cached series that missed only when this has moved.
   */
  readonly generation: number;
}

/**
 * Labels a probe's statsd series (which carry `pid`) with the group the host collector put that
 * pid in. A pid it does not know yet is asked about again when a process joins a group (the
 * ingest's `Enricher`, collector/statsd/ingest.ts).
 */
export function groupLabeller(groups: PidGroups): { enrich(labels: Map<string, string>): boolean; readonly generation: number } {
  return {
    enrich(labels) {
      if (labels.has('group')) return false;
      const pid = Number(labels.get('pid'));
      if (!Number.isInteger(pid) || pid <= 0) return false;
      const g = groups.groupOf(pid);
      if (g === undefined) return true;
      labels.set('group', g.group);
      return false;
    },
    get generation() {
      return groups.generation;
    },
  };
}
