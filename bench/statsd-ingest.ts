/**
 * The statsd parse-and-apply loop alone, in process: CPU per line of `StatsdIngest.handle` over
 * the throughput benchmark's datagrams (1,000 names, cache hits), without sockets. With
 * `--before DIR` it also measures the ingest of another build (e.g. a copy of `dist/` from before
 * a change), alternating the two round by round, each round in a fresh process (two builds in one
 * process share V8's inline caches and the second one measured ~8% slower than the same code
 * loaded first), so a busy machine slows both alike; the figure to read is the paired median ratio.
 *
 *   npm run build && node dist/bench/statsd-ingest.js [--before /tmp/old] [--rounds 15] [--lines 500000]
 *
 * A round is the fastest of five passes over `--lines` lines in one process (the least disturbed
 * by other work on the machine).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pathToFileURL } from 'node:url';
import { buildDatagrams } from './statsd-sender.js';
import { ROOT } from './results.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : args[i + 1]!;
};
const ROUNDS = Math.min(Number(opt('rounds', '15')), 100);
const LINES = Math.min(Number(opt('lines', '500000')), 20_000_000);
const BEFORE = opt('before', '');
const CHILD = opt('child', '');

interface Build {
  run(datagrams: Buffer[], count: number): number;
}

async function load(root: string): Promise<Build> {
  const imp = (p: string): Promise<Record<string, unknown>> => import(pathToFileURL(path.join(root, 'dist', p)).href) as Promise<Record<string, unknown>>;
  const { Store } = (await imp('core/store.js')) as { Store: new (o: object) => unknown };
  const { silentLogger } = (await imp('core/log.js')) as { silentLogger: unknown };
  const { StatsdIngest } = (await imp('collector/statsd/ingest.js')) as { StatsdIngest: new (...a: unknown[]) => { handle(b: Buffer): void; lines: number } };
  const { Mapper } = (await imp('collector/statsd/mapper.js')) as { Mapper: { empty(): unknown } };
  const store = new Store({ maxSeries: 100_000, setIntervalMs: 10_000 });
  const tags = { dogstatsd: true, influx: true, librato: true, signalfx: true };
  const ingest = new StatsdIngest(store, Mapper.empty(), { tags, cacheSize: 10_000, logger: silentLogger, passthrough: Mapper.empty() });
  return {
    run(datagrams, count) {
      const before = ingest.lines;
      const t0 = process.cpuUsage();
      for (let i = 0; i < count; i++) ingest.handle(datagrams[i % datagrams.length]!);
      const t = process.cpuUsage(t0);
      const lines = ingest.lines - before;
      return ((t.user + t.system) * 1000) / lines;
    },
  };
}

/** One round in this process: warm up, then ns per line over LINES lines. */
async function measure(root: string): Promise<number> {
  const datagrams = buildDatagrams(2000);
  const perDatagram = datagrams[0]!.toString().split('\n').length;
  const count = Math.ceil(LINES / perDatagram);
  const b = await load(root);
  b.run(datagrams, count);
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) best = Math.min(best, b.run(datagrams, count));
  return best;
}

function round(root: string): number {
  // Each round runs in a fresh process; the fastest of several passes is the least disturbed.
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', root, '--lines', String(LINES)], { encoding: 'utf8' });
  return Number(out.trim());
}

async function main(): Promise<void> {
  if (CHILD) {
    console.log(String(await measure(CHILD)));
    return;
  }
  const builds = [{ label: 'this build', root: ROOT }];
  if (BEFORE) builds.unshift({ label: 'before', root: path.resolve(BEFORE) });
  const ns: number[][] = builds.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which build goes first, so a slow spell does not always hit the same one.
    const order = r % 2 === 0 ? builds.map((_, i) => i) : builds.map((_, i) => builds.length - 1 - i);
    for (const i of order) ns[i]!.push(round(builds[i]!.root));
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  builds.forEach((b, i) => console.log(`${b.label.padEnd(11)} ns per line: median ${median(ns[i]!).toFixed(1)}, min ${Math.min(...ns[i]!).toFixed(1)}  (${ns[i]!.map((x) => x.toFixed(0)).join(' ')})`));
  if (builds.length === 2) {
    const ratios = ns[1]!.map((x, r) => x / ns[0]![r]!);
    console.log(`this build / before, paired median over ${ROUNDS} rounds: ${median(ratios).toFixed(3)}; ratio of the fastest rounds: ${(Math.min(...ns[1]!) / Math.min(...ns[0]!)).toFixed(3)}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
