/**
 * The live view's bounded history: one row per tick in a ring of `capacity` rows, one Float32
 * column per series (NaN where there was no value). Memory is `capacity × (8 + 4 × series)`
 * bytes: 2 h at 1 s with 700 series is about 20 MB, and the sampler caps the series.
 */

export interface HistorySlice {
  t: number[];
  values: (number | null)[][];
  stepSeconds: number;
}

export class History {
  private readonly t: Float64Array;
  private readonly cols: Float32Array[] = [];
  /** Index of the next row to write. */
  private head = 0;
  size = 0;

  constructor(readonly capacity: number) {
    this.t = new Float64Array(capacity);
  }

  push(tMs: number, row: readonly (number | null)[]): void {
    while (this.cols.length < row.length) this.cols.push(new Float32Array(this.capacity).fill(Number.NaN));
    const at = this.head;
    this.t[at] = tMs;
    for (let c = 0; c < this.cols.length; c++) {
      const v = row[c];
      this.cols[c]![at] = v === null || v === undefined ? Number.NaN : v;
    }
    this.head = (at + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  /**
   * Rows from `sinceMs` on (all rows when null), thinned to at most `maxPoints` by taking, for
   * each bucket of rows, the maximum of columns flagged in `maxCols` (a saturation spike must
   * not vanish) and the mean of the others.
   */
  slice(sinceMs: number | null, maxPoints: number, maxCols: readonly boolean[]): HistorySlice {
    const start = (this.head - this.size + this.capacity) % this.capacity;
    let first = 0;
    if (sinceMs !== null) {
      while (first < this.size && this.t[(start + first) % this.capacity]! < sinceMs) first++;
    }
    const n = this.size - first;
    const step = Math.max(1, Math.ceil(n / Math.max(1, maxPoints)));
    const t: number[] = [];
    const values: (number | null)[][] = this.cols.map(() => []);
    for (let i = 0; i < n; i += step) {
      const end = Math.min(n, i + step);
      t.push(this.t[(start + first + end - 1) % this.capacity]!);
      for (let c = 0; c < this.cols.length; c++) {
        const col = this.cols[c]!;
        const useMax = maxCols[c] === true;
        let acc = useMax ? -Infinity : 0;
        let k = 0;
        for (let j = i; j < end; j++) {
          const v = col[(start + first + j) % this.capacity]!;
          if (Number.isNaN(v)) continue;
          acc = useMax ? Math.max(acc, v) : acc + v;
          k++;
        }
        values[c]!.push(k === 0 ? null : useMax ? acc : acc / k);
      }
    }
    return { t, values, stepSeconds: step };
  }
}
