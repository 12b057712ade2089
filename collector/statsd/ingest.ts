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

/** A resolved raw key: the bytes it was built from and what samples with it update. */
class CacheEntry {
  constructor(
    readonly hash: number,
    readonly name: Buffer,
    readonly type: number,
    readonly tags: Buffer | null,
    readonly container: Buffer | null,
    /** The series updated, or null when dropped (mapping `drop` or a refusal). */
    readonly series: Series | null,
    readonly scale: number,
    readonly refusal: DropReason | 'mapping_drop' | null,
    /** For refusals: the store generation they were decided in (they are re-tried after it moves). */
    readonly generation: number,
    public next: CacheEntry | null,
  ) {}
}

function fnv(buf: Buffer, s: number, e: number, h: number): number {
  for (let i = s; i < e; i++) h = Math.imul(h ^ buf[i]!, 16777619);
  return h;
}

function sameBytes(a: Buffer, buf: Buffer, s: number, e: number): boolean {
  const n = e - s;
  if (a.length !== n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== buf[s + i]) return false;
  return true;
}

const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export class StatsdIngest {
  // Self-metric counters (published by the agent at scrape time).
  lines = 0;
  readonly samples = new Float64Array(SAMPLE_TYPES.length);
  readonly lineErrors = new Map<LineErrorReason, number>();
  readonly dropped = new Map<string, number>();
  events = 0;
  serviceChecks = 0;
  mappingDrops = 0;
  tagErrors = 0;
  cacheHits = 0;
  cacheMisses = 0;

  private cache = new Map<number, CacheEntry>();
  private cacheCount = 0;
  private mapper: MapperLike;

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
  private contStart = -1;
  private contEnd = -1;
  private error: LineErrorReason | null = null;

  constructor(
    private readonly store: Store,
    mapper: MapperLike,
    private readonly opts: IngestOptions,
  ) {
    this.mapper = mapper;
    for (const r of LINE_ERROR_REASONS) this.lineErrors.set(r, 0);
    for (const r of [...DROP_REASONS, 'mapping_drop']) this.dropped.set(r, 0);
  }

  /** Swaps the mapping (config reload): the cache of resolved keys is emptied. */
  setMapper(mapper: MapperLike): void {
    this.mapper = mapper;
    this.clearCache();
  }

  clearCache(): void {
    this.cache = new Map();
    this.cacheCount = 0;
  }

  /** Ingests a datagram (or a batch of complete TCP lines): lines split on `\n`. */
  handle(buf: Buffer, start = 0, end = buf.length): void {
    let s = start;
    while (s < end) {
      let e = buf.indexOf(NL, s);
      if (e === -1 || e > end) e = end;
      let le = e;
      if (le > s && buf[le - 1] === CR) le--;
      if (le > s) {
        this.line(buf, s, le);
      } else if (e < end) {
        // An empty line between two others: counted, not an error for the packet.
        this.lines++;
        this.reject('empty_line', buf, s, le);
      }
      s = e + 1;
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

  /** Parses and applies one line [s, e) without its newline. */
  line(buf: Buffer, s: number, e: number): void {
    this.lines++;
    if (e - s > MAX_LINE_BYTES) return this.reject('line_too_long', buf, s, e);
    const c0 = buf[s];
    if (c0 === 95 /* _ */) {
      if (buf[s + 1] === 101 /* e */ && buf[s + 2] === 123 /* { */) {
        this.events++;
        return;
      }
      if (buf[s + 1] === 115 /* s */ && buf[s + 2] === 99 /* c */ && buf[s + 3] === PIPE) {
        this.serviceChecks++;
        return;
      }
    }
    const nameEnd = buf.indexOf(COLON, s);
    if (nameEnd === -1 || nameEnd >= e) return this.reject('malformed_line', buf, s, e);
    if (nameEnd === s) return this.reject('empty_name', buf, s, e);
    if (!this.parseSamples(buf, nameEnd + 1, e)) return this.reject(this.error!, buf, s, e);

    // Resolve and apply. Consecutive values of one type share a lookup.
    const n = this.vCount;
    const nameHash = fnv(buf, s, nameEnd, 2166136261);
    let entry: CacheEntry | null = null;
    let entryType = -1;
    for (let i = 0; i < n; i++) {
      const t = this.vType[i]!;
      if (t !== entryType) {
        entry = this.lookup(buf, s, nameEnd, nameHash, t);
        entryType = t;
        if (entry === null) return; // rejected while resolving (reason counted)
      }
      this.samples[t]!++;
      const series = entry!.series;
      if (series === null) {
        this.drop(entry!.refusal!, 1);
        continue;
      }
      this.apply(series, t, i, entry!.scale, buf);
    }
  }

  private apply(series: Series, t: number, i: number, scale: number, buf: Buffer): void {
    const v = this.vNum[i]!;
    const now = this.store.now();
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
   * Parses everything after the name's `:` into the scratch arrays. Returns false (with
   * `this.error` set) when any part of the line is invalid: then nothing of it is applied.
   */
  private parseSamples(buf: Buffer, p: number, e: number): boolean {
    this.vCount = 0;
    this.tagStart = this.tagEnd = this.contStart = this.contEnd = -1;
    let first = this.vCount;
    for (;;) {
      // Values: v[:v...] up to '|'.
      const pipe = buf.indexOf(PIPE, p);
      if (pipe === -1 || pipe >= e) return this.fail('malformed_line');
      let vs = p;
      for (let i = p; i <= pipe; i++) {
        if (i === pipe || buf[i] === COLON) {
          if (this.vCount >= MAX_VALUES) return this.fail('too_many_values');
          if (!this.parseValue(buf, vs, i, this.vCount)) return false;
          this.vCount++;
          vs = i + 1;
        }
      }
      // Type: up to '|', ':' or the end.
      let q = pipe + 1;
      while (q < e && buf[q] !== PIPE && buf[q] !== COLON) q++;
      const t = typeCode(buf, pipe + 1, q);
      if (t < 0) return this.fail('invalid_type');
      if (t === T_SET && this.vCount - first > 1) return this.fail('invalid_multi_value');
      let rate = 1;
      // Optional fields.
      while (q < e && buf[q] === PIPE) {
        const f = q + 1;
        const fc = buf[f];
        if (fc === AT) {
          let r = f + 1;
          while (r < e && buf[r] !== PIPE && buf[r] !== COLON) r++;
          rate = parseRate(buf, f + 1, r);
          if (!(rate > 0 && rate <= 1)) return this.fail('invalid_sample_rate');
          q = r;
        } else {
          let r = buf.indexOf(PIPE, f);
          if (r === -1 || r > e) r = e;
          if (fc === HASH) {
            if (this.tagStart !== -1) return this.fail('malformed_line');
            this.tagStart = f + 1;
            this.tagEnd = r;
          } else if (fc === 99 /* c */ && buf[f + 1] === COLON) {
            this.contStart = f + 2;
            this.contEnd = r;
          } else if (r === f) {
            return this.fail('malformed_line');
          }
          // `|T<ts>`, `|e:…`, `|card:…` and other DogStatsD fields are tolerated and ignored.
          q = r;
        }
      }
      for (let i = first; i < this.vCount; i++) {
        this.vType[i] = t;
        this.vRate[i] = rate;
        if (t === T_COUNTER && this.vNum[i]! < 0) return this.fail('illegal_negative_counter');
      }
      if (q >= e) return true;
      // Another `value|type` sample follows after ':' (etsy's multi-metric form).
      p = q + 1;
      first = this.vCount;
    }
  }

  private fail(reason: LineErrorReason): false {
    this.error = reason;
    return false;
  }

  private parseValue(buf: Buffer, s: number, e: number, i: number): boolean {
    if (s >= e) return this.fail('invalid_value');
    this.vStart[i] = s;
    this.vEnd[i] = e;
    let p = s;
    let neg = false;
    const c = buf[p];
    this.vSigned[i] = c === 43 || c === 45 ? 1 : 0;
    if (c === 45) {
      neg = true;
      p++;
    } else if (c === 43) p++;
    // Fast path: digits with an optional fraction, at most 15 significant digits.
    let v = 0;
    let digits = 0;
    let frac = 0;
    let inFrac = false;
    for (; p < e; p++) {
      const d = buf[p]! - 48;
      if (d >= 0 && d <= 9) {
        v = v * 10 + d;
        digits++;
        if (inFrac) frac++;
      } else if (d === -2 /* '.' */ && !inFrac) {
        inFrac = true;
      } else break;
    }
    if (p === e && digits > 0 && digits <= 15) {
      if (frac > 0) v /= POW10[frac]!;
      this.vNum[i] = neg ? -v : v;
      return true;
    }
    // Slow path: exponents, long numbers, or garbage (which a set may still accept).
    const str = buf.toString('latin1', s, e);
    if (NUMBER_RE.test(str)) {
      const n = Number(str);
      if (Number.isFinite(n)) {
        this.vNum[i] = n;
        return true;
      }
    }
    // Sets take any member; the type is only known after the values, so mark for the check below.
    this.vNum[i] = Number.NaN;
    const pipe = buf.indexOf(PIPE, e);
    if (pipe !== -1 && buf[pipe + 1] === 115 /* s */ && (pipe + 2 >= buf.length || !isTypeChar(buf[pipe + 2]!))) {
      return true;
    }
    return this.fail('invalid_value');
  }

  /** Finds (or resolves and caches) the entry for a raw key; null when the line is rejected. */
  private lookup(buf: Buffer, s: number, nameEnd: number, nameHash: number, t: number): CacheEntry | null {
    let h = Math.imul(nameHash ^ (t + 1), 16777619);
    if (this.tagStart !== -1) h = fnv(buf, this.tagStart, this.tagEnd, Math.imul(h ^ HASH, 16777619));
    if (this.contStart !== -1) h = fnv(buf, this.contStart, this.contEnd, Math.imul(h ^ COLON, 16777619));
    let entry = this.cache.get(h) ?? null;
    let prev: CacheEntry | null = null;
    while (entry !== null) {
      if (
        entry.type === t &&
        sameBytes(entry.name, buf, s, nameEnd) &&
        (entry.tags === null ? this.tagStart === -1 : this.tagStart !== -1 && sameBytes(entry.tags, buf, this.tagStart, this.tagEnd)) &&
        (entry.container === null
          ? this.contStart === -1
          : this.contStart !== -1 && sameBytes(entry.container, buf, this.contStart, this.contEnd))
      ) {
        const stale =
          (entry.series !== null && entry.series.dead) ||
          (entry.refusal !== null && entry.refusal !== 'mapping_drop' && entry.generation !== this.store.generation);
        if (!stale) {
          this.cacheHits++;
          return entry;
        }
        // Unlink the stale entry and resolve again.
        if (prev === null) {
          if (entry.next === null) this.cache.delete(h);
          else this.cache.set(h, entry.next);
        } else prev.next = entry.next;
        this.cacheCount--;
        break;
      }
      prev = entry;
      entry = entry.next;
    }
    this.cacheMisses++;
    return this.resolve(buf, s, nameEnd, t, h);
  }

  private resolve(buf: Buffer, s: number, nameEnd: number, t: number, h: number): CacheEntry | null {
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
    const copy = (b: Buffer | null): Buffer | null => (b === null ? null : Buffer.from(b));
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
    const entry = new CacheEntry(
      h,
      Buffer.from(nameBytes),
      t,
      copy(tagBytes),
      copy(contBytes),
      series,
      scale,
      refusal,
      store.generation,
      this.cache.get(h) ?? null,
    );
    if (this.cacheCount >= this.opts.cacheSize) this.clearCache();
    entry.next = this.cache.get(h) ?? null;
    this.cache.set(h, entry);
    this.cacheCount++;
    return entry;
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

function parseRate(buf: Buffer, s: number, e: number): number {
  if (s >= e) return Number.NaN;
  const str = buf.toString('latin1', s, e);
  return NUMBER_RE.test(str) ? Number(str) : Number.NaN;
}

const POW10: number[] = Array.from({ length: 16 }, (_, i) => 10 ** i);
