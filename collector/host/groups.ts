/**
 * Process groups: which processes are the system under test, which are load injectors.
 * From the command line (`--sut NAME=REGEX`, `--injector NAME=REGEX`, the regex applied to the
 * command line) or from the `host.process_groups` list of redline.yaml, with process-exporter's
 * `comm` / `exe` / `cmdline` matchers. The first group that matches wins.
 */
import path from 'node:path';

export type Role = 'sut' | 'injector' | 'other';
export const ROLES: readonly Role[] = ['sut', 'injector', 'other'];

export interface GroupSpec {
  name: string;
  role: Role;
  /** Exact process names (the kernel's comm, at most 15 characters). */
  comm?: string[];
  /** Executable paths or base names. */
  exe?: string[];
  /** Regexes that must all match the space-joined command line. */
  cmdline?: RegExp[];
}

export interface ProcessIdentity {
  comm: string;
  exe: string | null;
  cmdline: string;
}

export function matches(g: GroupSpec, p: ProcessIdentity): boolean {
  let any = false;
  if (g.comm) {
    any = true;
    if (!g.comm.includes(p.comm)) return false;
  }
  if (g.exe) {
    any = true;
    if (p.exe === null) return false;
    const base = path.basename(p.exe);
    if (!g.exe.some((e) => e === p.exe || e === base)) return false;
  }
  if (g.cmdline) {
    any = true;
    if (!g.cmdline.every((re) => re.test(p.cmdline))) return false;
  }
  return any;
}

const GROUP_NAME = /^[a-zA-Z0-9_.:-]+$/;

/** `api=node server.js` → a group matching that regex on the command line. */
export function parseGroupFlag(value: string, role: Role): GroupSpec {
  const eq = value.indexOf('=');
  const flag = role === 'sut' ? '--sut' : role === 'injector' ? '--injector' : '--group';
  if (eq <= 0) throw new Error(`${flag}: expected NAME=REGEX (e.g. ${flag} api='node server.js'), got ${JSON.stringify(value)}`);
  const name = value.slice(0, eq);
  const pattern = value.slice(eq + 1);
  if (!GROUP_NAME.test(name)) throw new Error(`${flag}: group name ${JSON.stringify(name)} may only hold letters, digits, _ . : -`);
  if (pattern === '') throw new Error(`${flag} ${name}: the pattern is empty`);
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch (err) {
    throw new Error(`${flag} ${name}: invalid regex ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
  return { name, role, cmdline: [re] };
}

export interface HostFileOptions {
  groups?: GroupSpec[];
}

/**
 * The `host:` section of redline.yaml. Only `process_groups` is read here; `interval`,
 * `per_process` and `enabled` are ordinary settings handled with the flags.
 */
export function parseHostConfig(node: unknown, file: string): HostFileOptions {
  if (node === null || node === undefined) return {};
  if (typeof node !== 'object' || Array.isArray(node)) throw new Error(`${file}: host must be a mapping`);
  const section = node as Record<string, unknown>;
  const list = section['process_groups'] ?? section['process-groups'];
  if (list === undefined) return {};
  if (!Array.isArray(list)) throw new Error(`${file}: host.process_groups must be a list`);
  const groups = list.map((item, i) => {
    const where = `${file}: host.process_groups[${i}]`;
    if (typeof item !== 'object' || item === null) throw new Error(`${where} must be a mapping`);
    const g = item as Record<string, unknown>;
    for (const k of Object.keys(g)) {
      if (!['name', 'role', 'comm', 'exe', 'cmdline'].includes(k)) throw new Error(`${where}: unknown key ${JSON.stringify(k)} (name, role, comm, exe, cmdline)`);
    }
    const name = g['name'];
    if (typeof name !== 'string' || !GROUP_NAME.test(name)) throw new Error(`${where}: name must be letters, digits, _ . : -`);
    const role = (g['role'] ?? 'other') as Role;
    if (!ROLES.includes(role)) throw new Error(`${where} (${name}): role must be sut, injector or other`);
    const strings = (key: string): string[] | undefined => {
      const v = g[key];
      if (v === undefined) return undefined;
      const arr = Array.isArray(v) ? v : [v];
      if (!arr.every((x) => typeof x === 'string')) throw new Error(`${where} (${name}): ${key} must be a string or a list of strings`);
      return arr as string[];
    };
    const spec: GroupSpec = { name, role };
    const comm = strings('comm');
    const exe = strings('exe');
    const cmdline = strings('cmdline');
    if (comm) spec.comm = comm;
    if (exe) spec.exe = exe;
    if (cmdline) {
      spec.cmdline = cmdline.map((p) => {
        try {
          return new RegExp(p);
        } catch (err) {
          throw new Error(`${where} (${name}): invalid cmdline regex ${JSON.stringify(p)}: ${(err as Error).message}`);
        }
      });
    }
    if (!comm && !exe && !cmdline) throw new Error(`${where} (${name}): give at least one of comm, exe, cmdline`);
    return spec;
  });
  return { groups };
}
