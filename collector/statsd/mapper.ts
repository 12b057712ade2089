/**
 * The mapping matcher: a statsd name and kind in, a Prometheus name, labels and observer options
 * out. Rules come from statsd_exporter's mapping file (mapper/file.ts reads it).
 *
 * As statsd_exporter: glob rules are tried before regex rules whatever their order in the file;
 * the first matching glob in file order wins unless `defaults.glob_disable_ordering` (then the
 * most specific, segment by segment, see mapper/glob.ts); regexes are Go RE2 syntax
 * (mapper/re2.ts), searched in the full name, first match wins.
 *
 * A regex rule costs time linear in the name whatever the pattern: re2js (an RE2 port) decides
 * whether it matches; captures, when the rule's name or labels use them, come from V8's RegExp
 * for names up to SHORT_NAME characters (fast, and bounded there) and from re2js up to
 * `regexNameMaxLength`. A longer name that matches such a rule is refused (`too_long`, counted):
 * its captures alone would cost ~1.5 µs a character. Measured in bench/hostile.ts.
 *
 * Differences, each on purpose: a glob `*` may sit inside a segment (`api_*`,
 * statsd_exporter#481); `$0` is the whole name in globs too (#444); `$1_total` is capture 1 +
 * `_total` (see mapper/template.ts).
 *
 * `map` never throws.
 */
import fs from 'node:fs';
import { escapeMetricName } from '../../core/labels.js';
import { DEFAULT_BUCKETS } from '../../core/store.js';
import { DEFAULT_SUMMARY_OPTIONS } from '../../core/summary.js';
import { GlobIndex, globGraph } from './mapper/glob.js';
import { readMappingYaml } from './mapper/file.js';
import { DEFAULT_REGEX_NAME_MAX_LENGTH, MappingConfigError, unmatchedResult, type MapResult, type MapperOptions, type Rule, type StatsdKind } from './mapper/rule.js';

export { DEFAULT_REGEX_NAME_MAX_LENGTH, MappingConfigError } from './mapper/rule.js';
export type { MapResult, MapperOptions, ObserverType, StatsdKind } from './mapper/rule.js';
export { parseGoDuration } from './mapper/file.js';

export class Mapper {
  readonly ruleCount: number;
  /** Problems that do not stop loading (a reference to a capture that does not exist, a shadowed rule), as `file:line: message`. */
  readonly warnings: readonly string[];
  private readonly globs: GlobIndex<Rule> | null;
  private readonly globRules: readonly Rule[];
  private readonly regexes: readonly Rule[];
  private readonly unmatched: Omit<MapResult, 'name'>;
  private readonly regexNameMaxLength: number;

  private constructor(rules: readonly Rule[], orderingDisabled: boolean, unmatched: Omit<MapResult, 'name'>, warnings: string[], opts: MapperOptions) {
    this.ruleCount = rules.length;
    const max = opts.regexNameMaxLength ?? DEFAULT_REGEX_NAME_MAX_LENGTH;
    this.regexNameMaxLength = max > 0 ? max : Infinity;
    this.warnings = warnings;
    const globs = rules.filter((r) => r.glob);
    this.globRules = globs;
    this.globs = globs.length > 0 ? new GlobIndex(globs, !orderingDisabled) : null;
    this.regexes = rules.filter((r) => !r.glob);
    this.unmatched = unmatched;
  }

  /** No rules: names are escaped, observers get the global defaults. */
  static empty(opts: MapperOptions = {}): Mapper {
    return new Mapper([], false, unmatchedResult(opts.defaultObserverType ?? 'histogram', opts.defaultBuckets ?? DEFAULT_BUCKETS, DEFAULT_SUMMARY_OPTIONS, 0), [], opts);
  }

