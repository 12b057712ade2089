/**
 * OTLP mapping rules: rename chosen OTLP metrics onto Redline's names (a load tool's
 * `http_req_duration` in ms onto `loadtest_request_duration_seconds`), the way a statsd mapping
 * file does for statsd names. Metrics no rule matches keep the Prometheus translation
 * (names.ts). The first matching rule decides.
 *
 * ```yaml
 * drop_attributes: [url]            # attributes never turned into labels (every rule)
 * otlp_mappings:
 *   - match: http_req_*             # OTLP metric name; `*` matches any run, captured as $1, $2…
 *     attributes: { condition: nonzero }   # only points with these attributes (not kept as labels)
 *     name: loadtest_request_phase_seconds # the Prometheus name, used as written
 *     labels: { phase: $1 }         # labels to add
 *     convert: seconds              # seconds or bytes: scale values by the metric's OTLP unit
 *     buckets: [0.005, 0.01, 0.1]   # histograms: serve these bounds (exact where the sender's agree)
 *     continue: true                # also apply the later rules (or the plain translation) to it
 *   - match: k6_internal_*
 *     action: drop
 * ```
 */
import fs from 'node:fs';
import { parseDocument, LineCounter, isMap, isSeq, isScalar, type Node as YamlNode } from 'yaml';
import { isValidLabelName, isValidMetricName } from '../../core/labels.js';

export interface OtlpRule {
  readonly pattern: RegExp;
  readonly attributes: readonly (readonly [string, string])[];
  /** Target name with `$n` placeholders, or null to keep the translated name. */
  readonly name: string | null;
  readonly labels: readonly (readonly [string, string])[];
  readonly convert: 'seconds' | 'bytes' | null;
  /** Histogram bounds to serve (after `convert`); points on other bounds are moved onto them. */
  readonly buckets: readonly number[] | null;
  readonly drop: boolean;
  /** The point also goes on to the later rules, and to the plain translation if none matches. */
  readonly continue: boolean;
}

export interface RuleMatch {
  /** null: the plain Prometheus translation. */
  rule: OtlpRule | null;
  /** The target name with captures filled in (null: keep the translated name). */
  name: string | null;
  labels: readonly (readonly [string, string])[];
}

/** Value scale `[multiply, divide]` from an OTLP unit to the base unit; division keeps ms → s exact. */
const TO_SECONDS: Readonly<Record<string, readonly [number, number]>> = {
  ns: [1, 1e9],
  us: [1, 1e6],
  ms: [1, 1e3],
  s: [1, 1],
  min: [60, 1],
  h: [3600, 1],
  d: [86400, 1],
};
const TO_BYTES: Readonly<Record<string, readonly [number, number]>> = {
  By: [1, 1],
  KiBy: [1024, 1],
  MiBy: [1024 ** 2, 1],
  GiBy: [1024 ** 3, 1],
  TiBy: [1024 ** 4, 1],
  KBy: [1e3, 1],
  MBy: [1e6, 1],
  GBy: [1e9, 1],
  TBy: [1e12, 1],
};

/** The scale for `convert` given the metric's unit; a unit it does not know leaves values as sent. */
export function unitScale(convert: OtlpRule['convert'], unit: string): readonly [number, number] {
  if (convert === 'seconds') return TO_SECONDS[unit] ?? [1, 1];
  if (convert === 'bytes') return TO_BYTES[unit] ?? [1, 1];
  return [1, 1];
}

const PLAIN: RuleMatch = { rule: null, name: null, labels: [] };

export class OtlpMapping {
  constructor(
    readonly rules: readonly OtlpRule[],
    readonly dropAttributes: ReadonlySet<string>,
  ) {}

  static empty(): OtlpMapping {
    return new OtlpMapping([], new Set());
  }

  /** Several files in order (the user's first): their rules in turn, every file's dropped attributes. */
  static chain(mappings: readonly OtlpMapping[]): OtlpMapping {
    return new OtlpMapping(
      mappings.flatMap((m) => [...m.rules]),
      new Set(mappings.flatMap((m) => [...m.dropAttributes])),
    );
  }

