/**
 * Go RE2 patterns (statsd_exporter's `match_type: regex`), compiled twice:
 *
 * - for re2js, a JavaScript port of RE2 (via RE2/J, Go's regexp): it decides whether a name
 *   matches, in time linear in the name (its lazy DFA: a 64 KiB hostile name ~0.1–0.6 ms,
 *   bench/hostile.ts), and gives the captures of long names. It reads Go's syntax and refuses what Go
 *   refuses, with Go's messages.
 * - translated to a JavaScript RegExp, which gives the captures of short names that matched:
 *   10–40× faster than re2js there (bench/mapper.ts), and its cost on a short name is bounded
 *   (V8's linear-time fallback below).
 *
 * What the translation handles: `(?P<name>`; flag groups `(?i)`, `(?s)`, `(?U)`, `(?m)` anywhere
 * and scoped `(?i:…)` (JavaScript has none of these as inline syntax on Node 20); `.` (RE2
 * excludes only `\n`, JavaScript also `\r`); `\s` (RE2: `[\t\n\f\r ]`); `\A`, `\z`, `\Q…\E`,
 * octal and `\x{…}` escapes; POSIX classes `[[:alpha:]]`; a `]` first in a class; a `{` that is
 * not a repeat. What RE2 refuses and JavaScript would accept is refused here too: lookarounds,
 * backreferences.
 *
 * The output avoids the `u` and `i` flags unless `\p{…}` forces `u`: V8's linear-time fallback
 * engine (enabled below) does not run patterns with those flags. Case-insensitivity is therefore
 * spelled out as `[aA]` (ASCII letters; RE2 also folds non-ASCII ones, and since re2js decides
 * the match first, a short name that differs from the pattern only in a non-ASCII case does not
 * match: the RegExp finds no captures for it).
 */
import v8 from 'node:v8';
import { RE2JS } from 're2js';

export class Re2SyntaxError extends Error {}

interface Flags {
  i: boolean;
  s: boolean;
  U: boolean;
}

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7f',
  blank: '\\t ',
  cntrl: '\\x00-\\x1f\\x7f',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

/** Unicode general categories RE2 knows by short name; any other `\p{Name}` is a script. */
const CATEGORIES = new Set(
  'C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs'.split(' '),
);

const SPECIAL = new Set('\\^$.|?*+()[]{}/-'.split(''));

let fallbackEnabled = false;

/**
 * Lets V8 switch a regex to its linear-time engine after excessive backtracking (measured: the
 * README's `(.*)\.(.*)--(.*)\.status\.(.*)\.count` on a 1,600-character name, 700 ms -> 21 ms;
 * `^(a+)+$` on 31 characters, 15 s -> 2 ms). Results are unchanged: the fallback only runs
 * patterns without backreferences and lookarounds, which RE2 does not have either.
 */
export function enableLinearFallback(): void {
  if (fallbackEnabled) return;
  fallbackEnabled = true;
  try {
    v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
    // V8 switches after this many backtracks of one match attempt (50,000 by default). At the
    // default a 64 KiB hostile name still cost ~10 s against the pattern above (the budget was
    // spent again at each start position before the switch); at 1,000 it costs ~0.1 s, linear
    // in the name's length (bench/mapper.ts). Names that match without backtracking never reach it.
    v8.setFlagsFromString('--regexp-backtracks-before-fallback=1000');
  } catch {
    // An engine without the flag keeps its backtracking engine; matching stays correct.
  }
}

export interface TranslatedRegex {
  source: string;
  flags: string;
}

/** Translates an RE2 pattern; throws Re2SyntaxError naming the problem. */
export function translateRe2(src: string): TranslatedRegex {
  return new Translator(src).run();
}

/**
 * Compiles an RE2 pattern for re2js (linear-time matching); throws Re2SyntaxError with RE2's own
 * message (Go's wording, without its "error parsing regexp: " prefix).
 */
export function compileLinear(src: string): RE2JS {
  try {
    return RE2JS.compile(src);
  } catch (err) {
    throw new Re2SyntaxError(String((err as Error).message).replace(/^error parsing regexp: /, ''));
  }
}

/** Compiles an RE2 pattern to a RegExp; throws Re2SyntaxError naming the problem. */
export function compileRe2(src: string): RegExp {
  const t = translateRe2(src);
  try {
    return new RegExp(t.source, t.flags);
  } catch (err) {
    throw new Re2SyntaxError(String((err as Error).message).replace(/^Invalid regular expression: \/.*\/[a-z]*: /, ''));
  }
}

