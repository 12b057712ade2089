/**
 * Bounded in-memory history: one row per analysis tick, kept in ring buffers of a fixed number of
 * rows. Every column shares the row index, so a column that appears late reads NaN for the rows
 * before it. Memory is fixed when a column is created: 4 bytes per row for a ratio or a load
 * value, 8 for the timestamps (see docs/analysis.md for the bound).
 */

export interface RatioKey {
  group: string;
  role: 'sut' | 'injector';
  resource: string;
}

/** The history as plain JSON (what /api/v1/analysis serves and `redline report` reads). */
export interface HistoryData {
  intervalSeconds: number;
  /** Epoch seconds of each row. */
  t: number[];
  injectorProcesses: Array<number | null>;
  activeUsers: Array<number | null>;
  offeredRps: Array<number | null>;
  /** Completed requests per second (successes and errors). */
  requestsRps: Array<number | null>;
  errorsRps: Array<number | null>;
  /** Share of the host's CPUs busy. */
  hostCpu: Array<number | null>;
  /** Finite upper bounds of the latency buckets, in seconds. */
  latencyBounds: number[];
  /** Per bucket (non-cumulative; the last is +Inf), observations per second in each row. */
  latencyBuckets: Array<Array<number | null>>;
  ratios: Array<RatioKey & { values: Array<number | null> }>;
}

export const GLOBAL_COLUMNS = ['injectorProcesses', 'activeUsers', 'offeredRps', 'requestsRps', 'errorsRps', 'hostCpu'] as const;
export type GlobalColumn = (typeof GLOBAL_COLUMNS)[number];

export interface HistoryOptions {
  /** Rows kept (at 1 s per row, 7200 is two hours). */
  rows: number;
  intervalSeconds: number;
  /** Most ratio columns kept; further ones are refused and counted. */
  maxRatioColumns: number;
}

export class History {
  readonly rows: number;
  readonly intervalSeconds: number;
  readonly maxRatioColumns: number;
  /** Rows written since the start (the next row's index, before wrapping). */
  written = 0;
  /** Ratio columns refused because `maxRatioColumns` were in use. */
  refusedColumns = 0;
  private readonly t: Float64Array;
  private readonly global = new Map<GlobalColumn, Float32Array>();
  private latencyBounds: number[] = [];
  private latency: Float32Array[] = [];
  private readonly ratio = new Map<string, { key: RatioKey; values: Float32Array; lastRow: number }>();

  constructor(opts: HistoryOptions) {
    this.rows = opts.rows;
    this.intervalSeconds = opts.intervalSeconds;
    this.maxRatioColumns = opts.maxRatioColumns;
    this.t = new Float64Array(opts.rows).fill(NaN);
    for (const c of GLOBAL_COLUMNS) this.global.set(c, new Float32Array(opts.rows).fill(NaN));
  }

  get length(): number {
    return Math.min(this.written, this.rows);
  }

  /** Starts a row at `tSeconds`; the caller then sets its values. Every column reads NaN until set. */
  beginRow(tSeconds: number): number {
    const i = this.written % this.rows;
    this.written++;
    this.t[i] = tSeconds;
    for (const col of this.global.values()) col[i] = NaN;
    for (const col of this.latency) col[i] = NaN;
    for (const [k, c] of this.ratio) {
      c.values[i] = NaN;
      // A column whose every row has rolled out (its group went away long ago) is dropped.
      if (this.written - c.lastRow > this.rows) this.ratio.delete(k);
    }
    return i;
  }

  setGlobal(row: number, col: GlobalColumn, v: number | null): void {
    this.global.get(col)![row] = v ?? NaN;
  }

  /** Sets the row's latency bucket rates; a change of bounds starts the latency columns afresh. */
  setLatency(row: number, bounds: readonly number[], perBucket: readonly number[]): void {
    if (bounds.length !== this.latencyBounds.length || bounds.some((b, i) => b !== this.latencyBounds[i])) {
      this.latencyBounds = [...bounds];
      this.latency = perBucket.map(() => new Float32Array(this.rows).fill(NaN));
    }
    for (let b = 0; b < this.latency.length; b++) this.latency[b]![row] = perBucket[b] ?? NaN;
  }

  /** Sets one ratio; returns false when the column cap refused a new column. */
  setRatio(row: number, key: RatioKey, id: string, v: number): boolean {
    let c = this.ratio.get(id);
    if (c === undefined) {
      if (this.ratio.size >= this.maxRatioColumns) {
        this.refusedColumns++;
        return false;
      }
      c = { key, values: new Float32Array(this.rows).fill(NaN), lastRow: this.written };
      this.ratio.set(id, c);
    }
    c.values[row] = v;
    c.lastRow = this.written;
    return true;
  }

  get ratioColumns(): number {
    return this.ratio.size;
  }

  /** Bytes held by the buffers (the bound stated in the docs). */
  get bytes(): number {
    return this.rows * (8 + 4 * (GLOBAL_COLUMNS.length + this.latency.length + this.ratio.size));
  }

  /** The rows with `t > sinceSeconds` (all by default), oldest first, as plain JSON. */
  toJSON(sinceSeconds = -Infinity): HistoryData {
    const n = this.length;
    const first = this.written - n;
    const idx: number[] = [];
    for (let k = first; k < this.written; k++) {
      const i = k % this.rows;
      if (this.t[i]! > sinceSeconds) idx.push(i);
    }
    const col = (a: Float32Array | Float64Array): Array<number | null> => idx.map((i) => num(a[i]!));
    const g = (c: GlobalColumn): Array<number | null> => col(this.global.get(c)!);
    return {
      intervalSeconds: this.intervalSeconds,
      t: idx.map((i) => this.t[i]!),
      injectorProcesses: g('injectorProcesses'),
      activeUsers: g('activeUsers'),
      offeredRps: g('offeredRps'),
      requestsRps: g('requestsRps'),
      errorsRps: g('errorsRps'),
      hostCpu: g('hostCpu'),
      latencyBounds: [...this.latencyBounds],
      latencyBuckets: this.latency.map(col),
      ratios: [...this.ratio.values()]
        .map((c) => ({ ...c.key, values: col(c.values) }))
        .filter((r) => r.values.some((v) => v !== null)),
    };
  }
}

function num(v: number): number | null {
  // Float32 storage: round to 6 significant digits so JSON stays short and exact-looking.
  return Number.isFinite(v) ? Number(v.toPrecision(6)) : null;
}

/** An empty history, as JSON. */
export function emptyHistory(intervalSeconds = 1): HistoryData {
  return { intervalSeconds, t: [], injectorProcesses: [], activeUsers: [], offeredRps: [], requestsRps: [], errorsRps: [], hostCpu: [], latencyBounds: [], latencyBuckets: [], ratios: [] };
}
