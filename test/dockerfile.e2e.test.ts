/**
 * The agent image builds from what the Dockerfile copies, without a Docker engine: every stage
 * gets a directory of its own, COPY copies exactly its sources from the build context (minus
 * .dockerignore) or from an earlier stage, and RUN runs there, as written. Only two things
 * differ from `docker build`: `apt-get` lines are skipped (the system packages come from the
 * machine), and `npm ci` is told to prefer the local cache (only npm is reachable). Then the
 * final stage — which holds only what its own COPY lines put there — runs `--help`,
 * `demo --help`, `--preset k6 --check-config`, the compose file's configuration, and a real
 * start that serves /metrics.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './helpers/agent.js';
import { run, start, stopAll } from './helpers/process.js';
import { waitFor } from './helpers/wait.js';

interface Instruction {
  op: string;
  args: string;
  line: number;
}

/** Dockerfile lines: comments dropped, `\` continuations joined, each with its first line. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    const first = i + 1;
    if (line === '' || line.startsWith('#')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + ' ' + lines[++i]!.trim();
    const m = /^(\S+)\s*(.*)$/.exec(line)!;
    out.push({ op: m[1]!.toUpperCase(), args: m[2]!, line: first });
  }
  return out;
}

/** Exec form (`["a", "b"]`) or shell words. */
function words(args: string): string[] {
  const t = args.trim();
  if (t.startsWith('[')) return JSON.parse(t) as string[];
  return t.split(/\s+/).filter((w) => w !== '');
}

