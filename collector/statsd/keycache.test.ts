import { describe, expect, it } from 'vitest';
import { CacheEntry, KeyCache, keyHash } from './keycache.js';

function entry(type: number, nameHash: number, tagHash = 0): CacheEntry {
  return new CacheEntry(type, 4, nameHash, nameHash ^ 1, tagHash === 0 ? -1 : 3, tagHash, tagHash ^ 1, -1, 0, 0, null, 1, 'mapping_drop', 0, -1);
}
function find(c: KeyCache, e: CacheEntry): number {
  return c.find(keyHash(e.nameHash, e.type, e.tagHash, e.contHash), e.type, e.nameLen, e.nameHash, e.nameHash2, e.tagLen, e.tagHash, e.tagHash2, e.contLen, e.contHash, e.contHash2);
}
function put(c: KeyCache, e: CacheEntry): void {
  const slot = find(c, e);
  expect(slot).toBeLessThan(0);
  c.insert(slot, keyHash(e.nameHash, e.type, e.tagHash, e.contHash), e);
}

describe('raw-key cache', () => {
  it('finds what was inserted, by every part of the key', () => {
    const c = new KeyCache(100);
    const a = entry(0, 11);
    const b = entry(1, 11);
    const t = entry(0, 11, 7);
    put(c, a);
    put(c, b);
    put(c, t);
    expect(c.at(find(c, a))).toBe(a);
    expect(c.at(find(c, b))).toBe(b);
    expect(c.at(find(c, t))).toBe(t);
    expect(find(c, entry(0, 12))).toBeLessThan(0);
    expect(c.size).toBe(3);
  });

  it('keeps colliding table hashes apart (linear probing)', () => {
    const c = new KeyCache(10);
    // Same table hash, different second hash: two keys, two slots.
    const a = new CacheEntry(0, 4, 5, 100, -1, 0, 0, -1, 0, 0, null, 1, null, 0, -1);
    const b = new CacheEntry(0, 4, 5, 200, -1, 0, 0, -1, 0, 0, null, 1, null, 0, -1);
    put(c, a);
    put(c, b);
    expect(c.at(find(c, a))).toBe(a);
    expect(c.at(find(c, b))).toBe(b);
    expect(find(c, a)).not.toBe(find(c, b));
  });

  it('replaces in place and empties itself when full', () => {
    const c = new KeyCache(3);
    const es = [1, 2, 3].map((h) => entry(0, h));
    for (const e of es) put(c, e);
    const again = entry(0, 1);
    c.replace(find(c, es[0]!), again);
    expect(c.at(find(c, es[0]!))).toBe(again);
    const fourth = entry(0, 4);
    put(c, fourth);
    expect(c.size).toBe(1);
    expect(c.at(find(c, fourth))).toBe(fourth);
    expect(find(c, es[1]!)).toBeLessThan(0);
    c.clear();
    expect(c.size).toBe(0);
    expect(find(c, fourth)).toBeLessThan(0);
  });
});
