/**
 * Renders the series store as Prometheus text format 0.0.4, OpenMetrics 1.0 or the delimited
 * protobuf format, as a sequence of chunks (`renderChunks`) that the /metrics handler streams,
 * yielding to the event loop between chunks so statsd reads go on during a large render.
 *
 * Measured in-process on a loaded 2-core machine (load 12): 100k histogram series with 12
 * buckets in 0.47–0.70 s, 100k counters in 46–105 ms (before: 1.4–2.5 s and 193–733 ms);
 * end-to-end figures against statsd_exporter are in bench/RESULTS.md. What makes it fast:
 * every series carries its serialised labels and its `name_bucket{labels,` stem, each family
 * its `le="…"} ` suffixes, each series' lines are concatenated into one string and written
 * straight into a 256 KiB Buffer (no array of millions of strings joined at the end, no single
 * string that V8's ~512 MiB string limit could break). Buffer.write returns the exact byte
 * count, so the byte budget is exact.
 */
import { RenderedSeries, type Family, type Series, type Store } from '../core/store.js';
import { escapeHelp } from '../core/labels.js';
import { ProtoWriter, writeHeader, writeSeries } from './protobuf-writer.js';

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

export type Format = 'text' | 'openmetrics' | 'protobuf';

/** Name escaping schemes a scraper may ask for (Prometheus 3: `escaping=` in Accept). */
const ESCAPING = new Set(['allow-utf-8', 'underscores', 'dots', 'values']);

export interface Negotiated {
  format: Format;
  /**
   * The `escaping=` the scraper asked for, echoed in the Content-Type as client_golang does; null
   * when it asked for none. Redline's metric and label names are always valid legacy names
   * (statsd names are escaped on the way in), and no scheme changes a valid legacy name, so
   * the body is the same under every scheme.
   */
  escaping: string | null;
}

/**
 * Picks the format from an Accept header by q (the first of equal q wins): Prometheus text
 * unless OpenMetrics or the delimited protobuf format is preferred.
 */
export function negotiateScrape(accept: string | undefined): Negotiated {
  if (!accept) return { format: 'text', escaping: null };
  let best: Negotiated = { format: 'text', escaping: null };
  let bestQ = -1;
  for (const part of accept.split(',')) {
    const [type, ...rest] = part.trim().split(';');
    const params = new Map<string, string>();
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq > 0) params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"|"$/g, ''));
    }
    const q = params.has('q') ? Number(params.get('q')) : 1;
    const t = (type ?? '').trim().toLowerCase();
    let f: Format | null = null;
    if (t === 'application/openmetrics-text') f = 'openmetrics';
    else if (t === 'text/plain' || t === '*/*') f = 'text';
    else if (t === 'application/vnd.google.protobuf' && params.get('proto') === 'io.prometheus.client.MetricFamily' && params.get('encoding') === 'delimited') f = 'protobuf';
    if (f !== null && q > 0 && q > bestQ) {
      const e = params.get('escaping');
      best = { format: f, escaping: e !== undefined && ESCAPING.has(e) ? e : null };
      bestQ = q;
    }
  }
  return best;
}

/** The format only (see `negotiateScrape`). */
export function negotiate(accept: string | undefined): Format {
  return negotiateScrape(accept).format;
}

/** Small integers are most sample values (bucket counts): their strings are made once. */
const SMALL_INTS: readonly string[] = Array.from({ length: 4096 }, (_, i) => String(i));

export function formatValue(v: number): string {
  if (v >= 0 && v < 4096 && (v | 0) === v) return SMALL_INTS[v]!;
  if (Number.isFinite(v)) return String(v);
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? '+Inf' : '-Inf';
}

/**
 * A float as Go's `strconv.FormatFloat(v, 'g', -1, 64)` writes it, which is how client_golang
 * (and so statsd_exporter) writes `le` and `quantile` label values: `1e+06`, `0.005`, `1e-05`.
 * Label values are matched as strings, so a query for `le="1e+06"` must find the same text.
 */
