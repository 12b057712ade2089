/**
 * The live view's model: what the page draws, as the server computes it once per tick for every
 * viewer. The page gets a catalogue of series (what each one is, its panel, unit and limit), then
 * one row of values per second; the verdict travels with every row.
 *
 * Everything here is plain data (JSON on the wire), so the page, the tests and the benchmark
 * read the same shapes.
 */

/** The panels of the page, top to bottom (mirroring the overview dashboard). */
export type PanelKind =
  | 'load' // injector processes, active users
  | 'throughput' // offered vs achieved requests/s
  | 'latency' // p50/p95/p99 seconds
  | 'errors' // error ratio
  | 'saturation' // one small chart per (SUT group, resource), ratio 0–1 against its limit
  | 'injector' // injector health: one small chart per (injector group, resource)
  | 'intake'; // the agent's own intake: lines/s, rejected and dropped by reason

/** Units the page formats and writes on axes. */
export type Unit = 'processes' | 'users' | 'req/s' | 'seconds' | 'ratio' | 'lines/s' | 'percent';

export type Role = 'sut' | 'injector' | 'other';

/** One series the page can draw. `id` is stable for the life of the agent. */
export interface SeriesInfo {
  id: string;
  panel: PanelKind;
  /** Legend text, e.g. `p95`, `achieved`, `busiest thread`. */
  name: string;
  unit: Unit;
  /** The env/run a load series belongs to (`` when the load carries no env or run label). */
  run?: string;
  /** Saturation and injector series: the process group and the resource. */
  group?: string;
  role?: Role;
  resource?: string;
  /** The value at which the resource is saturated (drawn as a line); ratios have 1. */
  limit?: number;
  /** Where the verdict starts counting the resource as saturated (drawn dashed). */
  threshold?: number;
}

export type VerdictState = 'ok' | 'sut_saturated' | 'injector_saturated' | 'both';

/** The first resource that saturated on one side, and since when. */
export interface Saturated {
  group: string;
  resource: string;
  /** Epoch milliseconds of the onset (the first second at or above the threshold). */
  onsetMs: number;
  /** The ratio now. */
  ratio: number;
}

export interface Verdict {
  state: VerdictState;
  sut: Saturated | null;
  injector: Saturated | null;
  /** Where the verdict came from: the analysis stage, or the live view's own reading of the store. */
  source: 'analysis' | 'live';
}

/** A knee point: one ramp step (a distinct load level) and what it achieved. */
export interface KneeStep {
  /** Injector processes (or active users when no injector group is declared). */
  load: number;
  loadUnit: 'processes' | 'users';
  throughput: number;
  p95Seconds: number | null;
  /** Seconds spent at this load. */
  seconds: number;
}

export interface Knee {
  run: string;
  steps: KneeStep[];
  /** Index into `steps` where achieved throughput stopped following the load, or null. */
  kneeIndex: number | null;
}

/** A run the load series carry (env and run labels); the picker shows them when there are several. */
export interface RunInfo {
  key: string;
  env: string;
  run: string;
}

/** A declared process group that matches no process: the page shows a banner for each. */
export interface EmptyGroup {
  group: string;
  /** Epoch milliseconds since which the live view has seen it empty (the agent's start, or when it was declared). */
  sinceMs: number;
}

/** `GET /api/v1/live?range=…`: everything the page needs to draw from scratch. */
export interface LiveSnapshot {
  /** Moves whenever a series is added: the page re-fetches the snapshot when it sees a new one. */
  catalogVersion: number;
  series: SeriesInfo[];
  runs: RunInfo[];
  /** Epoch milliseconds, ascending. */
  t: number[];
  /** One column per series, same order as `series`, `null` where there was no value. */
  values: (number | null)[][];
  verdict: Verdict;
  knees: Knee[];
  emptyGroups: EmptyGroup[];
  /** Seconds one point stands for (1 unless a long range was thinned). */
  stepSeconds: number;
  /** Agent facts for the corner: version, listeners, links. */
  about: About;
}

export interface About {
  version: string;
  telemetryPath: string;
  lines: string[];
}

/** One tick, pushed over Server-Sent Events to every viewer. */
export interface LiveTick {
  catalogVersion: number;
  t: number;
  /** Same order as the catalogue's series; `null` where there is no value this second. */
  values: (number | null)[];
  verdict: Verdict;
  knees: Knee[];
  emptyGroups: EmptyGroup[];
}
