/**
 * `name` and label templates with capture references, parsed once at load.
 *
 * References: `$n` / `${n}` (capture n; `$0` is the whole match, for globs too: statsd_exporter
 * #444), `$name` / `${name}` (a named group, regex rules only), `$$` (a dollar). Anything that
 * names no capture expands to the empty string, as in Go's `Regexp.Expand`.
 *
 * One deliberate difference: `$1_total` means capture 1 followed by `_total`. Go reads the longest
 * `[A-Za-z0-9_]` run as the reference (`1_total`, which names nothing) and statsd_exporter's glob
 * formatter does the same, so there that template silently yields `` — never what was meant. A
 * number reference ends at the first non-digit here; use `${n}` for the unambiguous form.
 */

/** A literal piece, a capture number, or a capture name. */
type Part = string | { n: number } | { name: string };

export class Template {
  private constructor(
    private readonly parts: readonly Part[],
    readonly literal: string | null,
  ) {}

  static parse(text: string): Template {
    if (!text.includes('$')) return new Template([text], text);
    const parts: Part[] = [];
    let lit = '';
    let i = 0;
    while (i < text.length) {
      const c = text[i]!;
      if (c !== '$') {
        lit += c;
        i++;
        continue;
      }
      const rest = text.slice(i + 1);
      let m: RegExpExecArray | null;
      let ref: string | null = null;
      if (rest.startsWith('$')) {
        lit += '$';
        i += 2;
        continue;
      } else if ((m = /^\{([A-Za-z0-9_]+)\}/.exec(rest)) !== null || (m = /^(\d+)/.exec(rest)) !== null || (m = /^([A-Za-z_][A-Za-z0-9_]*)/.exec(rest)) !== null) {
        ref = m[1]!;
        i += 1 + m[0].length;
      } else {
        // A `$` that starts no reference is kept, as Go does.
        lit += '$';
        i++;
        continue;
      }
      if (lit) parts.push(lit);
      lit = '';
      parts.push(/^\d+$/.test(ref) ? { n: Number(ref) } : { name: ref });
    }
    if (lit) parts.push(lit);
    return new Template(parts, null);
  }

  /** Highest capture number referenced (0 when none). */
  maxCapture(): number {
    let max = 0;
    for (const p of this.parts) if (typeof p === 'object' && 'n' in p) max = Math.max(max, p.n);
    return max;
  }

  /** Named references (regex rules resolve them; globs have none). */
  names(): string[] {
    const out: string[] = [];
    for (const p of this.parts) if (typeof p === 'object' && 'name' in p) out.push(p.name);
    return out;
  }

  /** `m[0]` is the whole match (`$0`), `m[n]` capture n; `groups` the named ones (regex only). */
  expand(m: ArrayLike<string | undefined>, groups?: Record<string, string | undefined>): string {
    if (this.literal !== null) return this.literal;
    let out = '';
    for (const p of this.parts) {
      if (typeof p === 'string') out += p;
      else if ('n' in p) out += (p.n < m.length ? m[p.n] : undefined) ?? '';
      else out += groups?.[p.name] ?? '';
    }
    return out;
  }
}
