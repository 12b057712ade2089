/**
 * Every relative link and image in the README and the docs resolves: the file or folder exists,
 * and a `#fragment` names a heading of the Markdown page it points to (GitHub's anchors).
 * External links are not fetched (no network in tests).
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers/agent.js';

/** README.md, docs/, bench/, presets/ and examples/ pages, as a reader of the repository finds them. */
function markdownFiles(): string[] {
  const out = ['README.md'];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.posix.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.md')) out.push(rel);
    }
  };
  for (const dir of ['docs', 'bench', 'presets', 'examples']) if (fs.existsSync(path.join(ROOT, dir))) walk(dir);
  return out;
}

/** The page's lines outside fenced code blocks, with inline code blanked (links there are examples). */
function prose(text: string): string[] {
  const lines: string[] = [];
  let fence: string | null = null;
  for (const line of text.split('\n')) {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (m !== null) {
      if (fence === null) fence = m[1]!;
      else if (m[1]!.startsWith(fence)) fence = null;
      lines.push('');
      continue;
    }
    lines.push(fence === null ? line.replace(/`[^`]*`/g, (c) => ' '.repeat(c.length)) : '');
  }
  return lines;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes, repeats numbered. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fence = false;
  for (const line of text.split('\n')) {
    if (/^\s*(`{3,}|~{3,})/.test(line)) fence = !fence;
    const h = fence ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h === null) continue;
    const base = h[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

interface Link {
  line: number;
  target: string;
}

function links(text: string): Link[] {
  const out: Link[] = [];
  prose(text).forEach((line, i) => {
    // [text](target "title") and ![alt](target); reference definitions [x]: target; <a href>, <img src>.
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ line: i + 1, target: m[1]! });
    for (const m of line.matchAll(/^\s*\[[^\]]+\]:\s+<?(\S+?)>?(?:\s|$)/g)) out.push({ line: i + 1, target: m[1]! });
    for (const m of line.matchAll(/<(?:a|img)\s[^>]*?(?:href|src)="([^"]+)"/g)) out.push({ line: i + 1, target: m[1]! });
  });
  return out;
}

/** What is wrong with one link of `file` (relative to ROOT), or null when it resolves. */
function broken(file: string, target: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null; // http:, https:, mailto:
  const [rawPath, fragment] = target.split('#', 2) as [string, string | undefined];
  const rel = decodeURIComponent(rawPath);
  const abs = rel === '' ? path.join(ROOT, file) : path.resolve(path.dirname(path.join(ROOT, file)), rel);
  if (!abs.startsWith(ROOT + path.sep) && abs !== ROOT) return 'points outside the repository';
  if (!fs.existsSync(abs)) return 'no such file or folder';
  if (fragment === undefined || fragment === '') return null;
  if (!abs.endsWith('.md')) return null; // a line anchor in a source file (#L10) is GitHub's, not ours
  if (!anchors(fs.readFileSync(abs, 'utf8')).has(fragment)) return `no heading #${fragment} in ${path.relative(ROOT, abs)}`;
  return null;
}

describe('links in the README and the docs', () => {
  const files = markdownFiles();

  it('finds the pages and their links (a parser that finds none would pass anything)', () => {
    expect(files).toContain('README.md');
    expect(files).toContain('docs/analysis.md');
    const readme = links(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')).map((l) => l.target);
    expect(readme).toContain('docs/img/report.png');
    expect(readme).toContain('docs/opentelemetry.md#more-than-one-host');
  });

  it('computes anchors as GitHub does', () => {
    const a = anchors('# The demo\n## `redline report`\n## Flags, and more\n```\n# not a heading\n```\n## Flags, and more\n');
    expect([...a]).toEqual(['the-demo', 'redline-report', 'flags-and-more', 'flags-and-more-1']);
  });

  it('reports a missing file and a missing heading', () => {
    expect(broken('README.md', 'docs/nope.md')).toBe('no such file or folder');
    expect(broken('README.md', 'docs/analysis.md#no-such-heading')).toMatch(/no heading/);
    expect(broken('README.md', 'docs/analysis.md')).toBeNull();
    expect(broken('docs/demo.md', '../README.md#quick-start')).toBeNull();
  });

  for (const file of files) {
    it(`${file}: every relative link resolves`, () => {
      const bad = links(fs.readFileSync(path.join(ROOT, file), 'utf8'))
        .map((l) => ({ ...l, why: broken(file, l.target) }))
        .filter((l) => l.why !== null)
        .map((l) => `${file}:${l.line}: ${l.target}: ${l.why}`);
      expect(bad).toEqual([]);
    });
  }
});
