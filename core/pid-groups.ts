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
}

