/**
 * Every `npx redline …` command the README, docs/ and the recipes show is one the CLI accepts:
 * the agent's flags, values and presets through the parser `redline` uses (agent/settings.ts),
 * `redline demo …` and `redline report …` through theirs. A flag renamed in --help and not in the
 * docs fails here. SHOW_COMMANDS=1 lists what was found.
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers/agent.js';
import { loadSettings } from '../agent/settings.js';
import { parseDemoArgs } from '../demo/run.js';
import { parseReportArgs } from '../exporters/report/cli.js';

const PAGES = ['README.md', ...['docs', 'examples'].flatMap((d) => walk(d))];

function walk(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.posix.join(dir, e.name);
    return e.isDirectory() ? walk(rel) : e.name.endsWith('.md') ? [rel] : [];
  });
}

/** Shell words of one command: '…' and "…" quoting, backslash escapes outside single quotes. */
function words(cmd: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i]!;
    if (c === "'") {
      const j = cmd.indexOf("'", i + 1);
      cur += cmd.slice(i + 1, j < 0 ? undefined : j);
      i = j < 0 ? cmd.length : j;
      has = true;
    } else if (c === '"') {
      let j = i + 1;
      while (j < cmd.length && cmd[j] !== '"') {
        if (cmd[j] === '\\' && j + 1 < cmd.length) j++;
        cur += cmd[j];
        j++;
      }
      i = j;
      has = true;
    } else if (c === '\\' && i + 1 < cmd.length) {
      cur += cmd[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

interface Command {
  where: string;
  argv: string[];
}

/** `npx redline …` in shell code blocks (continued lines joined) and in inline code, up to a shell operator or comment. */
function commands(page: string): Command[] {
  const text = fs.readFileSync(path.join(ROOT, page), 'utf8');
  const found: Array<{ line: number; cmd: string }> = [];
  let fence: string | null = null;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const f = /^\s*(`{3,})(\w*)/.exec(line);
    if (f !== null) {
      fence = fence === null ? (f[2] === '' || f[2] === 'sh' || f[2] === 'bash' ? 'sh' : 'other') : null;
      continue;
    }
    if (fence === 'sh') {
      let cmd = line;
      const at = i + 1;
      while (cmd.endsWith('\\') && i + 1 < lines.length) cmd = cmd.slice(0, -1) + ' ' + lines[++i]!;
      for (const m of cmd.matchAll(/(?:^|[\s;&|(])npx redline((?:\s+[^\s#&|;>)][^\s&|;>)]*|\s+'[^']*')*)/g)) found.push({ line: at, cmd: m[1]! });
    } else if (fence === null) {
      for (const m of line.matchAll(/`npx redline([^`]*)`/g)) found.push({ line: i + 1, cmd: m[1]! });
    }
  }
  return found
    .map(({ line, cmd }) => ({ where: `${page}:${line}`, argv: words(cmd.replace(/\s#.*$/, '').replace(/\s[&|;>].*$/, '')) }))
    .filter((c) => !c.argv.some((w) => w.includes('…') || /<[a-z]+>/.test(w)));
}

/** Why the CLI would refuse `redline argv`, or null when it accepts it. */
function refused(argv: string[]): string | null {
  try {
    const [sub, ...rest] = argv;
    if (sub === 'demo') parseDemoArgs(rest);
    else if (sub === 'report') parseReportArgs(rest);
    else if (sub === 'probe-path') {
      if (rest.length > 0) return 'probe-path takes no arguments';
    } else {
      loadSettings(argv); // also refuses a --preset that presets/ does not ship
    }
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

describe('npx redline commands in the README, docs and recipes', () => {
  const all = PAGES.flatMap(commands);

  it('finds the commands (a reader that finds none would pass anything)', () => {
    const readme = all.filter((c) => c.where.startsWith('README.md:')).map((c) => c.argv.join(' '));
    expect(readme).toContain("--preset locust --sut api=node .*[s]erver[.]js --injector locust=[l]ocust -f");
    expect(readme).toContain('report --json --fail-on sut,injector');
    expect(readme).toContain('demo --keep');
    expect(all.some((c) => c.argv[0] === 'demo')).toBe(true);
    expect(all.filter((c) => c.where.startsWith('examples/')).length).toBeGreaterThan(4);
  });

  it('splits shell words as sh does', () => {
    expect(words(`--sut api='node .*server\\.js' --x="a \\"b\\"" c\\ d`)).toEqual(['--sut', 'api=node .*server\\.js', '--x=a "b"', 'c d']);
  });

  it('refuses what the CLI refuses', () => {
    expect(refused(['--statsd.listen-udpp=:1'])).not.toBeNull();
    expect(refused(['--preset', 'nope'])).toMatch(/unknown preset/);
    expect(refused(['demo', '--bottleneck', 'disk'])).not.toBeNull();
    expect(refused(['report', '--fail-on', 'sometimes'])).not.toBeNull();
    expect(refused(['--preset', 'k6', '--sut', 'api=node'])).toBeNull();
  });

  it('every one is accepted by the CLI as written', () => {
    if (process.env['SHOW_COMMANDS']) for (const c of all) process.stdout.write(`${c.where}: ${JSON.stringify(c.argv)}\n`);
    const bad = all.map((c) => ({ ...c, why: refused(c.argv) })).filter((c) => c.why !== null);
    expect(bad.map((c) => `${c.where}: npx redline ${c.argv.join(' ')}: ${c.why}`)).toEqual([]);
  });
});