  /** Reads a mapping file; throws MappingConfigError. */
  static fromFile(file: string, opts: MapperOptions = {}): Mapper {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new MappingConfigError(file, undefined, `cannot read the mapping file: ${(err as Error).message}`);
    }
    return Mapper.fromYaml(text, file, opts);
  }

  /** Parses mapping YAML; `file` is only used in messages. Throws MappingConfigError. */
  static fromYaml(text: string, file: string, opts: MapperOptions = {}): Mapper {
    const f = readMappingYaml(text, file, opts);
    return new Mapper(f.rules, f.orderingDisabled, f.unmatched, f.warnings, opts);
  }

  /** The glob rules as a Graphviz graph, as statsd_exporter's `--debug.dump-fsm` writes its FSM. */
  globGraph(): string {
    return globGraph(this.globRules);
  }

  map(name: string, kind: StatsdKind): MapResult {
    try {
      if (this.globs !== null) {
        const segments = name.split('.');
        const r = this.globs.find(segments, kind);
        if (r !== null) {
          const captures = r.needsCaptures ? globCaptures(r, name, segments) : null;
          if (captures !== null || !r.needsCaptures) return this.result(r, captures ?? NO_CAPTURES, undefined);
        }
      }
      for (const r of this.regexes) {
        if (r.kind !== null && r.kind !== kind) continue;
        if (!r.linear!.test(name)) continue;
        if (!r.needsCaptures || r.base.action === 'drop') return this.result(r, NO_CAPTURES, undefined);
        if (name.length > this.regexNameMaxLength) return this.tooLong();
        const m: RegExpExecArray | null = name.length <= SHORT_NAME ? r.regex!.exec(name) : (r.linear!.exec(name) as RegExpExecArray | null);
        // null only where the translated RegExp and RE2 disagree (non-ASCII case folding): no match.
        if (m !== null) return this.result(r, m, m.groups);
      }
    } catch {
      // Never reached with a valid rule set; a name must not stop ingestion either way.
    }
    const u = this.unmatched;
    return {
      action: u.action,
      name: escapeMetricName(name),
      labels: {},
      honorLabels: u.honorLabels,
      observerType: u.observerType,
      buckets: u.buckets,
      native: u.native,
      summary: u.summary,
      ttlMs: u.ttlMs,
      scale: u.scale,
      help: u.help,
      matched: false,
    };
  }

  /** A regex rule matched a name too long to compute its captures for: refused, counted by the ingest. */
  private tooLong(): MapResult {
    const u = this.unmatched;
    return {
      action: 'too_long',
      name: '',
      labels: {},
      honorLabels: u.honorLabels,
      observerType: u.observerType,
      buckets: u.buckets,
      native: u.native,
      summary: u.summary,
      ttlMs: u.ttlMs,
      scale: u.scale,
      help: u.help,
      matched: true,
    };
  }

  private result(r: Rule, m: ArrayLike<string | undefined>, groups: Record<string, string> | undefined): MapResult {
    const labels: Record<string, string> = {};
    for (let k = 0; k < r.labels.length; k++) {
      const [key, t] = r.labels[k]!;
      labels[key] = t.expand(m, groups);
    }
    const name = escapeMetricName(r.name.expand(m, groups));
    const b = r.base;
    return {
      // statsd_exporter drops (and counts) events whose mapped name is empty.
      action: name === '' ? 'drop' : b.action,
      name,
      labels,
      honorLabels: b.honorLabels,
      observerType: b.observerType,
      buckets: b.buckets,
      native: b.native,
      summary: b.summary,
      ttlMs: b.ttlMs,
      scale: b.scale,
      help: b.help,
      matched: true,
    };
  }
}

const NO_CAPTURES: readonly string[] = [];

/**
 * Names up to this long get a regex rule's captures from V8's RegExp: ~0.1–1 µs for an ordinary
 * name where re2js takes 2–20 µs, and at most ~0.25 ms for a hostile one (V8 switches to its
 * linear-time engine after 1,000 backtracks, ~1 µs a character). Longer ones use re2js (its
 * bit-state backtracker up to a few KiB: ~0.1–0.2 µs a character). bench/hostile.ts.
 */
const SHORT_NAME = 256;

/**
 * Captures of a glob that matched, straight from the segments: a `*` segment is its own capture,
 * a partial one (`api_*`) runs its small regex. Cheaper than one regex over the whole name.
 */
function globCaptures(r: Rule, name: string, segments: readonly string[]): string[] | null {
  const out = [name];
  for (let i = 0; i < segments.length; i++) {
    const plan = r.capturePlan[i];
    if (plan === true) out.push(segments[i]!);
    else if (plan instanceof RegExp) {
      const m = plan.exec(segments[i]!);
      if (m === null) return null;
      for (let k = 1; k < m.length; k++) out.push(m[k] ?? '');
    }
  }
  return out;
}