export function goFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const e = v.toExponential();
  const i = e.indexOf('e');
  const x = Number(e.slice(i + 1));
  if (x < -4 || x >= 6) {
    const ax = Math.abs(x);
    return `${e.slice(0, i)}e${x < 0 ? '-' : '+'}${ax < 10 ? '0' : ''}${ax}`;
  }
  return String(v);
}

/** The same in OpenMetrics, where client_golang adds `.0` to a float that looks like an integer. */
export function goFloatOpenMetrics(v: number): string {
  const s = goFloat(v);
  return /[.eIN]/.test(s) ? s : `${s}.0`;
}

/** HELP text in OpenMetrics: backslash, newline and double quote escaped. */
function escapeHelpOpenMetrics(help: string): string {
  return escapeHelp(help).replace(/"/g, '\\"');
}

function withLabel(labels: string, name: string, value: string): string {
  const pair = `${name}="${value}"`;
  return labels === '' ? `{${pair}}` : `${labels.slice(0, -1)},${pair}}`;
}

/**
 * The fixed parts of a histogram series' text lines, UTF-8, made once per series:
 * `name_bucket{a="x",` (or `name_bucket{`), then `name_sum{a="x"} `, then `name_count{a="x"} `
 * (`Series.sumAt` and `Series.countAt` say where the last two start).
 */
function histogramParts(fam: Family, s: Series): Buffer {
  if (s.textParts !== null) return s.textParts;
  const stem = s.labels === '' ? `${fam.name}_bucket{` : `${fam.name}_bucket${s.labels.slice(0, -1)},`;
  const sum = `${fam.name}_sum${s.labels} `;
  const parts = Buffer.from(`${stem}${sum}${fam.name}_count${s.labels} `, 'utf8');
  s.sumAt = Buffer.byteLength(stem, 'utf8');
  s.countAt = s.sumAt + Buffer.byteLength(sum, 'utf8');
  s.textParts = parts;
  return parts;
}

/** `le="0.005"} `, …, `le="+Inf"} ` (UTF-8) for a family's bounds, per format (OpenMetrics writes `1.0`). */
function leSuffixes(fam: Family, format: Format): readonly Buffer[] {
  const cached = format === 'text' ? fam.leText : fam.leOpenMetrics;
  if (cached !== null) return cached;
  const fmt = format === 'text' ? goFloat : goFloatOpenMetrics;
  const out = [...fam.bounds!].map((b) => Buffer.from(`le="${fmt(b)}"} `, 'latin1'));
  out.push(Buffer.from('le="+Inf"} ', 'latin1'));
  if (format === 'text') fam.leText = out;
  else fam.leOpenMetrics = out;
  return out;
}

/** Bytes `writeValue` may write: `String(v)` of a double is at most 24 characters (`-1.2345678901234567e-308`). */
const MAX_VALUE_BYTES = 24;

/**
 * Writes `formatValue(v)` as ASCII into `buf` at `off` (the caller made room); returns the end.
 * Bucket counts are integers: their digits are written directly, without a string per number.
 */
function writeValue(buf: Buffer, off: number, v: number): number {
  if (v >= 0 && v <= 0x7fffffff && (v | 0) === v) {
    if (v < 10) {
      buf[off] = 48 + v;
      return off + 1;
    }
    let end = off + 2;
    for (let t = 100; t <= v && end < off + 10; t *= 10) end++;
    let n = v;
    for (let p = end - 1; p >= off; p--) {
      const q = (n / 10) | 0;
      buf[p] = 48 + n - q * 10;
      n = q;
    }
    return end;
  }
  return off + buf.write(formatValue(v), off, 'latin1');
}

/** Copies `src[from, to)` into `buf` at `off`; returns the end. A loop beats Buffer#copy's call cost on the short parts of a line. */
function copyInto(buf: Buffer, off: number, src: Buffer, from: number, to: number): number {
  if (to - from > 64) return off + src.copy(buf, off, from, to);
  for (let i = from; i < to; i++) buf[off++] = src[i]!;
  return off;
}

/** The most bytes `writeHistogram` writes for `s` (with `leMax` the longest `le` suffix). */
function histogramBound(s: Series, parts: Buffer, leMax: number): number {
  return (s.buckets!.length + 1) * (s.sumAt + leMax + MAX_VALUE_BYTES + 1) + parts.length - s.sumAt + 2 * (MAX_VALUE_BYTES + 1);
}

/**
 * Writes a histogram series' text lines into `buf` at `off` (room for `histogramBound` made by
 * the caller); returns the end. Byte for byte what the string rendering of these lines was:
 * `name_bucket{labels,le="…"} N` per bound and +Inf, `_sum` (unless `withSum` is false), `_count`.
 */
function writeHistogram(buf: Buffer, off: number, s: Series, parts: Buffer, le: readonly Buffer[], withSum: boolean): number {
  const b = s.buckets!;
  const stemEnd = s.sumAt;
  let cum = 0;
  for (let i = 0; i < b.length; i++) {
    cum += b[i]!;
    off = copyInto(buf, off, parts, 0, stemEnd);
    const l = le[i]!;
    off = copyInto(buf, off, l, 0, l.length);
    off = writeValue(buf, off, cum);
    buf[off++] = 10;
  }
  off = copyInto(buf, off, parts, 0, stemEnd);
  const inf = le[b.length]!;
  off = copyInto(buf, off, inf, 0, inf.length);
  off = writeValue(buf, off, s.count);
  buf[off++] = 10;
  if (withSum) {
    off = copyInto(buf, off, parts, s.sumAt, s.countAt);
    off = writeValue(buf, off, s.sum);
    buf[off++] = 10;
  }
  off = copyInto(buf, off, parts, s.countAt, parts.length);
  off = writeValue(buf, off, s.count);
  buf[off++] = 10;
  return off;
}

/**
 * Whether `c` still shows `s` in `format`: same buckets, sum, count (hence the same native
 * buckets: they move only with an observation, which moves the count) and negative flag.
 * `Object.is`: a NaN sum compares equal to itself, and -0 apart from 0 as it prints apart.
 */
function unchanged(c: RenderedSeries, s: Series, format: Format): boolean {
  if (c.format !== format || c.bytes === null || c.negative !== s.negative) return false;
  const st = c.state;
  const b = s.buckets!;
  const n = b.length;
  for (let i = 0; i < n; i++) if (!Object.is(st[i], b[i])) return false;
  return Object.is(st[n], s.sum) && Object.is(st[n + 1], s.count);
}

/** Records the state of `s` that the bytes about to be kept in `c` show. */
function snapshot(c: RenderedSeries, s: Series, format: Format): void {
  const b = s.buckets!;
  c.state.set(b);
  c.state[b.length] = s.sum;
  c.state[b.length + 1] = s.count;
  c.negative = s.negative;
  c.format = format;
}

/** The render cache of a histogram series (created on its first render). */
function cacheOf(s: Series): RenderedSeries {
  return (s.rendered ??= new RenderedSeries(s.buckets!.length));
}

/**
 * OpenMetrics: `_sum` is a counter there; once it can go down (a negative observation or bucket)
 * it must not be served. The text format always shows it.
 */
function servesSum(fam: Family, s: Series, format: Format): boolean {
  return format === 'text' || !(s.negative || (fam.bounds!.length > 0 && fam.bounds![0]! < 0) || s.sum < 0);
}

/**
 * In OpenMetrics a counter's samples must end in `_total`. A statsd counter whose name lacks the
 * suffix is served as `unknown` so that its name stays exactly what statsd_exporter serves
 * (Prometheus would otherwise store it as `name_total`, breaking existing queries).
 */
function omHeader(fam: Family): string {
  let type: string = fam.type;
  let familyName = fam.name;
  if (fam.type === 'counter') {
    if (fam.name.endsWith('_total')) familyName = fam.name.slice(0, -'_total'.length);
    else type = 'unknown';
  }
  return `# TYPE ${familyName} ${type}\n# HELP ${familyName} ${escapeHelpOpenMetrics(fam.help)}\n`;
}

/** The text of one counter, gauge or summary series in `format` (histograms: `writeHistogram`). */
function seriesText(fam: Family, s: Series, format: Format, now: number): string {
  const name = fam.name;
  switch (fam.type) {
    case 'counter':
    case 'gauge':
      return `${name}${s.labels} ${formatValue(s.value)}\n`;
    case 'summary': {
      const fmt = format === 'text' ? goFloat : goFloatOpenMetrics;
      const qs = fam.summaryOptions!.quantiles;
      const values = s.quantileValues ?? s.summary!.quantiles(now);
      let out = '';
      for (let i = 0; i < qs.length; i++) out += `${name}${withLabel(s.labels, 'quantile', fmt(qs[i]!.quantile))} ${formatValue(values[i]!)}\n`;
      if (format === 'text' || !(s.negative || s.sum < 0)) out += `${name}_sum${s.labels} ${formatValue(s.sum)}\n`;
      return out + `${name}_count${s.labels} ${formatValue(s.count)}\n`;
    }
    case 'histogram':
      throw new Error('histogram series are written as bytes (writeHistogram)');
  }
}

/** Yielded by the protobuf renderer to pause without output. */
const EMPTY = Buffer.alloc(0);

/** What one render served and left out. */
export interface RenderStats {
  /** Bytes of the body (before any compression). */
  bytes: number;
  /** Series served. */
  series: number;
  /** Series left out because the body reached `maxBytes`. */
  omittedSeries: number;
}

export interface RenderOptions {
  /**
   * Byte budget of the body: once a statsd/OTLP series would take the body past it, that series
   * and every later one are left out (counted in `omittedSeries`). Redline's own series are always
   * served: they are few, and they say what was left out. 0 or absent: no budget.
   */
  maxBytes?: number;
  /** Size of the chunks yielded (default 256 KiB): the unit of work between two event-loop turns. */
  chunkBytes?: number;
  /**
   * Own families rendered after every other one, once `beforeLast` has been told the render's
   * figures: the budget's self-metrics then describe the body they are in. The formats do not
   * require families in any order.
   */
  last?: ReadonlySet<string>;
  beforeLast?: (stats: RenderStats) => void;
  /**
   * Where chunk Buffers come from (`chunkBytes` is then the pool's); each one taken is appended
   * to `taken`, so the caller can give them back once nothing reads them (see ChunkPool).
   */
  pool?: { pool: ChunkPool; taken: Buffer[] };
}

/**
 * Chunk Buffers reused from one render to the next. A render of 100k histograms fills ~56 MB of
 * fresh Buffers; V8 counts them as external memory and answers each such growth with a full
 * mark-compact of the heap, which cost more CPU than the render itself (measured: ~400 ms of GC
 * threads per scrape, against ~150 ms of render and gzip). Reused Buffers grow nothing.
 * The caller gives a render's Buffers back only once no response, gzip stream or kept series
 * bytes (`Series.rendered`) can still read them (exporters/http.ts).
 */
export class ChunkPool {
  private readonly free: Buffer[] = [];

  /** @param maxFree Buffers kept for reuse at most; more given back are left to the GC. */
  constructor(
    readonly chunkBytes: number,
    private readonly maxFree: number,
  ) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(this.chunkBytes);
  }

  give(buffers: readonly Buffer[]): void {
    for (const b of buffers) if (b.length === this.chunkBytes && this.free.length < this.maxFree) this.free.push(b);
  }

  /** Buffers waiting for reuse. */
  get size(): number {
    return this.free.length;
  }
}