function hex(cp: number): string {
  return cp <= 0xffff ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\u{${cp.toString(16)}}`;
}

function isUpper(cp: number): boolean {
  return cp >= 65 && cp <= 90;
}
function isLower(cp: number): boolean {
  return cp >= 97 && cp <= 122;
}

class Translator {
  private i = 0;
  private out = '';
  private needU = false;
  private flags: Flags = { i: false, s: false, U: false };
  private readonly stack: Flags[] = [];

  constructor(private readonly src: string) {}

  run(): TranslatedRegex {
    const s = this.src;
    while (this.i < s.length) {
      const c = s[this.i]!;
      switch (c) {
        case '\\':
          this.escape();
          break;
        case '[':
          this.cls();
          break;
        case '(':
          this.open();
          break;
        case ')':
          if (this.stack.length === 0) throw new Re2SyntaxError('unexpected ) (unbalanced parentheses)');
          this.flags = this.stack.pop()!;
          this.out += ')';
          this.i++;
          break;
        case '*':
        case '+':
        case '?':
          this.i++;
          this.quantifier(c);
          break;
        case '{': {
          const m = /^\{(\d+)(,(\d*))?\}/.exec(s.slice(this.i));
          if (m === null) {
            this.out += '\\{';
            this.i++;
            break;
          }
          if (Number(m[1]) > 1000 || (m[3] !== undefined && m[3] !== '' && Number(m[3]) > 1000)) {
            throw new Re2SyntaxError(`invalid repeat count ${m[0]} (RE2 allows at most 1000)`);
          }
          if (m[3] !== undefined && m[3] !== '' && Number(m[3]) < Number(m[1])) {
            throw new Re2SyntaxError(`invalid repeat count ${m[0]} (max below min)`);
          }
          this.i += m[0].length;
          this.quantifier(m[0]);
          break;
        }
        case '}':
        case ']':
          this.out += `\\${c}`;
          this.i++;
          break;
        case '.':
          this.out += this.flags.s ? '[\\s\\S]' : '[^\\n]';
          this.i++;
          break;
        case '^':
        case '$':
        case '|':
          // No `m` flag is used: statsd names never hold a newline (lines are split on it), so
          // RE2's multi-line `^`/`$` and the plain ones match at the same places.
          this.out += c;
          this.i++;
          break;
        default: {
          const cp = s.codePointAt(this.i)!;
          this.literal(cp);
          this.i += cp > 0xffff ? 2 : 1;
        }
      }
    }
    if (this.stack.length > 0) throw new Re2SyntaxError('missing closing )');
    return { source: this.out, flags: this.needU ? 'u' : '' };
  }

  private quantifier(q: string): void {
    let lazy = false;
    if (this.src[this.i] === '?') {
      lazy = true;
      this.i++;
    }
    const next = this.src[this.i];
    if (next === '*' || next === '+' || next === '?' || (next === '{' && /^\{\d+(,\d*)?\}/.test(this.src.slice(this.i)))) {
      throw new Re2SyntaxError(`invalid nested repetition operator ${q}${lazy ? '?' : ''}${next}`);
    }
    if (this.flags.U) lazy = !lazy;
    this.out += q + (lazy ? '?' : '');
  }

  private literal(cp: number): void {
    if (this.flags.i && (isUpper(cp) || isLower(cp))) {
      const lower = String.fromCharCode(cp | 0x20);
      this.out += `[${lower}${lower.toUpperCase()}]`;
    } else if (cp < 128 && SPECIAL.has(String.fromCharCode(cp))) {
      this.out += `\\x${cp.toString(16).padStart(2, '0')}`;
    } else if (cp > 0xffff) {
      this.needU = true;
      this.out += hex(cp);
    } else {
      this.out += String.fromCharCode(cp);
    }
  }

  private open(): void {
    const s = this.src;
    const rest = s.slice(this.i);
    if (!rest.startsWith('(?')) {
      this.stack.push({ ...this.flags });
      this.out += '(';
      this.i++;
      return;
    }
    const named = /^\(\?P?<([^>]*)>/.exec(rest);
    if (named !== null && !rest.startsWith('(?<=') && !rest.startsWith('(?<!')) {
      const name = named[1]!;
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Re2SyntaxError(`invalid capture group name ${JSON.stringify(name)}`);
      this.stack.push({ ...this.flags });
      this.out += `(?<${name}>`;
      this.i += named[0].length;
      return;
    }
    if (/^\(\?(=|!|<=|<!)/.test(rest)) throw new Re2SyntaxError('lookahead and lookbehind (?= (?! (?<= (?<! are not supported by RE2 (Go regexp)');
    if (rest.startsWith('(?P=') || rest.startsWith('(?P>')) throw new Re2SyntaxError('backreferences are not supported by RE2 (Go regexp)');
    const fl = /^\(\?([imsU]*)(-([imsU]*))?([:)])/.exec(rest);
    if (fl === null || (fl[1] === '' && fl[2] === undefined && fl[4] === ')')) {
      throw new Re2SyntaxError(`invalid or unsupported Perl syntax ${JSON.stringify(rest.slice(0, 4))}`);
    }
    if (fl[2] !== undefined && fl[3] === '') throw new Re2SyntaxError(`invalid flag group ${fl[0]} (empty negation)`);
    // `m` is accepted and changes nothing here (see `^`/`$` above).
    const next: Flags = { ...this.flags };
    for (const f of fl[1]!) if (f !== 'm') next[f as keyof Flags] = true;
    for (const f of fl[3] ?? '') if (f !== 'm') next[f as keyof Flags] = false;
    this.i += fl[0].length;
    if (fl[4] === ')') {
      this.flags = next;
    } else {
      this.stack.push({ ...this.flags });
      this.flags = next;
      this.out += '(?:';
    }
  }

  /** One escape outside a class; the backslash is at `this.i`. */
  private escape(): void {
    const s = this.src;
    const d = s[this.i + 1];
    if (d === undefined) throw new Re2SyntaxError('trailing backslash at end of expression');
    switch (d) {
      case 'Q': {
        const end = s.indexOf('\\E', this.i + 2);
        const text = s.slice(this.i + 2, end === -1 ? s.length : end);
        for (const ch of text) this.literal(ch.codePointAt(0)!);
        this.i = end === -1 ? s.length : end + 2;
        return;
      }
      case 'E':
        // A stray \E (no \Q) means nothing in RE2.
        this.i += 2;
        return;
      case 'A':
        this.out += '^';
        this.i += 2;
        return;
      case 'z':
        this.out += '$';
        this.i += 2;
        return;
      case 'd':
      case 'D':
      case 'w':
      case 'W':
      case 'b':
      case 'B':
        this.out += `\\${d}`;
        this.i += 2;
        return;
      case 's':
        this.out += '[\\t\\n\\f\\r ]';
        this.i += 2;
        return;
      case 'S':
        this.out += '[^\\t\\n\\f\\r ]';
        this.i += 2;
        return;
      case 'p':
      case 'P':
        this.out += this.unicodeClass();
        return;
      default: {
        const cp = this.escapedChar();
        this.literal(cp);
      }
    }
  }

  /** `\pL`, `\p{Greek}`, `\p{^Greek}`, `\PL` at `this.i`; returns the JavaScript form. */
  private unicodeClass(): string {
    const s = this.src;
    let neg = s[this.i + 1] === 'P';
    let name: string;
    if (s[this.i + 2] === '{') {
      const end = s.indexOf('}', this.i + 3);
      if (end === -1) throw new Re2SyntaxError('invalid character class range (missing } after \\p{)');
      name = s.slice(this.i + 3, end);
      this.i = end + 1;
    } else {
      name = s[this.i + 2] ?? '';
      this.i += 3;
    }
    if (name.startsWith('^')) {
      neg = !neg;
      name = name.slice(1);
    }
    if (!/^[A-Za-z_]+$/.test(name)) throw new Re2SyntaxError(`invalid character class range \\p{${name}}`);
    this.needU = true;
    if (name === 'Any') return neg ? '[^\\s\\S]' : '[\\s\\S]';
    const body = CATEGORIES.has(name) ? name : `Script=${name}`;
    return `\\${neg ? 'P' : 'p'}{${body}}`;
  }

  /** A single-character escape at `this.i` (backslash included); returns the code point. */
  private escapedChar(): number {
    const s = this.src;
    const d = s[this.i + 1]!;
    const simple: Record<string, number> = { a: 7, f: 12, t: 9, n: 10, r: 13, v: 11 };
    if (simple[d] !== undefined) {
      this.i += 2;
      return simple[d];
    }
    if (d >= '0' && d <= '7') {
      const m = /^[0-7]{1,3}/.exec(s.slice(this.i + 1))!;
      if (d !== '0' && m[0].length === 1) throw new Re2SyntaxError(`backreferences like \\${d} are not supported by RE2 (Go regexp)`);
      this.i += 1 + m[0].length;
      return parseInt(m[0], 8);
    }
    if (d === 'x') {
      const braced = /^\\x\{([0-9A-Fa-f]{1,6})\}/.exec(s.slice(this.i));
      const plain = /^\\x([0-9A-Fa-f]{2})/.exec(s.slice(this.i));
      const m = braced ?? plain;
      if (m === null) throw new Re2SyntaxError('invalid escape sequence \\x (use \\xHH or \\x{HHHH})');
      const cp = parseInt(m[1]!, 16);
      if (cp > 0x10ffff) throw new Re2SyntaxError(`invalid escape sequence ${m[0]}`);
      this.i += m[0].length;
      return cp;
    }
    const cp = s.codePointAt(this.i + 1)!;
    if (cp < 128 && !/[A-Za-z0-9]/.test(d)) {
      this.i += 2;
      return cp;
    }
    throw new Re2SyntaxError(`invalid escape sequence \\${String.fromCodePoint(cp)}`);
  }

  /** A bracket class at `this.i`. */
  private cls(): void {
    const s = this.src;
    this.i++;
    let out = '[';
    if (s[this.i] === '^') {
      out += '^';
      this.i++;
    }
    const ranges: [number, number][] = [];
    let raw = '';
    let first = true;
    for (;;) {
      if (this.i >= s.length) throw new Re2SyntaxError('missing closing ] in character class');
      const c = s[this.i]!;
      if (c === ']' && !first) {
        this.i++;
        break;
      }
      first = false;
      if (c === '[' && s[this.i + 1] === ':') {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(s.slice(this.i));
        if (m !== null) {
          const body = POSIX[m[2]!];
          if (body === undefined) throw new Re2SyntaxError(`invalid character class range [:${m[2]}:]`);
          if (m[1] === '^') throw new Re2SyntaxError(`negated POSIX class [:^${m[2]}:] inside a class is not supported; write the class negated instead`);
          raw += body;
          if (this.flags.i && (m[2] === 'lower' || m[2] === 'upper')) raw += 'A-Za-z';
          this.i += m[0].length;
          continue;
        }
      }
      let lo: number;
      if (c === '\\') {
        const d = s[this.i + 1];
        if (d === undefined) throw new Re2SyntaxError('missing closing ] in character class');
        if ('dDwW'.includes(d)) {
          raw += `\\${d}`;
          this.i += 2;
          continue;
        }
        if (d === 's') {
          raw += '\\t\\n\\f\\r ';
          this.i += 2;
          continue;
        }
        if (d === 'S') {
          // Not expressible as members of a positive class without `v`; JavaScript's \S is close.
          raw += '\\S';
          this.i += 2;
          continue;
        }
        if (d === 'p' || d === 'P') {
          const u = this.unicodeClass();
          if (u.startsWith('[')) raw += u === '[\\s\\S]' ? '\\s\\S' : '';
          else raw += u;
          continue;
        }
        lo = this.escapedChar();
      } else {
        lo = s.codePointAt(this.i)!;
        this.i += lo > 0xffff ? 2 : 1;
      }
      let hi = lo;
      if (s[this.i] === '-' && s[this.i + 1] !== undefined && s[this.i + 1] !== ']') {
        this.i++;
        if (s[this.i] === '\\') hi = this.escapedChar();
        else {
          hi = s.codePointAt(this.i)!;
          this.i += hi > 0xffff ? 2 : 1;
        }
        if (hi < lo) throw new Re2SyntaxError(`invalid character class range ${String.fromCodePoint(lo)}-${String.fromCodePoint(hi)}`);
      }
      ranges.push([lo, hi]);
    }
    if (this.flags.i) {
      for (const [lo, hi] of [...ranges]) {
        // The part of the range inside a-z gets its A-Z twin, and the other way round.
        const a = Math.max(lo, 97);
        const b = Math.min(hi, 122);
        if (a <= b) ranges.push([a - 32, b - 32]);
        const c = Math.max(lo, 65);
        const e = Math.min(hi, 90);
        if (c <= e) ranges.push([c + 32, e + 32]);
      }
    }
    for (const [lo, hi] of ranges) {
      if (lo > 0xffff || hi > 0xffff) this.needU = true;
      out += lo === hi ? hex(lo) : `${hex(lo)}-${hex(hi)}`;
    }
    this.out += `${out}${raw}]`;
  }
}
