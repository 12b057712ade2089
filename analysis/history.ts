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

  /**
   * Every row, oldest first, in typed arrays (NaN for no value) typed as HistoryData: for code
   * that reads every row (steps, knee) without building millions of JSON values. Not for JSON.
   */
  typed(): HistoryData {
    const n = this.length;
    const start = (this.written - n) % this.rows;
    const order = <A extends Float32Array | Float64Array>(a: A, out: A): A => {
      const head = a.subarray(start, Math.min(this.rows, start + n));
      out.set(head, 0);
      if (head.length < n) out.set(a.subarray(0, n - head.length), head.length);
      return out;
    };
    const f32 = (a: Float32Array): Array<number | null> => order(a, new Float32Array(n)) as unknown as Array<number | null>;
    const g = (c: GlobalColumn): Array<number | null> => f32(this.global.get(c)!);
    return {
      intervalSeconds: this.intervalSeconds,
      t: order(this.t, new Float64Array(n)) as unknown as number[],
      injectorProcesses: g('injectorProcesses'),
      activeUsers: g('activeUsers'),
      offeredRps: g('offeredRps'),
      requestsRps: g('requestsRps'),
      errorsRps: g('errorsRps'),
      hostCpu: g('hostCpu'),
      latencyBounds: [...this.latencyBounds],
      latencyBuckets: this.latency.map(f32),
      ratios: [...this.ratio.values()].map((c) => ({ ...c.key, values: f32(c.values) })),
    };
  }

  /** How many of the newest rows have `t > sinceSeconds` (rows are in time order: a binary search). */
  rowsSince(sinceSeconds: number): number {
    const n = this.length;
    const first = this.written - n;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.t[(first + mid) % this.rows]! > sinceSeconds) hi = mid;
      else lo = mid + 1;
    }
    return n - lo;
  }

  /** The rows with `t > sinceSeconds` (all by default), oldest first, as plain JSON. */
  toJSON(sinceSeconds = -Infinity, round = true): HistoryData {
    const count = this.rowsSince(sinceSeconds);
    const start = this.written - count;
    const col = (a: Float32Array | Float64Array): Array<number | null> => {
      const out = new Array<number | null>(count);
      for (let k = 0; k < count; k++) {
        const v = a[(start + k) % this.rows]!;
        out[k] = round ? num(v) : Number.isNaN(v) ? null : v;
      }
      return out;
    };
    const g = (c: GlobalColumn): Array<number | null> => col(this.global.get(c)!);
    const t = new Array<number>(count);
    for (let k = 0; k < count; k++) t[k] = this.t[(start + k) % this.rows]!;
    return {
      intervalSeconds: this.intervalSeconds,
      t,
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

export function num(v: number): number | null {
  // Float32 storage holds ~7 significant digits: rounding keeps the JSON short and exact-looking
  // (0.6 rather than 0.6000000238). Small values keep 6 significant digits, large ones 4 decimals.
  if (!Number.isFinite(v)) return null;
  const a = Math.abs(v);
  if (a >= 1) return Math.round(v * 1e4) / 1e4;
  if (a === 0) return 0;
  const scale = 10 ** (6 - Math.ceil(Math.log10(a)));
  return Math.round(v * scale) / scale;
}

/** An empty history, as JSON. */
export function emptyHistory(intervalSeconds = 1): HistoryData {
  return { intervalSeconds, t: [], injectorProcesses: [], activeUsers: [], offeredRps: [], requestsRps: [], errorsRps: [], hostCpu: [], latencyBounds: [], latencyBuckets: [], ratios: [] };
}

/**
 * The history reduced to at most `points` rows (for drawing: a chart has fewer pixels than two
 * hours have seconds). Each row stands for a run of `k` rows: the largest value for load and
 * saturation (a peak must stay visible), the mean for rates.
 */
export function downsample(h: HistoryData, points: number): HistoryData {
  const n = h.t.length;
  const k = Math.ceil(n / Math.max(1, points));
  if (k <= 1) return h;
  // `h` may be a typed history (NaN for no value): the output is plain JSON either way.
  const agg = (a: ReadonlyArray<number | null>, max: boolean): Array<number | null> => {
    const out: Array<number | null> = [];
    for (let i = 0; i < n; i += k) {
      let s = 0;
      let c = 0;
      let m = -Infinity;
      const end = Math.min(n, i + k);
      for (let j = i; j < end; j++) {
        const v = a[j];
        if (v === null || v === undefined || Number.isNaN(v)) continue;
        s += v;
        c++;
        if (v > m) m = v;
      }
      out.push(c === 0 ? null : num(max ? m : s / c));
    }
    return out;
  };
  const t: number[] = [];
  for (let i = 0; i < n; i += k) t.push(h.t[i]!);
  return {
    intervalSeconds: h.intervalSeconds * k,
    t,
    injectorProcesses: agg(h.injectorProcesses, true),
    activeUsers: agg(h.activeUsers, true),
    offeredRps: agg(h.offeredRps, false),
    requestsRps: agg(h.requestsRps, false),
    errorsRps: agg(h.errorsRps, false),
    hostCpu: agg(h.hostCpu, false),
    latencyBounds: h.latencyBounds,
    latencyBuckets: h.latencyBuckets.map((b) => agg(b, false)),
    ratios: h.ratios
      .map((r) => ({ group: r.group, role: r.role, resource: r.resource, values: agg(r.values, true) }))
      .filter((r) => r.values.some((v) => v !== null)),
  };
}