/**
 * Accumulates UTF-8 bytes into fixed-size Buffers; full ones wait in `full` to be yielded.
 * Small texts are gathered in a string first (one Buffer.write per ~16 KiB rather than per
 * series: 100k counters went from ~180 to ~60 ms) while the budget is surely not reached; near
 * the budget every text is written and counted exactly.
 */
class ChunkWriter {
  full: Buffer[] = [];
  private buf: Buffer;
  private off = 0;
  /** Bytes written to Buffers; `pending` is not counted yet. */
  private written = 0;
  private pending = '';
  /** `pending` is written out at this many UTF-16 units (at most a third of a chunk). */
  private readonly gather: number;
  /**
   * A copy `place` deferred: `copySrc[copyFrom, copyTo)` goes to `buf` at `copyAt`. Series the
   * last render wrote one after the other are copied in one call (Buffer#copy costs ~1 µs a call).
   */
  private copySrc: Buffer | null = null;
  private copyFrom = 0;
  private copyTo = 0;
  private copyAt = 0;

  constructor(
    private readonly chunkBytes: number,
    private readonly pool: { pool: ChunkPool; taken: Buffer[] } | null,
  ) {
    this.buf = this.fresh();
    this.gather = Math.min(16 * 1024, Math.floor(chunkBytes / 3));
  }

