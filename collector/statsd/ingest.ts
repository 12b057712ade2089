/**
 * The statsd hot path: bytes in, series updated. One instance serves every listener.
 *
 * Measured choices (see bench/statsd-throughput.ts):
 * - Lines are parsed straight from the receive Buffer. No string is made for a line whose raw
 *   key (name + type + tags) was seen before: the key is hashed from the bytes (FNV-1a) and
 *   compared byte by byte with the cached entry, which holds the resolved Series.
 * - Numbers are parsed from bytes with a plain decimal fast path; anything else falls back to a
 *   strict regex plus `Number`.
 * - Counters of Redline's own (lines, samples, errors) are plain numbers on this object and
 *   published to the store only when /metrics is read.
 */
import { isUtf8 } from 'node:buffer';
import type { Store, Series, MetricType, DropReason } from '../../core/store.js';
import { escapeMetricName, isValidLabelName } from '../../core/labels.js';
import type { SummaryOptions } from '../../core/summary.js';
import type { Logger } from '../../core/log.js';

/** What the ingest needs from the mapping engine (collector/statsd/mapper.ts). */
export interface MapResultLike {
  action: 'map' | 'drop';
  name: string;
  labels: Record<string, string>;
  honorLabels: boolean;
  observerType: 'histogram' | 'summary';
  buckets: readonly number[];
  summary: SummaryOptions;
  ttlMs: number;
  scale: number;
  help: string | undefined;
}
export interface MapperLike {
  map(name: string, kind: 'counter' | 'gauge' | 'observer'): MapResultLike;
}

export interface TagStyles {
  dogstatsd: boolean;
  influx: boolean;
  librato: boolean;
  signalfx: boolean;
}

export interface IngestOptions {
  tags: TagStyles;
  /** Cached raw keys; the cache is emptied when it grows past this. */
  cacheSize: number;
  logger: Logger;
  /** Adds labels derived from others (the host collector's `group` for a probe's `pid`). */
  enrich?: ((labels: Map<string, string>) => void) | undefined;
  /** Mapper for names starting with `redline_` (the probe's own names), bypassing user rules. */
  passthrough: MapperLike;
}

/** Rejection reasons for a line, the `reason` label of `redline_statsd_line_errors_total`. */
export const LINE_ERROR_REASONS = [
  'empty_line',
  'malformed_line',
  'empty_name',
  'invalid_value',
  'invalid_type',
  'invalid_sample_rate',
  'illegal_negative_counter',
  'invalid_utf8',
  'mixed_tagging_styles',
  'invalid_tag',
  'invalid_multi_value',
  'too_many_values',
  'line_too_long',
] as const;
export type LineErrorReason = (typeof LINE_ERROR_REASONS)[number];

/** Sample types, the `type` label of `redline_statsd_samples_total`. */
export const SAMPLE_TYPES = ['counter', 'gauge', 'timer', 'histogram', 'distribution', 'set'] as const;
const T_COUNTER = 0;
const T_GAUGE = 1;
const T_TIMER = 2;
const T_HISTOGRAM = 3;
const T_DISTRIBUTION = 4;
const T_SET = 5;

export const DROP_REASONS = ['series_limit', 'type_conflict', 'name_conflict', 'label_conflict'] as const;

const MAX_VALUES = 256;
export const MAX_LINE_BYTES = 65536;

const COLON = 58;
const PIPE = 124;
const NL = 10;
const CR = 13;
const HASH = 35;
const AT = 64;

/** A resolved raw key: how to recognise it and what samples with it update. */
class CacheEntry {
  constructor(
    readonly type: number,
    readonly nameLen: number,
    readonly nameHash: number,
    readonly nameHash2: number,
    readonly tagLen: number,
    readonly tagHash: number,
    readonly tagHash2: number,
    readonly contLen: number,
    readonly contHash: number,
    readonly contHash2: number,
    /** The series updated, or null when dropped (mapping `drop` or a refusal). */
    readonly series: Series | null,
    readonly scale: number,
    readonly refusal: DropReason | 'mapping_drop' | null,
    /** For refusals: the store generation they were decided in (they are re-tried after it moves). */
    readonly generation: number,
  ) {}
}

