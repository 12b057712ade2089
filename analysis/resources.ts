/**
 * User-declared resources: pools the service itself knows the size of (a database connection
 * pool, ArangoDB's V8 contexts, a worker queue), fed over statsd. Two ways to declare one:
 *
 * - the convention: gauges `redline_pool_in_use` and `redline_pool_limit`, tagged `pool:<name>`
 *   and, to name the group, the probe's `service` (or a `pid` the host collector knows, or a
 *   `group`); nothing to configure;
 * - a `resources:` list in the YAML configuration, naming an in-use and a limit series (any names
 *   the mapping produces), or a fixed limit.
 */
import { isMap, isScalar, isSeq, type LineCounter, type Node as YamlNode } from 'yaml';

export interface ResourceSelector {
  name: string;
  /** Every label listed must match exactly. */
  labels: Readonly<Record<string, string>>;
}

export interface DeclaredResource {
  /** Becomes `resource="pool:<name>"`. */
  name: string;
  group: string;
  role: 'sut' | 'injector';
  inUse: ResourceSelector;
  limit: ResourceSelector | number;
}

const SELECTOR = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$/;
const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*$/;

/** Parses `name` or `name{label="value",…}`; throws with `where` on a bad selector. */
export function parseSelector(text: string, where: string): ResourceSelector {
  const m = SELECTOR.exec(text.trim());
  if (!m) throw new Error(`${where}: ${JSON.stringify(text)} is not a series selector (name or name{label="value"})`);
  const labels: Record<string, string> = {};
  if (m[2] !== undefined && m[2].trim() !== '') {
    for (const part of m[2].split(',')) {
      const lm = MATCHER.exec(part);
      if (!lm) throw new Error(`${where}: ${JSON.stringify(part.trim())} is not label="value"`);
      labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, '$1');
    }
  }
  return { name: m[1]!, labels };
}

const KEYS = ['name', 'group', 'role', 'in_use', 'limit'];

/**
 * Reads the `resources:` section of the configuration file. `node` is the section's YAML node;
 * every error names the file and line.
 */
export function parseResources(node: YamlNode | null | undefined, file: string, lines: LineCounter): DeclaredResource[] {
  if (node === null || node === undefined) return [];
  const at = (n: YamlNode | null | undefined): string => {
    const pos = n?.range ? lines.linePos(n.range[0]) : undefined;
    return pos ? `${file}:${pos.line}` : file;
  };
  if (!isSeq(node)) throw new Error(`${at(node)}: resources: expected a list`);
  const out: DeclaredResource[] = [];
  for (const item of node.items) {
    const n = item as YamlNode;
    if (!isMap(n)) throw new Error(`${at(n)}: resources: each entry is a map with name, group, in_use and limit`);
    const get = (k: string): YamlNode | undefined => n.items.find((p) => isScalar(p.key) && p.key.value === k)?.value as YamlNode | undefined;
    for (const p of n.items) {
      const k = isScalar(p.key) ? String(p.key.value) : '?';
      if (!KEYS.includes(k)) throw new Error(`${at(p.key as YamlNode)}: resources: unknown key ${JSON.stringify(k)} (known: ${KEYS.join(', ')})`);
    }
    const str = (k: string, required: boolean): string | undefined => {
      const v = get(k);
      if (v === undefined) {
        if (required) throw new Error(`${at(n)}: resources: ${k} is required`);
        return undefined;
      }
      if (!isScalar(v) || (typeof v.value !== 'string' && typeof v.value !== 'number')) throw new Error(`${at(v)}: resources: ${k} must be a string`);
      return String(v.value);
    };
    const name = str('name', true)!;
    if (!/^[a-zA-Z0-9_.-]+$/.test(name)) throw new Error(`${at(get('name'))}: resources: name ${JSON.stringify(name)} may hold only letters, digits, _ . -`);
    const role = str('role', false) ?? 'sut';
    if (role !== 'sut' && role !== 'injector') throw new Error(`${at(get('role'))}: resources: role must be sut or injector, got ${JSON.stringify(role)}`);
    const limitNode = get('limit');
    let limit: ResourceSelector | number;
    if (limitNode !== undefined && isScalar(limitNode) && typeof limitNode.value === 'number') {
      if (!(limitNode.value > 0)) throw new Error(`${at(limitNode)}: resources: a fixed limit must be above 0`);
      limit = limitNode.value;
    } else {
      limit = parseSelector(str('limit', true)!, `${at(limitNode)}: resources: limit`);
    }
    if (out.some((r) => r.name === name)) throw new Error(`${at(get('name'))}: resources: ${JSON.stringify(name)} is declared twice`);
    out.push({ name, group: str('group', true)!, role, inUse: parseSelector(str('in_use', true)!, `${at(get('in_use'))}: resources: in_use`), limit });
  }
  return out;
}
