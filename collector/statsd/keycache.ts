/**
 * The raw-key cache: a statsd key (name, type, tags, container id) seen before is answered
 * without making a string, mapping or building labels again.
 *
 * A key is identified by its lengths and two independent 32-bit hashes of each part plus the
 * type, compared as numbers. Measured: comparing the bytes instead cost ~80 ns a line, a quarter
 * of the whole parse. Two different keys would have to agree on 64 bits of hash and every length
 * to be confused (odds ~1e-10 at 100,000 keys). The parser hashes the parts while it scans them
 * (the constants below); this module only combines and looks them up.
 */
import type { Series, DropReason } from '../../core/store.js';

/**
 * Why a cached key's samples are not stored: a store refusal (re-tried when the store's generation
 * moves), or one the mapping decided (`mapping_drop`; `illegal_negative_counter`, a counter
 * mapped with a negative `scale`; `regex_name_too_long`, a regex rule's captures refused for a
 * name over --statsd.regex-max-name-length), final until the mapping changes.
 */
export type Refusal = DropReason | 'mapping_drop' | 'illegal_negative_counter' | 'regex_name_too_long';

/**
 * FNV-1a (the first hash of each part) and a rotate-xor-multiply hash (the second, independent
 * one). A `const enum` so the parser's per-byte loops multiply by literals (see wire.ts `Byte`).
 */
export const enum Hash {
  FNV_OFFSET = 2166136261 | 0,
  FNV_PRIME = 16777619,
  H2_SEED = 0x2545f491,
  H2_PRIME = 0x9e3779b1 | 0,
}

/** A resolved raw key: how to recognise it and what samples with it update. */
export class CacheEntry {
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
    readonly refusal: Refusal | null,
    /** For refusals: the store generation they were decided in (they are re-tried after it moves). */
    readonly generation: number,
    /**
     * -1 when the labels are final; else the enricher's generation when they were not (a probe's
     * pid the host collector did not know yet): the key is resolved again once that moves.
     */
    readonly enrichGeneration: number,
  ) {}
}

/** The table hash of a key from its parts' first hashes (0 for a part that is absent). */
export function keyHash(nameHash: number, type: number, tagHash: number, contHash: number): number {
  let h = Math.imul(nameHash ^ (type + 1), Hash.FNV_PRIME);
  h = Math.imul(h ^ tagHash, Hash.FNV_PRIME);
  return Math.imul((h ^ contHash) + 0x9e3779b9, Hash.FNV_PRIME) | 0;
}

/**
 * Open addressing over a power-of-two table (table hash in `keys`, entry in `slots`), at most
 * half full. When `maxEntries` is reached the whole table is emptied: O(1) amortised, and probe
 * chains stay short without deletions.
 */
export class KeyCache {
  private readonly keys: Int32Array;
  private readonly slots: (CacheEntry | undefined)[];
  private readonly mask: number;
  private count = 0;

  constructor(private readonly maxEntries: number) {
    let cap = 1024;
    while (cap < maxEntries * 2) cap *= 2;
    this.keys = new Int32Array(cap);
    this.slots = new Array<CacheEntry | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  /** The slot holding this key, or `-(slot + 1)` for the free slot where it would go. */
  find(
    h: number,
    type: number,
    nameLen: number,
    nameHash: number,
    nameHash2: number,
    tagLen: number,
    tagHash: number,
    tagHash2: number,
    contLen: number,
    contHash: number,
    contHash2: number,
  ): number {
    const mask = this.mask;
    let idx = h & mask;
    for (;;) {
      const e = this.slots[idx];
      if (e === undefined) return -(idx + 1);
      if (
        this.keys[idx] === h &&
        e.type === type &&
        e.nameLen === nameLen &&
        e.nameHash === nameHash &&
        e.nameHash2 === nameHash2 &&
        e.tagLen === tagLen &&
        e.tagHash === tagHash &&
        e.tagHash2 === tagHash2 &&
        e.contLen === contLen &&
        e.contHash === contHash &&
        e.contHash2 === contHash2
      ) {
        return idx;
      }
      idx = (idx + 1) & mask;
    }
  }

  /** The entry in a slot `find` returned (>= 0). */
  at(slot: number): CacheEntry {
    return this.slots[slot]!;
  }

  /** Replaces the entry of a found slot (a key resolved again keeps its place). */
  replace(slot: number, e: CacheEntry): void {
    this.slots[slot] = e;
  }

  /** Stores `e` for table hash `h` in the free slot `find` reported (its negative return value). */
  insert(free: number, h: number, e: CacheEntry): void {
    let idx = -free - 1;
    if (this.count >= this.maxEntries) {
      this.clear();
      idx = h & this.mask;
    }
    this.keys[idx] = h;
    this.slots[idx] = e;
    this.count++;
  }

  clear(): void {
    this.keys.fill(0);
    this.slots.fill(undefined);
    this.count = 0;
  }
}
