/**
 * Several mapping files as one: the user's own first, then each preset in the order given.
 * The first rule that matches decides; when none does, the first file's defaults apply.
 */
import type { MapperLike } from '../ingest.js';
import type { MapResult, StatsdKind } from '../mapper.js';

/** A loaded mapping file: its matcher, and the warnings of rules that cannot do what they say. */
export interface LoadedMapping {
  readonly warnings: readonly string[];
  map(name: string, kind: StatsdKind): MapResult;
}

export class ChainMapper implements MapperLike {
  private readonly first: LoadedMapping;

  constructor(private readonly mappings: readonly LoadedMapping[]) {
    const first = mappings[0];
    if (!first) throw new Error('ChainMapper needs at least one mapping');
    this.first = first;
  }

  get warnings(): string[] {
    return this.mappings.flatMap((m) => [...m.warnings]);
  }

  map(name: string, kind: StatsdKind): MapResult {
    const unmatched = this.first.map(name, kind);
    if (unmatched.matched) return unmatched;
    for (const m of this.mappings) {
      if (m === this.first) continue;
      const r = m.map(name, kind);
      if (r.matched) return r;
    }
    return unmatched;
  }
}