  get bytes(): number {
    this.settle();
    return this.written;
  }

  /** Writes `text` unless it would take the body past `budget` bytes; says whether it did. */
  write(text: string, budget: number): boolean {
    // A UTF-16 unit is 1 to 3 UTF-8 bytes: three times the length is an upper bound.
    if (this.written + (this.pending.length + text.length) * 3 <= budget) {
      this.pending += text;
      if (this.pending.length >= this.gather) this.settle();
      return true;
    }
    this.settle();
    return this.exact(text, budget);
  }

  private settle(): void {
    if (this.pending === '') return;
    const p = this.pending;
    this.pending = '';
    this.exact(p, Number.POSITIVE_INFINITY);
  }

  private exact(text: string, budget: number): boolean {
    if (this.written + text.length > budget) return false;
    if (this.off + text.length * 3 > this.buf.length) {
      this.flushBuffer();
      if (text.length * 3 > this.buf.length) {
        const big = Buffer.from(text, 'utf8');
        if (this.written + big.length > budget) return false;
        this.full.push(big);
        this.written += big.length;
        return true;
      }
    }
    const n = this.buf.write(text, this.off, 'utf8');
    if (this.written + n > budget) return false;
    this.off += n;
    this.written += n;
    return true;
  }

  /**
   * The Buffer to write up to `max` bytes into, at `offset`, then `commit`: text already gathered
   * is written first, and a Buffer too full for `max` is passed on (a bigger one is made when
   * `max` exceeds a chunk).
   */
  room(max: number): Buffer {
    this.settle();
    if (this.off + max > this.buf.length) {
      this.flushBuffer();
      if (max > this.buf.length) this.buf = Buffer.allocUnsafe(max);
    }
    return this.buf;
  }

