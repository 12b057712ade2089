/**
 * Glob rules in a segment trie, one per segment count, so a lookup walks the name's segments
 * once instead of testing every rule (statsd_exporter uses an FSM for the same reason).
 *
 * Each node has literal children (a Map), partial-segment children (`api_*`, a small regex per
 * segment) and one `*` child. In file order (the default) the rule with the lowest index among all
 * matching leaves wins; subtrees whose lowest rule index cannot beat the best so far are skipped.
 * With `glob_disable_ordering` the most specific rule wins, compared segment by segment from the
 * left (literal > partial > `*`): literal subtrees are tried first and a hit there ends the search.
 */

export type Kind = 'counter' | 'gauge' | 'observer';

export interface GlobRule {
  /** Position in the file; lower wins in ordered mode and breaks ties otherwise. */
  index: number;
  kind: Kind | null;
  /** The glob split on dots. */
  segments: readonly string[];
}

class Node<R extends GlobRule> {
  literal: Map<string, Node<R>> | null = null;
  partial: { pattern: string; re: RegExp; node: Node<R> }[] | null = null;
  star: Node<R> | null = null;
  /** Rules ending here, in file order. */
  rules: R[] | null = null;
  /** Lowest rule index in this subtree. */
  minIndex = Number.POSITIVE_INFINITY;
}

interface Hit<R> {
  rule: R;
  /** Per segment: 2 literal, 1 partial, 0 `*`, along the path that matched. */
  spec: number[];
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class GlobIndex<R extends GlobRule> {
  private readonly roots = new Map<number, Node<R>>();

  constructor(
    rules: readonly R[],
    private readonly ordered: boolean,
  ) {
    for (const r of rules) this.add(r);
  }

  private add(r: R): void {
    let node = this.roots.get(r.segments.length);
    if (node === undefined) {
      node = new Node<R>();
      this.roots.set(r.segments.length, node);
    }
    node.minIndex = Math.min(node.minIndex, r.index);
    for (const seg of r.segments) {
      let next: Node<R> | undefined;
      if (seg === '*') {
        next = node.star ??= new Node<R>();
      } else if (seg.includes('*')) {
        node.partial ??= [];
        next = node.partial.find((p) => p.pattern === seg)?.node;
        if (next === undefined) {
          next = new Node<R>();
          node.partial.push({ pattern: seg, re: new RegExp(`^${seg.split('*').map(escapeRegex).join('[^.]*')}$`), node: next });
        }
      } else {
        node.literal ??= new Map();
        next = node.literal.get(seg);
        if (next === undefined) {
          next = new Node<R>();
          node.literal.set(seg, next);
        }
      }
      next.minIndex = Math.min(next.minIndex, r.index);
      node = next;
    }
    (node.rules ??= []).push(r);
  }

  /** The winning rule for these segments and kind, or null. */
  find(segments: readonly string[], kind: Kind): R | null {
    const root = this.roots.get(segments.length);
    if (root === undefined) return null;
    if (this.ordered) return this.firstInOrder(root, segments, 0, kind, null);
    return this.mostSpecific(root, segments, 0, kind, [])?.rule ?? null;
  }

  private firstInOrder(node: Node<R>, segs: readonly string[], i: number, kind: Kind, best: R | null): R | null {
    if (best !== null && node.minIndex >= best.index) return best;
    if (i === segs.length) {
      if (node.rules !== null) {
        for (const r of node.rules) {
          if (r.kind !== null && r.kind !== kind) continue;
          if (best === null || r.index < best.index) best = r;
          break;
        }
      }
      return best;
    }
    const seg = segs[i]!;
    const lit = node.literal?.get(seg);
    if (lit !== undefined) best = this.firstInOrder(lit, segs, i + 1, kind, best);
    if (node.partial !== null) {
      for (const p of node.partial) if (p.re.test(seg)) best = this.firstInOrder(p.node, segs, i + 1, kind, best);
    }
    if (node.star !== null) best = this.firstInOrder(node.star, segs, i + 1, kind, best);
    return best;
  }

  private mostSpecific(node: Node<R>, segs: readonly string[], i: number, kind: Kind, spec: number[]): Hit<R> | null {
    if (i === segs.length) {
      if (node.rules === null) return null;
      for (const r of node.rules) if (r.kind === null || r.kind === kind) return { rule: r, spec: [...spec] };
      return null;
    }
    const seg = segs[i]!;
    const lit = node.literal?.get(seg);
    if (lit !== undefined) {
      spec.push(2);
      const hit = this.mostSpecific(lit, segs, i + 1, kind, spec);
      spec.pop();
      if (hit !== null) return hit;
    }
    if (node.partial !== null) {
      let best: Hit<R> | null = null;
      spec.push(1);
      for (const p of node.partial) {
        if (!p.re.test(seg)) continue;
        const hit = this.mostSpecific(p.node, segs, i + 1, kind, spec);
        if (hit !== null && (best === null || better(hit, best))) best = hit;
      }
      spec.pop();
      if (best !== null) return best;
    }
    if (node.star !== null) {
      spec.push(0);
      const hit = this.mostSpecific(node.star, segs, i + 1, kind, spec);
      spec.pop();
      return hit;
    }
    return null;
  }
}

function better<R extends GlobRule>(a: Hit<R>, b: Hit<R>): boolean {
  for (let k = 0; k < a.spec.length; k++) {
    const d = a.spec[k]! - (b.spec[k] ?? 0);
    if (d !== 0) return d > 0;
  }
  return a.rule.index < b.rule.index;
}

/**
 * The glob rules as a Graphviz graph in the shape statsd_exporter's `--debug.dump-fsm` writes:
 * a start state, one state per metric type, then one state per dot-separated segment (edges
 * labelled with the segment as written, `*` included); end states green, type states yellow.
 * Render with `dot -Tpng dump.dot > dump.png`.
 */
export function globGraph(rules: readonly GlobRule[]): string {
  interface State {
    next: Map<string, State>;
  }
  const kinds: Kind[] = ['counter', 'gauge', 'observer'];
  const root: State = { next: new Map(kinds.map((k) => [k, { next: new Map() }])) };
  for (const r of rules) {
    for (const k of r.kind === null ? kinds : [r.kind]) {
      let s = root.next.get(k)!;
      for (const seg of r.segments) {
        let n = s.next.get(seg);
        if (n === undefined) {
          n = { next: new Map() };
          s.next.set(seg, n);
        }
        s = n;
      }
    }
  }
  const out = ['digraph g {', 'rankdir=LR', 'node [ label="",style=filled,fillcolor=white,shape=circle ]'];
  const states: State[] = [root];
  for (let i = 0; i < states.length; i++) {
    for (const [label, t] of states[i]!.next) {
      states.push(t);
      const id = states.length - 1;
      out.push(`${i} -> ${id}  [label = "${label.replace(/["\\]/g, '\\$&')}"];`);
      if (i === 0) out.push(`${id} [color="#D6B656",fillcolor="#FFF2CC"];`);
      else if (t.next.size === 0) out.push(`${id} [color="#82B366",fillcolor="#D5E8D4"];`);
    }
  }
  out.push('0 [color="#a94442",fillcolor="#f2dede"];', '}');
  return out.join('\n') + '\n';
}
