/**
 * Process groups: which processes are the system under test, which are load injectors.
 * From the command line (`--sut NAME=REGEX`, `--injector NAME=REGEX`, the regex applied to the
 * command line) or from the `host.process_groups` list of redline.yaml (read in agent/settings.ts),
 * with process-exporter's `comm` / `exe` / `cmdline` matchers. The first group that matches wins.
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

/** What a group name may hold (it becomes a label value and a flag argument). */
export const GROUP_NAME = /^[a-zA-Z0-9_.:-]+$/;

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