  get offset(): number {
    return this.off;
  }

  /** Keeps the bytes written since `room` up to `end` unless they take the body past `budget`; says whether it did. */
  commit(end: number, budget: number): boolean {
    const n = end - this.off;
    if (this.written + n > budget) return false;
    this.off = end;
    this.written += n;
    return true;
  }

  /** The Buffer `place` and `room` write into now. */
  get current(): Buffer {
    return this.buf;
  }

  /**
   * Places `src[from, to)` (bytes of the last body) unless they take the body past `budget`;
   * returns where they start in `current`, or -1. The copy itself waits until the next range is
   * not adjacent or the Buffer is passed on.
   */
  place(src: Buffer, from: number, to: number, budget: number): number {
    this.settle();
    const n = to - from;
    if (this.written + n > budget) return -1;
    if (this.off + n > this.buf.length) {
      this.flushBuffer();
      if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
    }
    if (this.copySrc === src && this.copyTo === from && this.copyAt + (this.copyTo - this.copyFrom) === this.off) {
      this.copyTo = to;
    } else {
      this.runCopy();
      this.copySrc = src;
      this.copyFrom = from;
      this.copyTo = to;
      this.copyAt = this.off;
    }
    const at = this.off;
    this.off += n;
    this.written += n;
    return at;
  }

