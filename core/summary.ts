/**
 * A sliding-window summary: quantiles over the last `maxAgeMs`, kept in `ageBuckets` rotating
 * sample buffers as Prometheus' client_golang does. Each buffer keeps at most `bufCap` samples;
 * past that it keeps a uniform random sample (reservoir), so memory per series is bounded.
 */

export interface SummaryOptions {
  quantiles: readonly { quantile: number; error: number }[];
  maxAgeMs: number;
  ageBuckets: number;
  bufCap: number;
}

export const DEFAULT_SUMMARY_OPTIONS: SummaryOptions = {
  quantiles: [
    { quantile: 0.5, error: 0.05 },
    { quantile: 0.9, error: 0.01 },
    { quantile: 0.99, error: 0.001 },
  ],
  maxAgeMs: 10 * 60_000,
  ageBuckets: 5,
  bufCap: 500,
};

export class SummaryWindow {
  private readonly buffers: Float64Array[];
  private readonly seen: number[];
  private readonly lengths: number[];
  private head = 0;
  private rotatedAt: number;
  private readonly stepMs: number;

  constructor(private readonly opts: SummaryOptions, nowMs: number) {
    const n = Math.max(1, opts.ageBuckets);
    this.buffers = Array.from({ length: n }, () => new Float64Array(Math.max(1, opts.bufCap)));
    this.seen = new Array<number>(n).fill(0);
    this.lengths = new Array<number>(n).fill(0);
    this.stepMs = opts.maxAgeMs / n;
    this.rotatedAt = nowMs;
  }

  observe(value: number, nowMs: number): void {
    this.rotate(nowMs);
    // Every buffer receives the sample; the oldest one is cleared at each rotation, so the
    // head buffer always covers (maxAge - step, maxAge] and none is ever empty right after a turn.
    for (let b = 0; b < this.buffers.length; b++) {
      const buf = this.buffers[b]!;
      const len = this.lengths[b]!;
      const seen = ++this.seen[b]!;
      if (len < buf.length) {
        buf[len] = value;
        this.lengths[b] = len + 1;
      } else {
        const j = Math.floor(Math.random() * seen);
        if (j < buf.length) buf[j] = value;
      }
    }
  }

  quantiles(nowMs: number): number[] {
    this.rotate(nowMs);
    const len = this.lengths[this.head]!;
    const qs = this.opts.quantiles;
    if (len === 0) return qs.map(() => Number.NaN);
    const sorted = this.buffers[this.head]!.slice(0, len).sort();
    return qs.map(({ quantile }) => {
      const idx = Math.min(len - 1, Math.max(0, Math.ceil(quantile * len) - 1));
      return sorted[idx]!;
    });
  }

  private rotate(nowMs: number): void {
    if (nowMs - this.rotatedAt < this.stepMs) return;
    const steps = Math.min(this.buffers.length, Math.floor((nowMs - this.rotatedAt) / this.stepMs));
    for (let i = 0; i < steps; i++) {
      this.lengths[this.head] = 0;
      this.seen[this.head] = 0;
      this.head = (this.head + 1) % this.buffers.length;
    }
    this.rotatedAt += Math.floor((nowMs - this.rotatedAt) / this.stepMs) * this.stepMs;
  }
}
