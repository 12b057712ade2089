/**
 * The statsd hot path: bytes in, series updated. One instance serves every listener.
 *
 * One pass over each line, straight from the receive Buffer: the name and the tag and container
 * fields are hashed while their ends are searched for, values are parsed from the bytes
 * (numbers.ts), and the key is looked up in the raw-key cache (keycache.ts), which holds the
 * resolved Series. No string is made for a line whose key was seen before; only a cache miss
 * decodes the key, splits its tags (tags.ts), maps the name and asks the store for a series.
 *
 * Counters of Redline's own (lines, samples, errors) are plain numbers on this object, published
 * to the store only when /metrics is read (metrics.ts).
 */
import { isUtf8 } from 'node:buffer';
import type { Store, Series, MetricType } from '../../core/store.js';
import type { SummaryOptions } from '../../core/summary.js';
import type { NativeHistogramOptions } from '../../core/native.js';
import type { Logger } from '../../core/log.js';
import { CacheEntry, KeyCache, keyHash, Hash, type Refusal } from './keycache.js';
import { DecimalScan, scanDecimal, fastNumber, slowNumber } from './numbers.js';
import { TagParser, type TagStyles } from './tags.js';
import { LINE_ERROR_REASONS, DROP_REASONS, type LineErrorReason } from './metrics.js';
import { Byte, T, SAMPLE_TYPES, typeCode, kindOf, isTypeChar } from './wire.js';

export type { TagStyles } from './tags.js';

/** What the ingest needs from the mapping engine (collector/statsd/mapper.ts). */
export interface MapResultLike {
  /** `too_long`: a regex rule matched a name too long to compute its captures for (mapper.ts). */
  action: 'map' | 'drop' | 'too_long';
  name: string;
  labels: Record<string, string>;
  honorLabels: boolean;
  observerType: 'histogram' | 'summary';
  buckets: readonly number[];
  /** Native buckets kept alongside the classic ones; absent: classic only. */
  native?: NativeHistogramOptions | undefined;
  summary: SummaryOptions;
  ttlMs: number;
  scale: number;
  help: string | undefined;
}
export interface MapperLike {
  map(name: string, kind: 'counter' | 'gauge' | 'observer'): MapResultLike;
}

/**
 * Labels derived from others, decided when a key is resolved (a cache miss). A key whose answer
 * may still change (a probe's pid the host collector has not seen yet: the probe started before
 * its first tick, or the agent restarted under running probes) is resolved again when
 * `generation` moves, so it gets its label whatever the order of arrival; a cache hit pays one
 * number comparison for it, and only keys that missed are ever resolved again.
 */
export interface Enricher {
  /** Adds what it knows to `labels`; true when a later call may add more. */
  enrich(labels: Map<string, string>): boolean;
  /** Moves whenever a call that returned true may answer differently. */
  readonly generation: number;
}

export interface IngestOptions {
  tags: TagStyles;
  /** Cached raw keys; the cache is emptied when it grows past this. */
  cacheSize: number;
  logger: Logger;
  /** Adds labels derived from others (the host collector's `group` for a probe's `pid`). */
  enrich?: Enricher | undefined;
  /** Mapper for names starting with `redline_` (the probe's own names), bypassing user rules. */
  passthrough: MapperLike;
}

/** Refusals the mapping decided: final until the mapping changes (which empties the cache). */
const MAPPING_REFUSALS: ReadonlySet<Refusal> = new Set<Refusal>(['mapping_drop', 'illegal_negative_counter', 'regex_name_too_long']);