  private runCopy(): void {
    if (this.copySrc === null) return;
    this.copySrc.copy(this.buf, this.copyAt, this.copyFrom, this.copyTo);
    this.copySrc = null;
  }

  /**
   * Appends bytes (the protobuf renderer's messages; the budget was checked by the caller), and
   * says where they now are: a Buffer of the body and the offset in it.
   */
  writeBytes(bytes: Uint8Array): [Buffer, number] {
    this.settle();
    if (this.off + bytes.length > this.buf.length) {
      this.flushBuffer();
      if (bytes.length > this.buf.length) {
        // A copy: the caller reuses its buffer.
        const copy = Buffer.from(bytes);
        this.full.push(copy);
        this.written += bytes.length;
        return [copy, 0];
      }
    }
    const at = this.off;
    this.buf.set(bytes, at);
    this.off += bytes.length;
    this.written += bytes.length;
    return [this.buf, at];
  }

  private flushBuffer(): void {
    this.runCopy();
    if (this.off === 0) return;
    this.full.push(this.buf.subarray(0, this.off));
    this.buf = this.fresh();
    this.off = 0;
  }

  private fresh(): Buffer {
    if (this.pool === null) return Buffer.allocUnsafe(this.chunkBytes);
    const b = this.pool.pool.take();
    this.pool.taken.push(b);
    return b;
  }

  /** Passes the last Buffer on (the writer is done: no new one is taken). */
  flush(): void {
    this.settle();
    this.runCopy();
    if (this.off > 0) this.full.push(this.buf.subarray(0, this.off));
    this.off = 0;
  }
}

/**
 * Renders the store in `format` as UTF-8 chunks. Each series is read in one synchronous step, so
 * it is consistent in itself (buckets, sum and count agree) even when ingestion runs between two
 * chunks; a series created meanwhile may or may not be in this render, one removed is left out.
 */