  static fromFile(file: string): OtlpMapping {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`${file}: cannot read: ${(err as Error).message}`);
    }
    return OtlpMapping.fromYaml(text, file);
  }

  static fromYaml(text: string, file: string): OtlpMapping {
    const lc = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
    const fail = (node: unknown, msg: string): never => {
      const r = (node as YamlNode | null)?.range;
      throw new Error(`${file}:${r ? lc.linePos(r[0]).line : 1}: ${msg}`);
    };
    if (doc.errors.length > 0) fail(null, doc.errors[0]!.message.split('\n')[0]!);
    const top = doc.contents;
    if (!isMap(top)) return fail(top, 'expected a mapping with otlp_mappings');
    const rules: OtlpRule[] = [];
    const dropAttributes = new Set<string>();
    for (const pair of top.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (key === 'drop_attributes') {
        if (!isSeq(pair.value)) fail(pair.value, 'drop_attributes: expected a list');
        for (const it of (pair.value as { items: unknown[] }).items) dropAttributes.add(String(isScalar(it) ? it.value : it));
      } else if (key === 'otlp_mappings') {
        if (!isSeq(pair.value)) fail(pair.value, 'otlp_mappings: expected a list');
        for (const item of (pair.value as { items: unknown[] }).items) rules.push(parseRule(item, fail));
      } else {
        fail(pair.key, `unknown key ${JSON.stringify(key)} (expected otlp_mappings, drop_attributes)`);
      }
    }
    return new OtlpMapping(rules, dropAttributes);
  }

  /**
   * What becomes of a point of this metric: the first rule whose name pattern and attribute
   * filter it passes, then the following ones while rules say `continue`, and the plain
   * translation when the last one said `continue` or none matched. Empty: a drop rule took it.
   */
  targets(name: string, attr: (key: string) => string | undefined): RuleMatch[] {
    const out: RuleMatch[] = [];
    for (const rule of this.rules) {
      const m = rule.pattern.exec(name);
      if (m === null) continue;
      if (!rule.attributes.every(([k, v]) => attr(k) === v)) continue;
      if (rule.drop) return out;
      const fill = (s: string): string => s.replace(/\$(\d)/g, (_, d: string) => m[Number(d)] ?? '');
      out.push({
        rule,
        name: rule.name === null ? null : fill(rule.name),
        labels: rule.labels.map(([k, v]) => [k, fill(v)] as const),
      });
      if (!rule.continue) return out;
    }
    out.push(PLAIN);
    return out;
  }
}

function parseRule(node: unknown, fail: (node: unknown, msg: string) => never): OtlpRule {
  if (!isMap(node)) return fail(node, 'a rule must be a mapping');
  const get = (k: string): YamlNode | undefined => node.items.find((p) => isScalar(p.key) && p.key.value === k)?.value as YamlNode | undefined;
  for (const p of node.items) {
    const k = isScalar(p.key) ? String(p.key.value) : '';
    if (!['match', 'attributes', 'name', 'labels', 'convert', 'buckets', 'action', 'continue'].includes(k)) fail(p.key, `unknown rule key ${JSON.stringify(k)}`);
  }
  const scalar = (n: YamlNode | undefined): string | null => (n === undefined || n === null ? null : isScalar(n) ? String(n.value) : fail(n, 'expected a value'));
  const pairs = (n: YamlNode | undefined, what: string): [string, string][] => {
    if (n === undefined || n === null) return [];
    if (!isMap(n)) return fail(n, `${what}: expected a mapping`);
    return n.items.map((p) => [String(isScalar(p.key) ? p.key.value : ''), scalar(p.value as YamlNode) ?? ''] as [string, string]);
  };
  const match = scalar(get('match'));
  if (match === null || match === '') return fail(node, 'a rule needs match');
  const pattern = new RegExp(`^${match.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('(.*?)')}$`);
  const action = scalar(get('action')) ?? 'map';
  if (action !== 'map' && action !== 'drop') fail(get('action'), `action: expected map or drop, got ${JSON.stringify(action)}`);
  const name = scalar(get('name'));
  if (name !== null && !isValidMetricName(name.replace(/\$\d/g, 'x'))) fail(get('name'), `name: ${JSON.stringify(name)} is not a valid metric name`);
  const labels = pairs(get('labels'), 'labels');
  for (const [k] of labels) if (!isValidLabelName(k)) fail(get('labels'), `labels: ${JSON.stringify(k)} is not a valid label name`);
  const bucketsNode = get('buckets');
  let buckets: number[] | null = null;
  if (bucketsNode !== undefined && bucketsNode !== null) {
    if (!isSeq(bucketsNode)) return fail(bucketsNode, 'buckets: expected a list of numbers');
    buckets = bucketsNode.items.map((it) => Number(isScalar(it) ? it.value : NaN));
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets![i - 1]!))) {
      fail(bucketsNode, 'buckets: expected finite, increasing numbers');
    }
  }
  const cont = scalar(get('continue')) ?? 'false';
  if (cont !== 'true' && cont !== 'false') fail(get('continue'), `continue: expected true or false, got ${JSON.stringify(cont)}`);
  const convert = scalar(get('convert'));
  if (convert !== null && convert !== 'seconds' && convert !== 'bytes') fail(get('convert'), `convert: expected seconds or bytes, got ${JSON.stringify(convert)}`);
  return {
    pattern,
    attributes: pairs(get('attributes'), 'attributes'),
    name,
    labels,
    convert: convert as OtlpRule['convert'],
    buckets,
    drop: action === 'drop',
    continue: cont === 'true',
  };
}