const MAX_VALUES = 256;
/** The longest line accepted (a UDP datagram's payload can be 64 KiB). */
export const MAX_LINE_BYTES = 65536;

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
  /** New set members past --statsd.set-max-members in an interval, not counted. */
  setMembersDropped = 0;
  mappingDrops = 0;
  cacheHits = 0;
  cacheMisses = 0;
  /** Packets abandoned because of a bug in the ingest (should stay 0). */
  internalErrors = 0;

  private readonly cache: KeyCache;
  private readonly enricher: Enricher | null;
  private readonly tags: TagParser;
  private readonly scan = new DecimalScan();
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
    this.cache = new KeyCache(opts.cacheSize);
    this.enricher = opts.enrich ?? null;
    this.tags = new TagParser(opts.tags);
    for (const r of LINE_ERROR_REASONS) this.lineErrors.set(r, 0);
    for (const r of [...DROP_REASONS, 'mapping_drop', 'illegal_negative_counter', 'regex_name_too_long']) this.dropped.set(r, 0);
  }

  /** Swaps the mapping (config reload): the cache of resolved keys is emptied. */
  setMapper(mapper: MapperLike): void {
    this.mapper = mapper;
    this.clearCache();
    this.store.newMappingEpoch();
  }

  clearCache(): void {
    this.cache.clear();
  }

  /** Tags that could not become labels (no key, or an invalid label name) and were skipped. */
  get tagErrors(): number {
    return this.tags.errors;
  }

  /** Gets every packet's lines too, from every listener (statsd_exporter's relay: relay.ts). */
  relay: { forward(buf: Buffer, start: number, end: number): void } | null = null;

  /** Ingests a datagram (or a batch of complete TCP lines): lines split on `\n`. */
  handle(buf: Buffer, start = 0, end = buf.length): void {
    if (this.relay !== null) this.relay.forward(buf, start, end);
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

  private drop(reason: Refusal, n: number): void {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + n);
    if (reason !== 'mapping_drop') {
      this.opts.logger.rateLimited(`statsd_drop_${reason}`, 'dropped statsd sample', { reason });
    }
  }

  /** Rejects the line starting at `s` and returns where the next one starts. */
  private rejectLine(reason: LineErrorReason, buf: Buffer, s: number, from: number, end: number): number {
    let e = buf.indexOf(Byte.NL, from);
    if (e === -1 || e > end) e = end;
    this.reject(reason, buf, s, e);
    return e + 1;
  }

  /**
   * Parses and applies the line starting at `s`; returns where the next line starts. One pass
   * over the bytes: the name is hashed while its end is searched for.
   */
  private line(buf: Buffer, s: number, end: number): number {
    let h = Hash.FNV_OFFSET;
    let h2 = Hash.H2_SEED;
    let i = s;
    let c = 0;
    for (; i < end; i++) {
      c = buf[i]!;
      if (c === Byte.COLON || c === Byte.NL) break;
      h = Math.imul(h ^ c, Hash.FNV_PRIME);
      h2 = Math.imul(((h2 << 5) | (h2 >>> 27)) ^ c, Hash.H2_PRIME);
    }
    if (i === end || c === Byte.NL) {
      // No ':' before the end of the line.
      const le = i > s && buf[i - 1] === Byte.CR ? i - 1 : i;
      if (le === s) {
        this.lines++;
        this.reject('empty_line', buf, s, le);
        return i + 1;
      }
      this.lines++;
      if (buf[s] === Byte.UNDERSCORE && buf[s + 1] === 115 && buf[s + 2] === 99 && buf[s + 3] === Byte.PIPE) this.serviceChecks++;
      else this.reject(le - s > MAX_LINE_BYTES ? 'line_too_long' : 'malformed_line', buf, s, le);
      return i + 1;
    }
    this.lines++;
    const nameEnd = i;
    if (nameEnd === s) return this.rejectLine('empty_name', buf, s, i, end);
    if (buf[s] === Byte.UNDERSCORE) {
      if (buf[s + 1] === 101 /* e */ && buf[s + 2] === 123 /* { */) {
        this.events++;
        return this.skipLine(buf, i, end);
      }
      if (buf[s + 1] === 115 /* s */ && buf[s + 2] === 99 /* c */ && buf[s + 3] === Byte.PIPE) {
        this.serviceChecks++;
        return this.skipLine(buf, i, end);
      }
    }
    const q = this.parseSamples(buf, nameEnd + 1, end);
    if (q < 0) return this.rejectLine(this.error, buf, s, nameEnd, end);
    // The line ends at q: a newline, a Byte.CR before it, or the end of the buffer.
    let next = q;
    if (next < end && buf[next] === Byte.CR) next++;
    if (next < end && buf[next] !== Byte.NL) return this.rejectLine('malformed_line', buf, s, next, end);
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
    let e = buf.indexOf(Byte.NL, from);
    if (e === -1 || e > end) e = end;
    return e + 1;
  }

  private apply(series: Series, t: number, i: number, scale: number, buf: Buffer): void {
    const v = this.vNum[i]!;
    const now = this.nowMs;
    switch (t) {
      case T.COUNTER:
        series.value += (v / this.vRate[i]!) * scale;
        break;
      case T.GAUGE:
        if (this.vSigned[i] === 1) series.value += v * scale;
        else series.value = v * scale;
        break;
      case T.SET: {
        // Past the cap a member already seen still counts; a new one is dropped and counted.
        const members = series.members!;
        const h = memberHash(buf, this.vStart[i]!, this.vEnd[i]!);
        if (members.size < this.store.setMaxMembers || members.has(h)) members.add(h);
        else this.setMembersDropped++;
        break;
      }
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
   * line ends (newline, Byte.CR or end), or -1 with `this.error` set when any part of the line is
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
        if (buf[p] === Byte.PIPE) break;
        p++;
      }
      // Type: up to '|', ':' or the end of the line.
      const ts = p + 1;
      let q = ts;
      while (q < end) {
        const c = buf[q]!;
        if (c === Byte.PIPE || c === Byte.COLON || c === Byte.NL || c === Byte.CR) break;
        q++;
      }
      const t = typeCode(buf, ts, q);
      if (t < 0) return this.fail('invalid_type');
      if (t === T.SET && this.vCount - first > 1) return this.fail('invalid_multi_value');
      let rate = 1;
      // Optional fields.
      while (q < end && buf[q] === Byte.PIPE) {
        const f = q + 1;
        const fc = buf[f];
        if (fc === Byte.AT) {
          let r = f + 1;
          while (r < end) {
            const c = buf[r]!;
            if (c === Byte.PIPE || c === Byte.COLON || c === Byte.NL || c === Byte.CR) break;
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
        let fh = Hash.FNV_OFFSET;
        let fh2 = Hash.H2_SEED;
        while (r < end) {
          const c = buf[r]!;
          if (c === Byte.PIPE || c === Byte.NL || c === Byte.CR) break;
          fh = Math.imul(fh ^ c, Hash.FNV_PRIME);
          fh2 = Math.imul(((fh2 << 5) | (fh2 >>> 27)) ^ c, Hash.H2_PRIME);
          r++;
        }
        if (fc === Byte.HASH) {
          if (this.tagStart !== -1) return this.fail('malformed_line');
          this.tagStart = f + 1;
          this.tagEnd = r;
          this.tagHash = fh;
          this.tagHash2 = fh2;
        } else if (fc === 99 /* c */ && buf[f + 1] === Byte.COLON) {
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
        if (t === T.COUNTER && this.vNum[i]! < 0) return this.fail('illegal_negative_counter');
      }
      if (q >= end || buf[q] !== Byte.COLON) return q;
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
    this.vSigned[i] = c0 === Byte.PLUS || c0 === Byte.MINUS ? 1 : 0;
    const scan = this.scan;
    if (scanDecimal(buf, s, end, scan)) {
      this.vNum[i] = scan.value;
      this.vEnd[i] = scan.stop;
      return scan.stop;
    }
    const p = scan.stop;
    // Slow path: find the token's end, then exponents, long numbers, set members or garbage.
    let e = p;
    while (e < end) {
      const ch = buf[e]!;
      if (ch === Byte.PIPE || ch === Byte.COLON || ch === Byte.NL || ch === Byte.CR) break;
      e++;
    }
    if (e >= end || buf[e] === Byte.NL || buf[e] === Byte.CR) return this.fail('malformed_line');
    if (e === s) return this.fail('invalid_value');
    this.vEnd[i] = e;
    const n = slowNumber(buf, s, e);
    if (!Number.isNaN(n)) {
      this.vNum[i] = n;
      return e;
    }
    // Sets take any member; the type comes after the values, so look ahead for `|s`.
    let t = e;
    while (t < end && buf[t] !== Byte.PIPE && buf[t] !== Byte.NL) t++;
    if (buf[t] === Byte.PIPE && buf[t + 1] === 115 && (t + 2 >= end || !isTypeChar(buf[t + 2]!))) {
      this.vNum[i] = Number.NaN;
      return e;
    }
    return this.fail('invalid_value');
  }

  /** Finds (or resolves and caches) the entry for a raw key; null when the line is rejected. */
  private lookup(buf: Buffer, s: number, nameEnd: number, nameHash: number, nameHash2: number, t: number): CacheEntry | null {
    const hasTags = this.tagStart !== -1;
    const hasCont = this.contStart !== -1;
    const tagH = hasTags ? this.tagHash : 0;
    const contH = hasCont ? this.contHash : 0;
    const h = keyHash(nameHash, t, tagH, contH);
    const cache = this.cache;
    const slot = cache.find(
      h,
      t,
      nameEnd - s,
      nameHash,
      nameHash2,
      hasTags ? this.tagEnd - this.tagStart : -1,
      tagH,
      hasTags ? this.tagHash2 : 0,
      hasCont ? this.contEnd - this.contStart : -1,
      contH,
      hasCont ? this.contHash2 : 0,
    );
    if (slot >= 0) {
      const e = cache.at(slot);
      const unenriched = e.enrichGeneration !== -1 && e.enrichGeneration !== this.enricher!.generation;
      const stale =
        unenriched ||
        (e.series !== null && e.series.dead) ||
        (e.refusal !== null && !MAPPING_REFUSALS.has(e.refusal) && e.generation !== this.store.generation);
      if (!stale) {
        this.cacheHits++;
        return e;
      }
      // Resolve again in place: the slot keeps its key.
      this.cacheMisses++;
      const fresh = this.resolve(buf, s, nameEnd, t, nameHash, nameHash2);
      if (fresh !== null) cache.replace(slot, fresh);
      if (unenriched && fresh !== null) this.moveSeries(e.series, fresh.series);
      return fresh;
    }
    this.cacheMisses++;
    const fresh = this.resolve(buf, s, nameEnd, t, nameHash, nameHash2);
    if (fresh !== null) cache.insert(slot, h, fresh);
    return fresh;
  }

  /**
   * A key's series gained a label (its pid's `group`): the old series goes now rather than at its
   * TTL, and a counter's total so far moves with it, so no count is lost or shown twice.
   */
  private moveSeries(from: Series | null, to: Series | null): void {
    if (from === null || to === null || from === to || from.dead) return;
    if (from.family.type === 'counter' && to.family.type === 'counter') to.value += from.value;
    this.store.retireStatsdSeries(from);
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
    const name = this.tags.nameTags(nameBytes.toString('utf8'), labels, tagBytes !== null);
    if (name === null) {
      this.reject('mixed_tagging_styles', buf, s, nameEnd);
      return null;
    }
    if (name === '') {
      this.reject('empty_name', buf, s, nameEnd);
      return null;
    }
    if (tagBytes !== null) this.tags.dogTags(tagBytes.toString('utf8'), labels);
    if (contBytes !== null) labels.set('container_id', contBytes.toString('utf8'));

    const kind = kindOf(t);
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
    let refusal: Refusal | null = null;
    let scale = m.scale;
    let enrichGeneration = -1;
    if (m.action === 'drop') {
      refusal = 'mapping_drop';
    } else if (m.action === 'too_long') {
      refusal = 'regex_name_too_long';
    } else if (t === T.COUNTER && scale < 0) {
      // As statsd_exporter: a scaled counter increment below zero is refused, never applied.
      refusal = 'illegal_negative_counter';
    } else {
      for (const [k, v] of Object.entries(m.labels)) {
        if (!m.honorLabels || !labels.has(k)) labels.set(k, v);
      }
      if (this.enricher !== null) {
        const gen = this.enricher.generation;
        if (this.enricher.enrich(labels)) enrichGeneration = gen;
      }
      const labelNames = [...labels.keys()].sort();
      const type: MetricType =
        t === T.COUNTER ? 'counter' : t === T.GAUGE || t === T.SET ? 'gauge' : m.observerType;
      if (t === T.TIMER) scale *= 0.001;
      const got = store.statsdSeries({
        name: m.name,
        help: m.help ?? `Metric autogenerated by Redline from statsd ${kind} samples.`,
        type,
        labelNames,
        labelValues: labelNames.map((k) => labels.get(k)!),
        buckets: type === 'histogram' ? m.buckets : undefined,
        native: type === 'histogram' ? m.native : undefined,
        summary: type === 'summary' ? m.summary : undefined,
        ttlMs: m.ttlMs,
        isSet: t === T.SET,
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
      enrichGeneration,
    );
  }
}

/**
 * A set member's identity: two independent 32-bit hashes of its bytes folded into 53 bits (a
 * double holds it exactly). Two members of one interval collide with odds ~n²/2⁵⁴ (5·10⁻⁷ at
 * 100,000 members); keeping the strings instead let one set series hold 400 MB.
 */
export function memberHash(buf: Buffer, s: number, e: number): number {
  let h = Hash.FNV_OFFSET;
  let h2 = Hash.H2_SEED;
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    h = Math.imul(h ^ c, Hash.FNV_PRIME);
    h2 = Math.imul(((h2 << 5) | (h2 >>> 27)) ^ c, Hash.H2_PRIME);
  }
  return (h >>> 0) * 2097152 + (h2 >>> 11);
}