/** .dockerignore patterns, relative to the context root (`*` within a segment, `**` across). */
function ignoreMatcher(file: string): (rel: string) => boolean {
  const patterns = fs.existsSync(file)
    ? fs.readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
    : [];
  const res = patterns.map((p) => {
    const body = p.replace(/^\/+|\/+$/g, '').split('**').map((part) => part.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')).join('.*');
    return new RegExp(`^${body}(/.*)?$`);
  });
  return (rel) => res.some((re) => re.test(rel));
}

interface Stage {
  name: string;
  root: string;
  workdir: string;
  env: Record<string, string>;
  entrypoint: string[];
}

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-docker-'));
const STEP_TIMEOUT_MS = 6 * 60_000;
const dockerfile = parseDockerfile(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const ignored = ignoreMatcher(path.join(ROOT, '.dockerignore'));
const stages: Stage[] = [];
const copied: string[] = [];
const skipped: string[] = [];

/** Where a path of a stage's file system is in its directory. */
function inStage(stage: Stage, p: string): string {
  return path.join(stage.root, path.isAbsolute(p) ? p : path.join(stage.workdir, p));
}

function copyTree(from: string, to: string, rel: string | null): void {
  if (rel !== null && ignored(rel)) return;
  const st = fs.statSync(from);
  if (st.isDirectory()) {
    fs.mkdirSync(to, { recursive: true });
    for (const e of fs.readdirSync(from)) copyTree(path.join(from, e), path.join(to, e), rel === null ? null : rel === '' ? e : `${rel}/${e}`);
  } else {
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(from, to);
  }
}

function copy(stage: Stage, args: string, line: number): void {
  const parts = words(args);
  const fromFlag = parts.find((p) => p.startsWith('--from='));
  const rest = parts.filter((p) => !p.startsWith('--'));
  const dest = rest.pop()!;
  const source = fromFlag ? stages.find((s) => s.name === fromFlag.slice('--from='.length)) : undefined;
  if (fromFlag && !source) throw new Error(`Dockerfile:${line}: no stage ${fromFlag}`);
  for (const src of rest) {
    const from = source ? inStage(source, src) : path.join(ROOT, src);
    if (!fs.existsSync(from)) throw new Error(`Dockerfile:${line}: COPY source ${src} does not exist`);
    const into = dest.endsWith('/') || rest.length > 1;
    const to = into && fs.statSync(from).isFile() ? path.join(inStage(stage, dest), path.basename(src)) : inStage(stage, dest);
    // .dockerignore applies to the build context only, not to files of an earlier stage.
    copyTree(from, to, source ? null : path.relative(ROOT, from).split(path.sep).join('/'));
    if (!source) copied.push(src);
  }
}

async function runStep(stage: Stage, command: string, line: number): Promise<void> {
  const steps = command.split('&&').map((s) => s.trim());
  if (steps.every((s) => s.startsWith('apt-get') || s.startsWith('rm -rf /var/lib/apt'))) {
    skipped.push(`Dockerfile:${line}: ${command}`);
    return;
  }
  const sh = steps.map((s) => (/^npm ci\b/.test(s) ? s.replace(/^npm ci\b/, 'npm ci --prefer-offline') : s)).join(' && ');
  const r = await run('/bin/sh', ['-c', sh], {
    cwd: inStage(stage, '.'),
    env: {
      ...stage.env,
      // node-gyp (npm rebuild unix-dgram) uses the headers of the running node instead of downloading them.
      npm_config_nodedir: path.dirname(path.dirname(process.execPath)),
      npm_config_update_notifier: 'false',
    },
    timeoutMs: STEP_TIMEOUT_MS,
  });
  if (r.code !== 0) throw new Error(`Dockerfile:${line}: RUN ${command} failed (${r.code}):\n${r.output.slice(-4000)}`);
}

async function build(): Promise<Stage> {
  for (const ins of dockerfile) {
    const stage = stages[stages.length - 1];
    if (ins.op === 'FROM') {
      const m = /\bAS\s+(\S+)/i.exec(ins.args);
      const name = m?.[1] ?? String(stages.length);
      stages.push({ name, root: path.join(TMP, `stage-${stages.length}-${name}`), workdir: '/', env: {}, entrypoint: [] });
      continue;
    }
    if (!stage) throw new Error(`Dockerfile:${ins.line}: ${ins.op} before FROM`);
    switch (ins.op) {
      case 'WORKDIR':
        stage.workdir = path.posix.resolve(stage.workdir, ins.args.trim());
        fs.mkdirSync(inStage(stage, '.'), { recursive: true });
        break;
      case 'COPY':
        copy(stage, ins.args, ins.line);
        break;
      case 'RUN':
        await runStep(stage, ins.args, ins.line);
        break;
      case 'ENV': {
        const m = /^(\w+)[= ](.*)$/.exec(ins.args.trim());
        if (m) stage.env[m[1]!] = m[2]!;
        break;
      }
      case 'ENTRYPOINT':
        stage.entrypoint = words(ins.args);
        break;
      case 'EXPOSE':
      case 'CMD':
        break;
      default:
        throw new Error(`Dockerfile:${ins.line}: this test does not know ${ins.op}; teach it before using it`);
    }
  }
  return stages[stages.length - 1]!;
}

let image: Stage;
/** Runs the image's ENTRYPOINT with `args`: `node` is this node; absolute paths are in the stage's directory. */
function entrypoint(args: string[]): [string, string[]] {
  const [cmd, ...rest] = image.entrypoint;
  if (cmd !== 'node') throw new Error(`unexpected ENTRYPOINT ${JSON.stringify(image.entrypoint)}`);
  return [process.execPath, [...rest.map((a) => (path.isAbsolute(a) ? inStage(image, a) : a)), ...args]];
}
async function runImage(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [cmd, argv] = entrypoint(args);
  return run(cmd, argv, { cwd: inStage(image, '.'), env: image.env, timeoutMs: 60_000 });
}

beforeAll(async () => {
  image = await build();
}, 3 * STEP_TIMEOUT_MS);

afterAll(async () => {
  await stopAll();
  fs.rmSync(TMP, { recursive: true, force: true });
});

describe('the Docker image, built from what the Dockerfile copies', () => {
  it('copies every product folder and nothing from examples/, and skips only apt-get', () => {
    for (const dir of ['agent', 'collector', 'core', 'exporters', 'demo', 'presets', 'bin']) expect(copied).toContain(dir);
    expect(copied.some((c) => c.startsWith('examples'))).toBe(false);
    expect(skipped.length).toBe(2);
    expect(skipped.every((s) => s.includes('apt-get install'))).toBe(true);
    // The final stage holds only what its COPY lines put there; the TypeScript stayed in the build stage.
    expect(fs.readdirSync(inStage(image, '.'))).toEqual(expect.arrayContaining(['bin', 'dist', 'node_modules', 'package.json', 'presets']));
    const sources = (fs.readdirSync(inStage(image, '.'), { recursive: true }) as string[]).filter((f) => !/^(node_modules|dist)\//.test(f) && /\.[cm]?ts$/.test(f));
    expect(sources).toEqual([]);
    // npm prune --omit=dev ran: no dev dependency in the image.
    expect(fs.existsSync(inStage(image, 'node_modules/typescript'))).toBe(false);
    expect(fs.existsSync(inStage(image, 'node_modules/yaml'))).toBe(true);
  });

  it('runs --help, showing every flag', async () => {
    const r = await runImage(['--help']);
    expect(r.code).toBe(0);
    for (const f of ['--config', '--statsd.listen-udp', '--statsd.mapping-config', '--preset', '--web.listen-address', '--sut', '--injector', '--probe.http', '--check-config']) expect(r.stdout).toContain(f);
  });

  it('runs demo --help', async () => {
    const r = await runImage(['demo', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: redline demo');
    expect(r.stdout).toContain('--bottleneck');
  });

  it('checks --preset k6 and the configuration docker-compose.yml mounts', async () => {
    const k6 = await runImage(['--preset', 'k6', '--check-config']);
    expect(k6.stderr).toBe('');
    expect(k6.stdout).toBe('configuration is valid\n');
    expect(k6.code).toBe(0);
    const compose = await runImage([`--config=${path.join(ROOT, 'provisioning', 'redline', 'redline.yaml')}`, '--check-config']);
    expect(compose.stdout).toBe('configuration is valid\n');
    expect((await runImage(['--preset', 'nope', '--check-config'])).stderr).toContain('unknown preset "nope" (known: artillery, gevent, k6, loadtest, locust)');
  });

  it('starts, reads /proc and serves /metrics', async () => {
    const [cmd, argv] = entrypoint(['--statsd.listen-udp=127.0.0.1:0', '--statsd.listen-tcp=', '--web.listen-address=127.0.0.1:0', '--host.interval=200ms', '--preset=k6']);
    const agent = start(cmd, argv, { cwd: inStage(image, '.'), env: image.env });
    const out = await agent.until((o) => o.includes('redline agent started'), { timeoutMs: 30_000, what: 'the agent in the image' });
    const port = Number(/http_port=(\d+)/.exec(out)?.[1]);
    const text = await waitFor(async () => {
      const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return /^redline_host_collector_ticks_total [1-9]/m.test(t) ? t : null;
    }, { timeoutMs: 30_000, what: 'a host collector tick on /metrics' });
    expect(text).toMatch(/^redline_host_cpus [1-9]/m);
    await agent.stop();
  });
});