export function* renderChunks(store: Store, format: Format, opts: RenderOptions = {}): Generator<Buffer, RenderStats, void> {
  store.collect();
  const now = store.now();
  const budget = opts.maxBytes !== undefined && opts.maxBytes > 0 ? opts.maxBytes : Number.POSITIVE_INFINITY;
  const chunkBytes = opts.pool?.pool.chunkBytes ?? opts.chunkBytes ?? 256 * 1024;
  const w = new ChunkWriter(chunkBytes, opts.pool ?? null);
  const stats: RenderStats = { bytes: 0, series: 0, omittedSeries: 0 };
  const last = opts.last ?? new Set<string>();
  const textFamily = function* (fam: Family): Generator<Buffer, void, void> {
    const limit = fam.own ? Number.POSITIVE_INFINITY : budget;
    let header: string | null = format === 'text' ? fam.headerText : omHeader(fam);
    const le = fam.type === 'histogram' ? leSuffixes(fam, format) : null;
    let leMax = 0;
    if (le !== null) for (const l of le) leMax = Math.max(leMax, l.length);
    for (const s of fam.series.values()) {
      // The header goes with the first series that fits: no family is served empty.
      let fits: boolean;
      if (le !== null) {
        const parts = histogramParts(fam, s);
        const c = cacheOf(s);
        const reuse = unchanged(c, s, format);
        if (reuse && header === null) {
          const at = w.place(c.bytes!, c.start, c.end, limit);
          fits = at >= 0;
          if (fits) {
            c.bytes = w.current;
            c.end = at + c.end - c.start;
            c.start = at;
          } else c.format = '';
        } else {
          // The first series of a family goes with its header (and, rarely, the bytes kept of it).
          const buf = w.room((header === null ? 0 : header.length * 3) + (reuse ? c.end - c.start : histogramBound(s, parts, leMax)));
          let start = w.offset;
          if (header !== null) start += buf.write(header, start, 'utf8');
          const end = reuse ? copyInto(buf, start, c.bytes!, c.start, c.end) : writeHistogram(buf, start, s, parts, le, servesSum(fam, s, format));
          fits = w.commit(end, limit);
          if (!fits) c.format = '';
          else {
            if (!reuse) snapshot(c, s, format);
            c.bytes = buf;
            c.start = start;
            c.end = end;
          }
        }
      } else {
        fits = w.write(header === null ? seriesText(fam, s, format, now) : header + seriesText(fam, s, format, now), limit);
      }
      if (fits) {
        header = null;
        stats.series++;
      } else {
        stats.omittedSeries++;
      }
      if (w.full.length > 0) {
        yield* w.full;
        w.full = [];
      }
    }
  };
  // A delimited protobuf family is prefixed by its length, so it is encoded whole before any of
  // it is written; the render still pauses (an empty chunk) every few hundred KiB of it.
  let pw: ProtoWriter | null = null;
  const protobufFamily = function* (fam: Family): Generator<Buffer, void, void> {
    const limit = fam.own ? Number.POSITIVE_INFINITY : budget;
    const fw = (pw ??= new ProtoWriter());
    fw.pos = 0;
    writeHeader(fw, fam);
    const headerBytes = fw.pos;
    let sincePause = 0;
    // Histogram series kept in this family's message: their bytes land in a chunk at the end.
    const kept: RenderedSeries[] = [];
    for (const s of fam.series.values()) {
      const before = fw.pos;
      const c = fam.type === 'histogram' ? cacheOf(s) : null;
      const reuse = c !== null && unchanged(c, s, 'protobuf');
      if (reuse) fw.range(c.bytes!, c.start, c.end);
      else writeSeries(fw, fam, s, now);
      sincePause += fw.pos - before;
      // 10: the family's length prefix (at most 5 bytes for 4 GiB) with room to spare.
      if (w.bytes + fw.pos + 10 > limit) {
        fw.pos = before;
        stats.omittedSeries++;
        if (c !== null) c.format = '';
      } else {
        stats.series++;
        if (c !== null) {
          if (!reuse) snapshot(c, s, 'protobuf');
          c.bytes = null;
          c.start = before;
          c.end = fw.pos;
          kept.push(c);
        }
      }
      if (sincePause >= chunkBytes) {
        sincePause = 0;
        yield EMPTY;
      }
    }
    if (fw.pos === headerBytes) return;
    const content = fw.pos;
    fw.varint(content);
    w.writeBytes(fw.buf.subarray(content, fw.pos));
    const [landed, at] = w.writeBytes(fw.buf.subarray(0, content));
    for (const c of kept) {
      c.bytes = landed;
      c.start += at;
      c.end += at;
    }
    fw.pos = 0;
    if (w.full.length > 0) {
      yield* w.full;
      w.full = [];
    }
  };
  const family = format === 'protobuf' ? protobufFamily : textFamily;
  const names = [...store.families.keys()].sort();
  for (const name of names) {
    if (last.has(name)) continue;
    const fam = store.families.get(name);
    if (fam !== undefined && fam.series.size > 0) yield* family(fam);
  }
  stats.bytes = w.bytes;
  opts.beforeLast?.(stats);
  for (const name of [...last].sort()) {
    const fam = store.families.get(name);
    if (fam !== undefined && fam.series.size > 0) yield* family(fam);
  }
  if (format === 'openmetrics') w.write('# EOF\n', Number.POSITIVE_INFINITY);
  w.flush();
  yield* w.full;
  w.full = [];
  stats.bytes = w.bytes;
  return stats;
}

/** The whole exposition as one string (tests, small stores); the /metrics handler streams `renderChunks`. */
export function render(store: Store, format: 'text' | 'openmetrics'): string {
  const parts: Buffer[] = [];
  for (const chunk of renderChunks(store, format)) parts.push(chunk);
  return Buffer.concat(parts).toString('utf8');
}