const FNV_OFFSET = 2166136261 | 0;
const FNV_PRIME = 16777619;
const H2_SEED = 0x2545f491;
const H2_PRIME = 0x9e3779b1 | 0;


const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export class StatsdIngest {
  // Self-metric counters (published by the agent at scrape time).
  lines = 0;
  /** Lines whose every sample parsed (they may still be dropped by the store or a mapping). */
  linesAccepted = 0;
  readonly samples = new Float64Array(SAMPLE_TYPES.length);
  readonly lineErrors = new Map<LineErrorReason, number>();
  readonly dropped = new Map<string, number>();
  events = 0;
  serviceChecks = 0;
  mappingDrops = 0;
  tagErrors = 0;
  cacheHits = 0;
  cacheMisses = 0;
  /** Packets abandoned because of a bug in the ingest (should stay 0). */
  internalErrors = 0;

  // Raw-key cache: open addressing over a power-of-two table (hash in `keys`, entry in `slots`).
  private keys: Int32Array;
  private slots: (CacheEntry | undefined)[];
  private mask: number;
  private cacheCount = 0;
  private mapper: MapperLike;
  /** Wall clock read once per packet, not per sample. */
  private nowMs = 0;

  // Scratch space for one line, reused for every line (no allocation per line).
  private readonly vNum = new Float64Array(MAX_VALUES);
  private readonly vType = new Uint8Array(MAX_VALUES);
  private readonly vRate = new Float64Array(MAX_VALUES);
  private readonly vStart = new Int32Array(MAX_VALUES);
  private readonly vEnd = new Int32Array(MAX_VALUES);
  private readonly vSigned = new Uint8Array(MAX_VALUES);
  private vCount = 0;
  private tagStart = -1;
  private tagEnd = -1;
  private tagHash = 0;
  private tagHash2 = 0;
  private contStart = -1;
  private contEnd = -1;
  private contHash = 0;
  private contHash2 = 0;
  private error: LineErrorReason = 'malformed_line';

  constructor(
    private readonly store: Store,
    mapper: MapperLike,
    private readonly opts: IngestOptions,
  ) {
    this.mapper = mapper;
    let cap = 1024;
    while (cap < opts.cacheSize * 2) cap *= 2;
    this.keys = new Int32Array(cap);
    this.slots = new Array<CacheEntry | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
    for (const r of LINE_ERROR_REASONS) this.lineErrors.set(r, 0);
    for (const r of [...DROP_REASONS, 'mapping_drop']) this.dropped.set(r, 0);
  }

  /** Swaps the mapping (config reload): the cache of resolved keys is emptied. */
  setMapper(mapper: MapperLike): void {
    this.mapper = mapper;
    this.clearCache();
  }

  clearCache(): void {
    this.keys.fill(0);
    this.slots.fill(undefined);
    this.cacheCount = 0;
  }

  /** Ingests a datagram (or a batch of complete TCP lines): lines split on `\n`. */
  handle(buf: Buffer, start = 0, end = buf.length): void {
    this.nowMs = this.store.now();
    let s = start;
    try {
      while (s < end) s = this.line(buf, s, end);
    } catch (err) {
      // Last line of defence: a bug here must cost one packet, never the agent.
      this.internalErrors++;
      this.opts.logger.rateLimited('statsd_internal_error', 'internal error while ingesting a packet; the packet was dropped', {
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /** Counts a line that a listener had to refuse before parsing (e.g. a TCP line over the limit). */
  rejectTooLong(): void {
    this.lines++;
    this.reject('line_too_long', null, 0, 0);
  }

  private reject(reason: LineErrorReason, buf: Buffer | null, s: number, e: number): void {
    this.lineErrors.set(reason, this.lineErrors.get(reason)! + 1);
    this.opts.logger.rateLimited(`statsd_${reason}`, 'rejected statsd line', {
      reason,
      ...(buf ? { line: buf.toString('latin1', s, Math.min(e, s + 200)) } : {}),
    });
  }

  private drop(reason: DropReason | 'mapping_drop', n: number): void {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + n);
    if (reason !== 'mapping_drop') {
      this.opts.logger.rateLimited(`statsd_drop_${reason}`, 'dropped statsd sample', { reason });
    }
  }

  /** Rejects the line starting at `s` and returns where the next one starts. */
  private rejectLine(reason: LineErrorReason, buf: Buffer, s: number, from: number, end: number): number {
    let e = buf.indexOf(NL, from);
    if (e === -1 || e > end) e = end;
    this.reject(reason, buf, s, e);
    return e + 1;
  }

  /**
   * Parses and applies the line starting at `s`; returns where the next line starts. One pass
   * over the bytes: the name is hashed while its end is searched for.
   */
  private line(buf: Buffer, s: number, end: number): number {
    let h = FNV_OFFSET;
    let h2 = H2_SEED;
    let i = s;
    let c = 0;
    for (; i < end; i++) {
      c = buf[i]!;
      if (c === COLON || c === NL) break;
      h = Math.imul(h ^ c, FNV_PRIME);
      h2 = Math.imul(((h2 << 5) | (h2 >>> 27)) ^ c, H2_PRIME);
    }
    if (i === end || c === NL) {
      // No ':' before the end of the line.
      const le = i > s && buf[i - 1] === CR ? i - 1 : i;
      if (le === s) {
        this.lines++;
        this.reject('empty_line', buf, s, le);
        return i + 1;
      }
      this.lines++;
      if (buf[s] === 95 && buf[s + 1] === 115 && buf[s + 2] === 99 && buf[s + 3] === PIPE) this.serviceChecks++;
      else this.reject(le - s > MAX_LINE_BYTES ? 'line_too_long' : 'malformed_line', buf, s, le);
      return i + 1;
    }
    this.lines++;
    const nameEnd = i;
    if (nameEnd === s) return this.rejectLine('empty_name', buf, s, i, end);
    if (buf[s] === 95 /* _ */) {
      if (buf[s + 1] === 101 /* e */ && buf[s + 2] === 123 /* { */) {
        this.events++;
        return this.skipLine(buf, i, end);
      }
      if (buf[s + 1] === 115 /* s */ && buf[s + 2] === 99 /* c */ && buf[s + 3] === PIPE) {
        this.serviceChecks++;
        return this.skipLine(buf, i, end);
      }
    }
    const q = this.parseSamples(buf, nameEnd + 1, end);
    if (q < 0) return this.rejectLine(this.error, buf, s, nameEnd, end);
    // The line ends at q: a newline, a CR before it, or the end of the buffer.
    let next = q;
    if (next < end && buf[next] === CR) next++;
    if (next < end && buf[next] !== NL) return this.rejectLine('malformed_line', buf, s, next, end);
    if (next - s > MAX_LINE_BYTES) {
      this.reject('line_too_long', buf, s, next);
      return next + 1;
    }

    // Resolve and apply. Consecutive values of one type share a lookup.
    this.linesAccepted++;
    const n = this.vCount;
    let entry: CacheEntry | null = null;
    let entryType = -1;
    for (let k = 0; k < n; k++) {
      const t = this.vType[k]!;
      if (t !== entryType) {
        entry = this.lookup(buf, s, nameEnd, h, h2, t);
        entryType = t;
        if (entry === null) {
          // Rejected while resolving (invalid UTF-8, mixed tag styles): the reason is counted.
          this.linesAccepted--;
          return next + 1;
        }
      }
      this.samples[t]!++;
      const series = entry!.series;
      if (series === null) {
        this.drop(entry!.refusal!, 1);
        continue;
      }
      this.apply(series, t, k, entry!.scale, buf);
    }
    return next + 1;
  }

  private skipLine(buf: Buffer, from: number, end: number): number {
    let e = buf.indexOf(NL, from);
    if (e === -1 || e > end) e = end;
    return e + 1;
  }

  private apply(series: Series, t: number, i: number, scale: number, buf: Buffer): void {
    const v = this.vNum[i]!;
    const now = this.nowMs;
    switch (t) {
      case T_COUNTER:
        series.value += (v / this.vRate[i]!) * scale;
        break;
      case T_GAUGE:
        if (this.vSigned[i] === 1) series.value += v * scale;
        else series.value = v * scale;
        break;
      case T_SET:
        series.members!.add(buf.toString('utf8', this.vStart[i]!, this.vEnd[i]!));
        break;
      default: {
        const rate = this.vRate[i]!;
        // statsd_exporter observes a sampled value int(1/rate) times; a weight does the same in O(1).
        const weight = rate < 1 ? Math.floor(1 / rate) : 1;
        series.observe(v * scale, weight, now);
        return;
      }
    }
    series.updatedMs = now;
  }

  /**
   * Parses everything after the name's `:` into the scratch arrays. Returns the index where the
   * line ends (newline, CR or end), or -1 with `this.error` set when any part of the line is
   * invalid: then nothing of it is applied.
   */
  private parseSamples(buf: Buffer, p: number, end: number): number {
    this.vCount = 0;
    this.tagStart = this.contStart = -1;
    let first = 0;
    for (;;) {
      // Values: v[:v...] up to '|'.
      for (;;) {
        if (this.vCount >= MAX_VALUES) return this.fail('too_many_values');
        p = this.parseValue(buf, p, end);
        if (p < 0) return -1;
        this.vCount++;
        if (buf[p] === PIPE) break;
        p++;
      }
      // Type: up to '|', ':' or the end of the line.
      const ts = p + 1;
      let q = ts;
      while (q < end) {
        const c = buf[q]!;
        if (c === PIPE || c === COLON || c === NL || c === CR) break;
        q++;
      }
      const t = typeCode(buf, ts, q);
      if (t < 0) return this.fail('invalid_type');
      if (t === T_SET && this.vCount - first > 1) return this.fail('invalid_multi_value');
      let rate = 1;
      // Optional fields.
      while (q < end && buf[q] === PIPE) {
        const f = q + 1;
        const fc = buf[f];
        if (fc === AT) {
          let r = f + 1;
          while (r < end) {
            const c = buf[r]!;
            if (c === PIPE || c === COLON || c === NL || c === CR) break;
            r++;
          }
          rate = fastNumber(buf, f + 1, r);
          if (Number.isNaN(rate)) rate = slowNumber(buf, f + 1, r);
          if (!(rate > 0 && rate <= 1)) return this.fail('invalid_sample_rate');
          q = r;
          continue;
        }
        // Tags and container ids may hold ':' — they end only at '|' or the end of the line.
        let r = f;
        let fh = FNV_OFFSET;
        let fh2 = H2_SEED;
        while (r < end) {
          const c = buf[r]!;
          if (c === PIPE || c === NL || c === CR) break;
          fh = Math.imul(fh ^ c, FNV_PRIME);
          fh2 = Math.imul(((fh2 << 5) | (fh2 >>> 27)) ^ c, H2_PRIME);
          r++;
        }
        if (fc === HASH) {
          if (this.tagStart !== -1) return this.fail('malformed_line');
          this.tagStart = f + 1;
          this.tagEnd = r;
          this.tagHash = fh;
          this.tagHash2 = fh2;
        } else if (fc === 99 /* c */ && buf[f + 1] === COLON) {
          this.contStart = f + 2;
          this.contEnd = r;
          this.contHash = fh;
          this.contHash2 = fh2;
        } else if (r === f) {
          return this.fail('malformed_line');
        }
        // `|T<ts>`, `|e:…`, `|card:…` and other DogStatsD fields are tolerated and ignored.
        q = r;
      }
      for (let i = first; i < this.vCount; i++) {
        this.vType[i] = t;
        this.vRate[i] = rate;
        if (t === T_COUNTER && this.vNum[i]! < 0) return this.fail('illegal_negative_counter');
      }
      if (q >= end || buf[q] !== COLON) return q;
      // Another `value|type` sample follows after ':' (etsy's multi-metric form).
      if (this.tagStart !== -1) return this.fail('malformed_line');
      p = q + 1;
      first = this.vCount;
    }
  }

  private fail(reason: LineErrorReason): -1 {
    this.error = reason;
    return -1;
  }

  /** Parses one value ending at ':' or '|'; returns the terminator's index or -1. */
  private parseValue(buf: Buffer, s: number, end: number): number {
    const i = this.vCount;
    this.vStart[i] = s;
    const c0 = buf[s];
    this.vSigned[i] = c0 === 43 || c0 === 45 ? 1 : 0;
    // Fast path: [+-]digits[.digits] with at most 15 significant digits.
    let p = c0 === 43 || c0 === 45 ? s + 1 : s;
    let v = 0;
    let digits = 0;
    let frac = 0;
    let dot = false;
    let c = 0;
    for (; p < end; p++) {
      c = buf[p]!;
      if (c >= 48 && c <= 57) {
        // Past 15 significant digits only fraction digits may follow; they are below a double's
        // precision for the values statsd carries (hot-shots sends hrtime floats like 12.345678901234567).
        if (digits < 15) {
          v = v * 10 + (c - 48);
          if (dot) frac++;
        } else if (!dot) digits = 99;
        digits++;
      } else if (c === 46 && !dot) dot = true;
      else break;
    }
    if (p < end && (c === PIPE || c === COLON) && digits > 0 && digits < 99) {
      if (frac > 0) v /= POW10[frac]!;
      this.vNum[i] = c0 === 45 ? -v : v;
      this.vEnd[i] = p;
      return p;
    }
    // Slow path: find the token's end, then exponents, long numbers, set members or garbage.
    let e = p;
    while (e < end) {
      const ch = buf[e]!;
      if (ch === PIPE || ch === COLON || ch === NL || ch === CR) break;
      e++;
    }
    if (e >= end || buf[e] === NL || buf[e] === CR) return this.fail('malformed_line');
    if (e === s) return this.fail('invalid_value');
    this.vEnd[i] = e;
    const n = slowNumber(buf, s, e);
    if (!Number.isNaN(n)) {
      this.vNum[i] = n;
      return e;
    }
    // Sets take any member; the type comes after the values, so look ahead for `|s`.
    let t = e;
    while (t < end && buf[t] !== PIPE && buf[t] !== NL) t++;
    if (buf[t] === PIPE && buf[t + 1] === 115 && (t + 2 >= end || !isTypeChar(buf[t + 2]!))) {
      this.vNum[i] = Number.NaN;
      return e;
    }
    return this.fail('invalid_value');
  }

  /**
   * Finds (or resolves and caches) the entry for a raw key; null when the line is rejected.
   *
   * A key is identified by its lengths and two independent 32-bit hashes of each part (name,
   * tags, container id) plus the type, compared as numbers: measured, comparing the bytes
   * instead cost ~80 ns a line, a quarter of the whole parse. Two different keys would have to
   * agree on 64 bits of hash and every length to be confused (odds ~1e-10 at 100,000 keys).
   */
  private lookup(buf: Buffer, s: number, nameEnd: number, nameHash: number, nameHash2: number, t: number): CacheEntry | null {
    const hasTags = this.tagStart !== -1;
    const hasCont = this.contStart !== -1;
    const tagLen = hasTags ? this.tagEnd - this.tagStart : -1;
    const contLen = hasCont ? this.contEnd - this.contStart : -1;
    const tagH = hasTags ? this.tagHash : 0;
    const tagH2 = hasTags ? this.tagHash2 : 0;
    const contH = hasCont ? this.contHash : 0;
    const contH2 = hasCont ? this.contHash2 : 0;
    let h = Math.imul(nameHash ^ (t + 1), FNV_PRIME);
    h = Math.imul(h ^ tagH, FNV_PRIME);
    h = Math.imul((h ^ contH) + 0x9e3779b9, FNV_PRIME) | 0;
    const nameLen = nameEnd - s;
    const mask = this.mask;
    let idx = h & mask;
    for (;;) {
      const e = this.slots[idx];
      if (e === undefined) break;
      if (
        this.keys[idx] === h &&
        e.type === t &&
        e.nameLen === nameLen &&
        e.nameHash === nameHash &&
        e.nameHash2 === nameHash2 &&
        e.tagLen === tagLen &&
        e.tagHash === tagH &&
        e.tagHash2 === tagH2 &&
        e.contLen === contLen &&
        e.contHash === contH &&
        e.contHash2 === contH2
      ) {
        const stale =
          (e.series !== null && e.series.dead) ||
          (e.refusal !== null && e.refusal !== 'mapping_drop' && e.generation !== this.store.generation);
        if (!stale) {
          this.cacheHits++;
          return e;
        }
        // Resolve again in place: the slot keeps its key.
        this.cacheMisses++;
        const fresh = this.resolve(buf, s, nameEnd, t, nameHash, nameHash2);
        if (fresh !== null) this.slots[idx] = fresh;
        return fresh;
      }
      idx = (idx + 1) & mask;
    }
    this.cacheMisses++;
    const fresh = this.resolve(buf, s, nameEnd, t, nameHash, nameHash2);
    if (fresh === null) return null;
    if (this.cacheCount >= this.opts.cacheSize) {
      // Emptying the whole cache is O(1) amortised and keeps probe chains short.
      this.clearCache();
      idx = h & mask;
    }
    this.keys[idx] = h;
    this.slots[idx] = fresh;
    this.cacheCount++;
    return fresh;
  }

  private resolve(buf: Buffer, s: number, nameEnd: number, t: number, nameHash: number, nameHash2: number): CacheEntry | null {
    const nameBytes = buf.subarray(s, nameEnd);
    const tagBytes = this.tagStart === -1 ? null : buf.subarray(this.tagStart, this.tagEnd);
    const contBytes = this.contStart === -1 ? null : buf.subarray(this.contStart, this.contEnd);
    if (!isUtf8(nameBytes) || (tagBytes !== null && !isUtf8(tagBytes)) || (contBytes !== null && !isUtf8(contBytes))) {
      this.reject('invalid_utf8', buf, s, nameEnd);
      return null;
    }
    const labels = new Map<string, string>();
    const name = this.parseNameTags(nameBytes.toString('utf8'), labels, tagBytes !== null);
    if (name === null) {
      this.reject(this.error!, buf, s, nameEnd);
      return null;
    }
    if (name === '') {
      this.reject('empty_name', buf, s, nameEnd);
      return null;
    }
    if (tagBytes !== null && this.opts.tags.dogstatsd) this.parseDogTags(tagBytes.toString('utf8'), labels);
    if (contBytes !== null) labels.set('container_id', contBytes.toString('utf8'));

    const kind = t === T_COUNTER ? 'counter' : t === T_GAUGE || t === T_SET ? 'gauge' : 'observer';
    const mapper = name.startsWith('redline_') ? this.opts.passthrough : this.mapper;
    let m: MapResultLike;
    try {
      m = mapper.map(name, kind);
    } catch {
      // The mapper never throws by contract; if it does, the line is refused, not the agent.
      this.reject('malformed_line', buf, s, nameEnd);
      return null;
    }
    const store = this.store;
    let series: Series | null = null;
    let refusal: DropReason | 'mapping_drop' | null = null;
    let scale = m.scale;
    if (m.action === 'drop') {
      refusal = 'mapping_drop';
    } else {
      for (const [k, v] of Object.entries(m.labels)) {
        if (!m.honorLabels || !labels.has(k)) labels.set(k, v);
      }
      this.opts.enrich?.(labels);
      const labelNames = [...labels.keys()].sort();
      const type: MetricType =
        t === T_COUNTER ? 'counter' : t === T_GAUGE || t === T_SET ? 'gauge' : m.observerType;
      if (t === T_TIMER) scale *= 0.001;
      const got = store.statsdSeries({
        name: m.name,
        help: m.help ?? `Metric autogenerated by Redline from statsd ${kind} samples.`,
        type,
        labelNames,
        labelValues: labelNames.map((k) => labels.get(k)!),
        buckets: type === 'histogram' ? m.buckets : undefined,
        summary: type === 'summary' ? m.summary : undefined,
        ttlMs: m.ttlMs,
        isSet: t === T_SET,
      });
      if (typeof got === 'string') refusal = got;
      else series = got;
    }
    return new CacheEntry(
      t,
      nameEnd - s,
      nameHash,
      nameHash2,
      tagBytes === null ? -1 : tagBytes.length,
      tagBytes === null ? 0 : this.tagHash,
      tagBytes === null ? 0 : this.tagHash2,
      contBytes === null ? -1 : contBytes.length,
      contBytes === null ? 0 : this.contHash,
      contBytes === null ? 0 : this.contHash2,
      series,
      scale,
      refusal,
      store.generation,
    );
  }

  /**
   * Splits name-embedded tags (SignalFx `name[k=v]`, Librato `name#k=v`, InfluxDB `name,k=v`)
   * from the name, in statsd_exporter's order. Returns the bare name, or null on error.
   */
  private parseNameTags(raw: string, labels: Map<string, string>, hasDogTags: boolean): string | null {
    const o = this.opts.tags;
    let name = raw;
    let style = false;
    if (o.signalfx) {
      const open = name.indexOf('[');
      const close = open === -1 ? -1 : name.indexOf(']', open);
      if (open !== -1 && close !== -1) {
        style = true;
        this.parseKvList(name.slice(open + 1, close), '=', labels);
        name = name.slice(0, open) + name.slice(close + 1);
      }
    }
    if (!style && o.librato) {
      const i = name.indexOf('#');
      if (i !== -1) {
        style = true;
        this.parseKvList(name.slice(i + 1), '=', labels);
        name = name.slice(0, i);
      }
    }
    if (!style && o.influx) {
      const i = name.indexOf(',');
      if (i !== -1) {
        style = true;
        this.parseKvList(name.slice(i + 1), '=', labels);
        name = name.slice(0, i);
      }
    }
    if (style && hasDogTags && o.dogstatsd) {
      this.error = 'mixed_tagging_styles';
      return null;
    }
    return name;
  }

  private parseKvList(list: string, sep: string, labels: Map<string, string>): void {
    for (const part of list.split(',')) {
      if (part === '') continue;
      const i = part.indexOf(sep);
      if (i <= 0) {
        this.tagErrors++;
        continue;
      }
      this.setTag(part.slice(0, i), part.slice(i + 1), labels);
    }
  }

  /** DogStatsD tags `k:v,k2:v2`; a bare tag `k` becomes `k="true"` (as Telegraf does). */
  private parseDogTags(list: string, labels: Map<string, string>): void {
    for (const part of list.split(',')) {
      if (part === '') continue;
      const i = part.indexOf(':');
      if (i === 0) {
        this.tagErrors++;
        continue;
      }
      if (i === -1) this.setTag(part, 'true', labels);
      else this.setTag(part.slice(0, i), part.slice(i + 1), labels);
    }
  }

  private setTag(key: string, value: string, labels: Map<string, string>): void {
    const k = escapeMetricName(key);
    if (!isValidLabelName(k)) {
      this.tagErrors++;
      return;
    }
    labels.set(k, value);
  }
}

function isTypeChar(c: number): boolean {
  return c !== PIPE && c !== NL && c !== COLON;
}

/** c=counter, g=gauge, ms=timer, h=histogram, d=distribution, s=set; -1 otherwise. */
function typeCode(buf: Buffer, s: number, e: number): number {
  const n = e - s;
  const a = buf[s];
  if (n === 1) {
    switch (a) {
      case 99:
        return T_COUNTER;
      case 103:
        return T_GAUGE;
      case 104:
        return T_HISTOGRAM;
      case 100:
        return T_DISTRIBUTION;
      case 115:
        return T_SET;
    }
    return -1;
  }
  if (n === 2 && a === 109 && buf[s + 1] === 115) return T_TIMER;
  return -1;
}

/** Plain decimals (`0.25`, `10`) without a string; NaN when the bytes need the slow path. */
function fastNumber(buf: Buffer, s: number, e: number): number {
  let v = 0;
  let digits = 0;
  let frac = 0;
  let dot = false;
  for (let p = s; p < e; p++) {
    const c = buf[p]!;
    if (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      digits++;
      if (dot) frac++;
    } else if (c === 46 && !dot) dot = true;
    else return Number.NaN;
  }
  if (digits === 0 || digits > 15) return Number.NaN;
  return frac > 0 ? v / POW10[frac]! : v;
}

/** Any decimal float syntax (exponents, signs); NaN for anything else, including NaN and ±Inf. */
function slowNumber(buf: Buffer, s: number, e: number): number {
  if (s >= e) return Number.NaN;
  const str = buf.toString('latin1', s, e);
  if (!NUMBER_RE.test(str)) return Number.NaN;
  const n = Number(str);
  return Number.isFinite(n) ? n : Number.NaN;
}

const POW10: number[] = Array.from({ length: 16 }, (_, i) => 10 ** i);
