/**
 * The host collector against real child processes and the real /proc.
 */
import { describe, it, expect, afterAll, afterEach } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Store } from '../../core/store.js';
import { render } from '../../exporters/exposition.js';
import { HostCollector } from './collector.js';
import { parseGroupFlag } from './groups.js';
import * as proc from './procfs.js';
import { valueOf } from '../../test/helpers/exposition.js';
import { start, stopAll, type Proc } from '../../test/helpers/process.js';

const TARGET = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/target.py');
const sockets: net.Socket[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
});
afterAll(stopAll);

/** A target process; `output()` is everything it printed so far. */
async function target(tag: string, args: string[] = []): Promise<{ proc: Proc; child: ChildProcess; pid: number; port: number | null; output: () => string }> {
  const p = start('python3', [TARGET, '--tag', tag, ...args]);
  await p.until(() => p.stdout().includes('\n'), { what: `target ${tag}'s first line` });
  const { pid, port } = JSON.parse(p.stdout().split('\n')[0]!) as { pid: number; port: number | null };
  return { proc: p, child: p.child, pid, port, output: () => p.stdout() };
}

/** A Node process holding `files` open files, `sockets` bound UDP sockets and `workers` worker threads. */
async function nodeTarget(tag: string, files: number, sockets: number, workers: number): Promise<{ child: ChildProcess; pid: number }> {
  const script = [
    "const fs = require('fs'), dgram = require('dgram'), { Worker } = require('worker_threads');",
    `const keep = []; for (let i = 0; i < ${files}; i++) keep.push(fs.openSync('/dev/null', 'r'));`,
    `let bound = 0; const ready = () => { if (bound === ${sockets}) Promise.all(ws.map((w) => new Promise((r) => w.once('online', r)))).then(() => console.log('ready')); };`,
    `const ws = []; for (let i = 0; i < ${workers}; i++) ws.push(new Worker('setInterval(() => {}, 1000)', { eval: true }));`,
    `for (let i = 0; i < ${sockets}; i++) { const s = dgram.createSocket('udp4'); keep.push(s); s.bind(0, '127.0.0.1', () => { bound++; ready(); }); }`,
    'ready(); setTimeout(() => process.exit(0), 120000);',
  ].join('\n');
  const p = start(process.execPath, ['-e', script, '--', '--tag', tag]);
  await p.until(() => p.stdout().includes('ready'), { what: `node target ${tag} ready` });
  const child = p.child;
  // Let workers finish starting their own threads' housekeeping.
  await sleep(200);
  return { child, pid: child.pid! };
}


function setup(flags: [string, 'sut' | 'injector'][], perProcess = false) {
  const store = new Store({ maxSeries: 1000, setIntervalMs: 1000 });
  const collector = new HostCollector(store, { intervalMs: 1000, perProcess, groups: flags.map(([f, r]) => parseGroupFlag(f, r)) });
  const value = (series: string): number | undefined => valueOf(render(store, 'text'), series);
  return { store, collector, value };
}

const g = (name: string, role = 'sut') => `group="${name}",role="${role}"`;

/** Ticks every `everyMs` until `cond` holds (true) or `maxTicks` ticks have run (false). */
async function tickUntil(collector: HostCollector, cond: () => boolean, maxTicks = 60, everyMs = 250): Promise<boolean> {
  for (let i = 0; i < maxTicks; i++) {
    await collector.tick();
    if (cond()) return true;
    await sleep(everyMs);
  }
  return false;
}

/** utime + stime of a process from /proc/PID/stat, in clock ticks. */
function cpuTicks(pid: number): { user: number; system: number } {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]), system: Number(f[12]) };
}

describe('process groups from /proc', () => {
  it('counts fds, threads and memory maps exactly against a baseline process', async () => {
    const tag = `exact${process.pid}`;
    await target(`${tag}-base`);
    await target(`${tag}-files`, ['--files', '20']);
    await target(`${tag}-maps`, ['--maps', '100']);
    await target(`${tag}-threads`, ['--threads', '5']);
    const { collector, value } = setup([
      [`base=--tag ${tag}-base$`, 'sut'],
      [`files=--tag ${tag}-files`, 'sut'],
      [`maps=--tag ${tag}-maps`, 'sut'],
      [`threads=--tag ${tag}-threads`, 'sut'],
    ]);
    await collector.tick();
    expect(value(`redline_process_count{${g('base')}}`)).toBe(1);
    expect(value(`redline_process_open_fds{${g('files')}}`)! - value(`redline_process_open_fds{${g('base')}}`)!).toBe(20);
    expect(value(`redline_process_threads{${g('threads')}}`)! - value(`redline_process_threads{${g('base')}}`)!).toBe(5);
    const extraMaps = value(`redline_process_memory_maps{${g('maps')}}`)! - value(`redline_process_memory_maps{${g('base')}}`)!;
    // 100 file mappings; the interpreter's own heap may differ by a mapping or two between processes.
    expect(extraMaps).toBeGreaterThanOrEqual(98);
    expect(extraMaps).toBeLessThanOrEqual(102);
    const limit = value(`redline_process_max_fds{${g('files')}}`)!;
    expect(limit).toBeGreaterThan(0);
    expect(value(`redline_process_fd_ratio{${g('files')}}`)).toBeCloseTo(value(`redline_process_open_fds{${g('files')}}`)! / limit, 6);
    expect(value(`redline_process_memory_bytes{${g('files')},type="resident"}`)).toBeGreaterThan(1e6);
    expect(value(`redline_process_memory_maps_ratio{${g('files')}}`)).toBeGreaterThan(0);
    await collector.stop();
  });

  it('counts a Node process\'s files, sockets and worker threads exactly', async () => {
    const tag = `node${process.pid}`;
    const base = await nodeTarget(`${tag}-base`, 0, 0, 0);
    await nodeTarget(`${tag}-io`, 12, 5, 0);
    await nodeTarget(`${tag}-workers`, 0, 0, 3);
    const { collector, value } = setup([
      [`base=--tag ${tag}-base$`, 'sut'],
      [`io=--tag ${tag}-io$`, 'sut'],
      [`workers=--tag ${tag}-workers$`, 'injector'],
    ]);
    await collector.tick();
    expect(collector.groupOf(base.pid)).toEqual({ group: 'base', role: 'sut' });
    expect(collector.groupOf(process.pid)).toBeUndefined();
    const fds = (grp: string, role = 'sut') => value(`redline_process_open_fds{${g(grp, role)}}`)!;
    const threads = (grp: string, role = 'sut') => value(`redline_process_threads{${g(grp, role)}}`)!;
    // 12 files and 5 bound UDP sockets: one descriptor each.
    expect(fds('io') - fds('base')).toBe(17);
    // One OS thread per worker_threads Worker.
    expect(threads('workers', 'injector') - threads('base')).toBe(3);
    expect(value('redline_injector_processes{group="workers"}')).toBe(1);
    await collector.stop();
  });

  it('separates user from system CPU exactly as /proc counts it, and sees a saturated single thread', async () => {
    const tag = `cpu${process.pid}`;
    const user = await target(`${tag}-user`, ['--burn', 'user']);
    const sys = await target(`${tag}-sys`, ['--burn', 'system']);
    const { collector, value } = setup([
      [`user=--tag ${tag}-user`, 'sut'],
      [`sys=--tag ${tag}-sys`, 'sut'],
    ]);
    // The group counters are the members' utime/stime (whole history at first sight): exact
    // against /proc read just before and just after the same tick, whatever the load.
    for (let i = 0; i < 3; i++) {
      const before = { user: cpuTicks(user.pid), sys: cpuTicks(sys.pid) };
      await collector.tick();
      const after = { user: cpuTicks(user.pid), sys: cpuTicks(sys.pid) };
      for (const [grp, b, a] of [
        ['user', before.user, after.user],
        ['sys', before.sys, after.sys],
      ] as const) {
        for (const mode of ['user', 'system'] as const) {
          const got = Math.round(value(`redline_process_cpu_seconds_total{${g(grp)},mode="${mode}"}`)! * 100);
          expect(got).toBeGreaterThanOrEqual(b[mode]);
          expect(got).toBeLessThanOrEqual(a[mode]);
        }
      }
      await sleep(200);
    }
    // Which mode each burner spends in is what it does, not how fast it runs: wait until each
    // has some CPU, then compare.
    // Increments since now leave the interpreter's start-up (user time) out.
    const total = (grp: string, mode: string) => value(`redline_process_cpu_seconds_total{${g(grp)},mode="${mode}"}`)!;
    const base = { uu: total('user', 'user'), us: total('user', 'system'), su: total('sys', 'user'), ss: total('sys', 'system') };
    const cpu = (grp: 'user' | 'sys', mode: 'user' | 'system') => total(grp, mode) - base[grp === 'user' ? (mode === 'user' ? 'uu' : 'us') : mode === 'user' ? 'su' : 'ss'];
    expect(await tickUntil(collector, () => cpu('user', 'user') + cpu('user', 'system') > 0.3 && cpu('sys', 'user') + cpu('sys', 'system') > 0.3, 240)).toBe(true);
    expect(cpu('user', 'user')).toBeGreaterThan(cpu('user', 'system') * 3);
    expect(cpu('sys', 'system')).toBeGreaterThan(cpu('sys', 'user'));
    // A spinning single thread is always running or runnable: its demand (run + run-queue wait)
    // is a whole core however little of one it receives on a busy machine; what it receives is
    // never more than that, and is (nearly) all of its process's CPU.
    const demand = () => value(`redline_process_busiest_thread_cpu_demand_ratio{${g('user')}}`)!;
    const busiest = () => value(`redline_process_busiest_thread_cpu_ratio{${g('user')}}`)!;
    const cores = () => value(`redline_process_cpu_cores{${g('user')}}`)!;
    const processDemand = () => value(`redline_process_busiest_process_cpu_demand_ratio{${g('user')}}`)!;
    // Both over the same interval: the process's CPU comes from /proc/PID/stat in 10 ms clock
    // ticks, so over a short tick on a busy machine one reading may fall a few % short.
    expect(await tickUntil(collector, () => demand() > 0.9 && processDemand() > 0.9)).toBe(true);
    expect(demand()).toBeLessThanOrEqual(1);
    expect(busiest()).toBeLessThanOrEqual(demand() + 1e-9);
    expect(processDemand()).toBeGreaterThan(0.9);
    expect(await tickUntil(collector, () => cores() > 0.1 && busiest() > 0.8 * cores() && busiest() < 1.2 * cores())).toBe(true);
    expect(value(`redline_process_context_switches_total{${g('sys')},type="involuntary"}`)).toBeGreaterThanOrEqual(0);
    expect(value(`redline_process_runqueue_wait_seconds_total{${g('user')}}`)).toBeGreaterThanOrEqual(0);
    await collector.stop();
  });

  it('reads the accept queue of a listener that never accepts, and its limit', async () => {
    const tag = `listen${process.pid}`;
    const t = await target(`${tag}`, ['--listen', '3']);
    const { collector, value } = setup([[`api=--tag ${tag}`, 'sut']]);
    await collector.tick();
    const overflows0 = value('redline_host_tcp_listen_overflows_total')!;
    for (let i = 0; i < 10; i++) {
      const s = net.connect(t.port!, '127.0.0.1');
      s.on('error', () => {});
      sockets.push(s);
    }
    // Linux queues backlog + 1 connections before it overflows.
    const queue = () => value(`redline_listen_queue_length{${g('api')},port="${t.port}"}`);
    expect(await tickUntil(collector, () => queue() === 4, 80, 100)).toBe(true);
    expect(await tickUntil(collector, () => value(`redline_listen_queue_limit{${g('api')},port="${t.port}"}`) !== undefined, 80, 100)).toBe(true);
    expect(queue()).toBe(4);
    expect(value(`redline_listen_queue_limit{${g('api')},port="${t.port}"}`)).toBe(3);
    expect(value('redline_host_tcp_listen_overflows_total')!).toBeGreaterThan(overflows0);
    await collector.stop();
  });

  it('finds a listener its process opens after it was first seen', async () => {
    const tag = `late${process.pid}`;
    const t = await target(tag, ['--late-listen', '2']);
    const { collector, value } = setup([[`api=--tag ${tag}`, 'sut']]);
    await collector.tick();
    let latePort = 0;
    for (let i = 0; i < 300 && latePort === 0; i++) {
      const m = /"late_port": (\d+)/.exec(t.output());
      if (m) latePort = Number(m[1]);
      else await sleep(50);
    }
    expect(latePort).toBeGreaterThan(0);
    for (let i = 0; i < 2; i++) {
      const s = net.connect(latePort, '127.0.0.1');
      s.on('error', () => {});
      sockets.push(s);
    }
    expect(await tickUntil(collector, () => value(`redline_listen_queue_length{${g('api')},port="${latePort}"}`) === 2, 80, 100)).toBe(true);
    expect(await tickUntil(collector, () => value(`redline_listen_queue_limit{${g('api')},port="${latePort}"}`) !== undefined, 80, 100)).toBe(true);
    expect(value(`redline_listen_queue_limit{${g('api')},port="${latePort}"}`)).toBe(2);
    await collector.stop();
  });

  it('follows injector processes spawned and stopped step by step', async () => {
    const tag = `inj${process.pid}`;
    const { collector, value } = setup([[`locust=--tag ${tag}`, 'injector']]);
    await collector.tick();
    expect(value('redline_injector_processes{group="locust"}')).toBe(0);
    const procs: Proc[] = [];
    for (let n = 1; n <= 3; n++) {
      procs.push((await target(tag)).proc);
      await collector.tick();
      expect(value('redline_injector_processes{group="locust"}')).toBe(n);
    }
    const cpuBefore = value(`redline_process_cpu_seconds_total{${g('locust', 'injector')},mode="user"}`)!;
    for (let n = 2; n >= 0; n--) {
      await procs.pop()!.stop();
      await collector.tick();
      expect(value('redline_injector_processes{group="locust"}')).toBe(n);
    }
    expect(value(`redline_process_started_total{${g('locust', 'injector')}}`)).toBe(3);
    expect(value(`redline_process_exited_total{${g('locust', 'injector')}}`)).toBe(3);
    // A group whose members all exited keeps its counters.
    expect(value(`redline_process_count{${g('locust', 'injector')}}`)).toBe(0);
    expect(value(`redline_process_cpu_seconds_total{${g('locust', 'injector')},mode="user"}`)).toBeGreaterThanOrEqual(cpuBefore);
    await collector.stop();
  });

  it('puts short-lived children in their parent group and never lets counters go back', async () => {
    const tag = `kids${process.pid}`;
    const { collector, value } = setup([[`parent=--tag ${tag}`, 'sut']]);
    await target(tag, ['--children', '6']);
    let maxCount = 0;
    let lastCpu = 0;
    // Children (each lives 1 s) are seen as members of the parent's group, then leave it.
    const ok = await tickUntil(
      collector,
      () => {
        maxCount = Math.max(maxCount, value(`redline_process_count{${g('parent')}}`)!);
        const cpu = value(`redline_process_cpu_seconds_total{${g('parent')},mode="user"}`)!;
        expect(cpu).toBeGreaterThanOrEqual(lastCpu);
        lastCpu = cpu;
        return maxCount > 1 && value(`redline_process_exited_total{${g('parent')}}`)! >= 1;
      },
      200,
      50,
    );
    expect(ok).toBe(true);
    await collector.stop();
  });

  it('tells the agent which group a pid belongs to, from the last tick only', async () => {
    const tag = `who${process.pid}`;
    const t = await target(tag);
    const { collector } = setup([[`api=--tag ${tag}`, 'sut']]);
    // Before the first tick nothing is known: the lookup never reads /proc itself.
    expect(collector.groupOf(t.pid)).toBeUndefined();
    await collector.tick();
    expect(collector.groupOf(t.pid)).toEqual({ group: 'api', role: 'sut' });
    expect(collector.groupOf(process.pid)).toBeUndefined();
    await t.proc.stop();
    await collector.tick();
    expect(collector.groupOf(t.pid)).toBeUndefined();
    await collector.stop();
  });

  it('counts a process that exec()s into a group\'s command line within 2 ticks (same interpreter, same comm)', async () => {
    const tag = `exec${process.pid}`;
    const flag = path.join(os.tmpdir(), `redline-exec-${process.pid}`);
    fs.rmSync(flag, { force: true });
    // A Python that is not a member yet, then exec()s another Python whose command line matches.
    const script = `import os, sys, time\nprint('up', flush=True)\nwhile not os.path.exists(${JSON.stringify(flag)}): time.sleep(0.02)\nos.execv(sys.executable, [sys.executable, ${JSON.stringify(TARGET)}, '--tag', '${tag}'])`;
    const p = start('python3', ['-c', script]);
    await p.until((o) => o.includes('up'), { what: 'the pre-exec process' });
    const { collector, value } = setup([[`locust=--tag ${tag}`, 'injector']]);
    await collector.tick();
    await collector.tick();
    expect(value('redline_injector_processes{group="locust"}')).toBe(0);
    fs.writeFileSync(flag, '');
    await p.until((o) => o.includes('"pid"'), { what: 'the exec()ed target' });
    fs.rmSync(flag, { force: true });
    // Unmatched processes are checked every other tick: counted within 2 ticks.
    expect(await tickUntil(collector, () => value('redline_injector_processes{group="locust"}') === 1, 2, 0)).toBe(true);
    expect(collector.groupOf(p.pid)).toEqual({ group: 'locust', role: 'injector' });
    // Other processes on the machine may exec too: at least this one was classified again.
    expect(value('redline_host_collector_reclassified_total')).toBeGreaterThanOrEqual(1);
    expect(value(`redline_process_started_total{${g('locust', 'injector')}}`)).toBe(1);
    await collector.stop();
  });

  it('counts a process without a readable environment that exec()s into another program', async () => {
    const tag = `execcomm${process.pid}`;
    const flag = path.join(os.tmpdir(), `redline-execcomm-${process.pid}`);
    fs.rmSync(flag, { force: true });
    // env -i: an empty environment, so the exec check falls back to the comm (sh, then python3).
    // The shell's own command line must not match: the tag is split by an empty quote.
    const p = start('env', ['-i', '/bin/sh', '-c', `echo up; while [ ! -e ${flag} ]; do sleep 0.05; done; exec python3 ${TARGET} --tag exec""comm${process.pid}`]);
    await p.until((o) => o.includes('up'), { what: 'the shell' });
    const { collector, value } = setup([[`locust=--tag ${tag}`, 'injector']]);
    await collector.tick();
    await collector.tick();
    expect(value('redline_injector_processes{group="locust"}')).toBe(0);
    fs.writeFileSync(flag, '');
    await p.until((o) => o.includes('"pid"'), { what: 'the exec()ed target' });
    fs.rmSync(flag, { force: true });
    expect(await tickUntil(collector, () => value('redline_injector_processes{group="locust"}') === 1, 2, 0)).toBe(true);
    expect(collector.groupOf(p.pid)).toEqual({ group: 'locust', role: 'injector' });
    await collector.stop();
  });

  it('never counts the agent\'s own launcher chain (npm, npx, sh -c ancestors holding its patterns)', async () => {
    const tag = `launch${process.pid}`;
    // sh -c "<agent stand-in> --tag X; :" — the shell stays the parent and its command line holds the pattern.
    const sh = start('/bin/sh', ['-c', `python3 ${TARGET} --tag ${tag}; :`]);
    await sh.until((o) => o.includes('\n'), { what: 'the stand-in agent' });
    const agentPid = (JSON.parse(sh.stdout().split('\n')[0]!) as { pid: number }).pid;
    const another = await target(tag);
    const store = new Store({ maxSeries: 1000, setIntervalMs: 1000 });
    const collector = new HostCollector(store, { intervalMs: 1000, perProcess: false, groups: [parseGroupFlag(`api=--tag ${tag}`, 'sut')], selfPid: agentPid });
    await collector.tick();
    const child = sh.child;
    // Only the other process: not the stand-in agent, not the shell that launched it.
    expect(collector.groupOf(another.pid)).toEqual({ group: 'api', role: 'sut' });
    expect(collector.groupOf(agentPid)).toBeUndefined();
    expect(collector.groupOf(child.pid!)).toBeUndefined();
    const count = render(store, 'text').split('\n').find((l) => l.startsWith(`redline_process_count{${g('api')}} `));
    expect(count).toBe(`redline_process_count{${g('api')}} 1`);
    // Without the exclusion the stand-in agent would be a member too (its command line matches);
    // the shell never is, being a launcher (`sh -c` holds the command line it starts).
    const plain = setup([[`api=--tag ${tag}`, 'sut']]);
    await plain.collector.tick();
    expect(plain.value(`redline_process_count{${g('api')}}`)).toBe(2);
    await collector.stop();
    await plain.collector.stop();
  });

  it('warns once when a declared group has matched nothing for the grace period', async () => {
    const warnings: string[] = [];
    const tag = `warn${process.pid}`;
    await target(tag);
    const store = new Store({ maxSeries: 1000, setIntervalMs: 1000 });
    const collector = new HostCollector(store, {
      intervalMs: 1000,
      perProcess: false,
      groups: [parseGroupFlag(`ghost=no-such-process-${process.pid}`, 'sut'), parseGroupFlag(`seen=--tag ${tag}`, 'other')],
      emptyGroupWarnMs: 200,
      warn: (msg) => warnings.push(msg),
    });
    await collector.tick();
    expect(warnings).toEqual([]);
    await sleep(250);
    await collector.tick();
    await collector.tick();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/process group ghost \(sut\) has matched no process/);
    expect(collector.emptyGroups()).toEqual(['ghost']);
    await collector.stop();
  });

  it('publishes per-process series only when asked', async () => {
    const tag = `pp${process.pid}`;
    const t = await target(tag);
    const without = setup([[`api=--tag ${tag}`, 'sut']]);
    await without.collector.tick();
    expect(render(without.store, 'text')).not.toContain('redline_pid_open_fds{');
    const withPid = setup([[`api=--tag ${tag}`, 'sut']], true);
    await withPid.collector.tick();
    expect(withPid.value(`redline_pid_threads{${g('api')},pid="${t.pid}"}`)).toBe(1);
  });
});

describe('process identity (a fake /proc tree)', () => {
  it('treats a reused pid with a new start time as a new process', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fakeproc-'));
    const writeProc = (pid: number, start: number, cmd: string) => {
      fs.mkdirSync(path.join(root, String(pid), 'fd'), { recursive: true });
      fs.mkdirSync(path.join(root, String(pid), 'task'), { recursive: true });
      // Fields after the comm: state ppid … utime(14) stime(15) … threads(20) … starttime(22) vsize rss
      const f = ['S', '1', ...Array(9).fill('0'), '100', '50', '0', '0', '20', '0', '1', '0', String(start), '1000', '10'];
      fs.writeFileSync(path.join(root, String(pid), 'stat'), `${pid} (fake) ${f.join(' ')}\n`);
      fs.writeFileSync(path.join(root, String(pid), 'cmdline'), `${cmd}\0`);
    };
    writeProc(4242, 1000, 'worker --job a');
    const store = new Store({ maxSeries: 100, setIntervalMs: 1000 });
    const c = new HostCollector(store, { intervalMs: 1000, perProcess: false, groups: [parseGroupFlag('w=worker', 'sut')], procRoot: root });
    const v = (s: string) => Number(render(store, 'text').split('\n').find((l) => l.startsWith(s + ' '))?.split(' ')[1]);
    await c.tick();
    expect(v('redline_process_started_total{group="w",role="sut"}')).toBe(1);
    expect(v('redline_process_cpu_seconds_total{group="w",role="sut",mode="user"}')).toBe(1);
    writeProc(4242, 2000, 'worker --job b');
    await c.tick();
    expect(v('redline_process_started_total{group="w",role="sut"}')).toBe(2);
    expect(v('redline_process_exited_total{group="w",role="sut"}')).toBe(1);
    // The new process's CPU adds to the group's; the counter never goes back.
    expect(v('redline_process_cpu_seconds_total{group="w",role="sut",mode="user"}')).toBe(2);
    await c.stop();
    proc.setProcRoot('/proc');
    fs.rmSync(root, { recursive: true, force: true });
  });
});

describe('idle threads (a fake /proc tree: exact CPU figures)', () => {
  it('finds a thread that starts burning after it was skipped as idle', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fakethreads-'));
    const pid = 5000;
    const dir = path.join(root, String(pid));
    const tids = [5000, 5001, 5002];
    for (const tid of tids) fs.mkdirSync(path.join(dir, 'task', String(tid)), { recursive: true });
    fs.mkdirSync(path.join(dir, 'fd'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'cmdline'), 'api-server\0');
    let utime = 100;
    const run = new Map(tids.map((t) => [t, 1e9]));
    const write = () => {
      const f = ['S', '1', ...Array(9).fill('0'), String(utime), '0', '0', '0', '20', '0', String(tids.length), '0', '500', '1000', '10'];
      fs.writeFileSync(path.join(dir, 'stat'), `${pid} (api) ${f.join(' ')}\n`);
      for (const t of tids) fs.writeFileSync(path.join(dir, 'task', String(t), 'schedstat'), `${run.get(t)} 0 10\n`);
    };
    write();
    const store = new Store({ maxSeries: 100, setIntervalMs: 1000 });
    const c = new HostCollector(store, { intervalMs: 1000, perProcess: false, groups: [parseGroupFlag('api=api-server', 'sut')], procRoot: root, cgroupRoot: root });
    const busiest = () => Number(render(store, 'text').split('\n').find((l) => l.startsWith('redline_process_busiest_thread_cpu_ratio{group="api",role="sut"} '))!.split(' ')[1]);
    await c.tick();
    // Three more ticks (the next slow tick, which reads every thread, is the sixth): the main thread runs 5 ms and the process 10 ms (one clock tick) each;
    // the other two stay idle, so from the third reading on they are skipped.
    for (let i = 0; i < 3; i++) {
      await sleep(20);
      utime += 1;
      run.set(5000, run.get(5000)! + 5e6);
      write();
      await c.tick();
      expect(busiest()).toBeLessThan(0.5);
    }
    // A skipped thread burns 100 s while the process's CPU grows by as much: more than the threads
    // read account for, so all are read and the busiest is that one (capped at a whole core).
    await sleep(20);
    utime += 10_000;
    run.set(5000, run.get(5000)! + 5e6);
    run.set(5002, run.get(5002)! + 100e9);
    write();
    await c.tick();
    expect(busiest()).toBe(1);
    await c.stop();
    proc.setProcRoot('/proc');
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('finds a thread that replaced an exited one, the thread count unchanged', async () => {
    // The thread list is read again only when the count moves or a listed thread is gone: here
    // the count stays 3 while thread 5101 exits and 5103 starts burning.
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fakethreads-'));
    // Its own pid: descriptors are kept per pid, across collectors (the test above used 5000).
    const pid = 5100;
    const dir = path.join(root, String(pid));
    const tids = [5100, 5101, 5102];
    for (const tid of tids) fs.mkdirSync(path.join(dir, 'task', String(tid)), { recursive: true });
    fs.mkdirSync(path.join(dir, 'fd'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'cmdline'), 'api-server\0');
    let utime = 100;
    const run = new Map(tids.map((t) => [t, 1e9]));
    const write = () => {
      const f = ['S', '1', ...Array(9).fill('0'), String(utime), '0', '0', '0', '20', '0', String(tids.length), '0', '500', '1000', '10'];
      fs.writeFileSync(path.join(dir, 'stat'), `${pid} (api) ${f.join(' ')}\n`);
      for (const t of tids) fs.writeFileSync(path.join(dir, 'task', String(t), 'schedstat'), `${run.get(t)} 0 10\n`);
    };
    write();
    const store = new Store({ maxSeries: 100, setIntervalMs: 1000 });
    const c = new HostCollector(store, { intervalMs: 1000, perProcess: false, groups: [parseGroupFlag('api=api-server', 'sut')], procRoot: root, cgroupRoot: root });
    const busiest = () => Number(render(store, 'text').split('\n').find((l) => l.startsWith('redline_process_busiest_thread_cpu_ratio{group="api",role="sut"} '))!.split(' ')[1]);
    await c.tick();
    await sleep(20);
    utime += 1;
    run.set(5100, run.get(5100)! + 5e6);
    write();
    await c.tick();
    expect(busiest()).toBeLessThan(0.5);
    // 5101 exits, 5103 starts: still 3 threads. 5103 burns (capped at a whole core) every tick.
    // (A kept descriptor on a real /proc file fails once its thread exits; one on a deleted file
    // here would still read, so the file is emptied first: a read of 0 bytes is a gone thread.)
    fs.writeFileSync(path.join(dir, 'task', '5101', 'schedstat'), '');
    fs.rmSync(path.join(dir, 'task', '5101'), { recursive: true, force: true });
    tids[1] = 5103;
    run.delete(5101);
    run.set(5103, 1e9);
    fs.mkdirSync(path.join(dir, 'task', '5103'), { recursive: true });
    const seen: number[] = [];
    // Ticks 3 and 4 are not slow ones (every 5th is): the gone thread is noticed when read, the
    // list is read again on the next tick, and the newcomer has a delta from the one after.
    for (let i = 0; i < 3; i++) {
      await sleep(20);
      utime += 10_000;
      run.set(5103, run.get(5103)! + 100e9);
      write();
      await c.tick();
      seen.push(busiest());
    }
    expect(seen[seen.length - 1], JSON.stringify(seen)).toBe(1);
    await c.stop();
    proc.setProcRoot('/proc');
    fs.rmSync(root, { recursive: true, force: true });
  });
});

/**
 * A fake /proc with one `api-server` process (pid 77) whose /proc/77/cgroup reads `procCgroup`,
 * beside an empty cgroup tree; `write` adds a file to the tree (its directories too).
 */
function fakeCgroupHost(prefix: string, procCgroup: string) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const procRoot = path.join(root, 'proc');
  const cg = path.join(root, 'cgroup');
  fs.mkdirSync(path.join(procRoot, '77', 'fd'), { recursive: true });
  fs.mkdirSync(path.join(procRoot, '77', 'task'), { recursive: true });
  const f = ['S', '1', ...Array(9).fill('0'), '100', '50', '0', '0', '20', '0', '1', '0', '500', '1000', '10'];
  fs.writeFileSync(path.join(procRoot, '77', 'stat'), `77 (api) ${f.join(' ')}\n`);
  fs.writeFileSync(path.join(procRoot, '77', 'cmdline'), 'api-server\0');
  fs.writeFileSync(path.join(procRoot, '77', 'cgroup'), procCgroup);
  fs.mkdirSync(cg);
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(cg, rel)), { recursive: true });
    fs.writeFileSync(path.join(cg, rel), text);
  };
  return { root, procRoot, cg, write };
}

/** One series' value in the store's text exposition, or undefined. */
const readSeries = (store: Store) => (series: string) => {
  const line = render(store, 'text').split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
};

describe('cgroup v2 of a group (a fake /proc and cgroup tree)', () => {
  function tree(cgroupPath: string) {
    const t = fakeCgroupHost('fakecg-', `0::${cgroupPath}\n`);
    fs.mkdirSync(path.join(t.cg, cgroupPath), { recursive: true });
    t.write('cgroup.controllers', 'cpu memory io\n');
    return t;
  }
  it('takes the tightest quota up the path as the CPU limit, throttling where it is set, memory against memory.max', async () => {
    const t = tree('/docker/abc');
    // The container's cgroup has no quota of its own; its parent allows 1.5 cores.
    t.write('docker/cpu.max', '150000 100000\n');
    t.write('docker/cpu.stat', 'usage_usec 9000000\nnr_periods 400\nnr_throttled 120\nthrottled_usec 2500000\n');
    t.write('docker/abc/cpu.max', 'max 100000\n');
    t.write('docker/abc/cpu.stat', 'usage_usec 4000000\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n');
    t.write('docker/memory.max', '1073741824\n');
    t.write('docker/abc/memory.max', 'max\n');
    t.write('docker/abc/memory.current', '268435456\n');
    t.write('docker/abc/cpu.pressure', 'some avg10=1.00 avg60=0.50 avg300=0.10 total=3000000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=1000000\n');
    const store = new Store({ maxSeries: 100, setIntervalMs: 1000 });
    const c = new HostCollector(store, { intervalMs: 1000, perProcess: false, groups: [parseGroupFlag('api=api-server', 'sut')], procRoot: t.procRoot, cgroupRoot: t.cg });
    await c.tick();
    const v = readSeries(store);
    const L = 'group="api",role="sut"';
    expect(v(`redline_cgroup_cpu_limit_cores{${L}}`)).toBe(1.5);
    expect(v(`redline_cgroup_cpu_seconds_total{${L}}`)).toBe(4);
    expect(v(`redline_cgroup_cpu_periods_total{${L}}`)).toBe(400);
    expect(v(`redline_cgroup_cpu_throttled_periods_total{${L}}`)).toBe(120);
    expect(v(`redline_cgroup_cpu_throttled_seconds_total{${L}}`)).toBe(2.5);
    expect(v(`redline_cgroup_memory_bytes{${L}}`)).toBe(268435456);
    expect(v(`redline_cgroup_memory_limit_bytes{${L}}`)).toBe(1073741824);
    expect(v(`redline_cgroup_pressure_seconds_total{${L},resource="cpu",kind="some"}`)).toBe(3);
    expect(v(`redline_cgroup_pressure_seconds_total{${L},resource="cpu",kind="full"}`)).toBe(1);
    // The quota is lifted: the limit series goes away.
    t.write('docker/cpu.max', 'max 100000\n');
    await c.tick();
    expect(v(`redline_cgroup_cpu_limit_cores{${L}}`)).toBeUndefined();
    await c.stop();
    proc.setProcRoot('/proc');
    fs.rmSync(t.root, { recursive: true, force: true });
  });

  it('publishes no cgroup series without cgroup v2, and the rest as usual', async () => {
    const t = tree('/docker/abc');
    fs.rmSync(path.join(t.cg, 'cgroup.controllers'));
    const store = new Store({ maxSeries: 100, setIntervalMs: 1000 });
    const c = new HostCollector(store, { intervalMs: 1000, perProcess: false, groups: [parseGroupFlag('api=api-server', 'sut')], procRoot: t.procRoot, cgroupRoot: t.cg });
    await c.tick();
    expect(render(store, 'text')).not.toContain('redline_cgroup_');
    expect(readSeries(store)('redline_process_count{group="api",role="sut"}')).toBe(1);
    await c.stop();
    proc.setProcRoot('/proc');
    fs.rmSync(t.root, { recursive: true, force: true });
  });
});

describe('cgroup v1 of a group (a fake /proc and per-controller cgroup tree)', () => {
  it('reads the CFS quota, throttling, cpuacct usage and the tightest memory limit, and finds mounts in mountinfo', async () => {
    // As a container runtime on a cgroup v1 host leaves it (systemd's named hierarchy is not read).
    const { root, procRoot, cg, write } = fakeCgroupHost('fakecg1-', '5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n');
    for (const c of ['cpu', 'cpuacct', 'memory']) write(`${c}/cgroup.procs`, '');
    // The container's own quota (0.5 core) is tighter than its parent's (2 cores).
    write('cpu/docker/cpu.cfs_quota_us', '200000\n');
    write('cpu/docker/cpu.cfs_period_us', '100000\n');
    write('cpu/docker/abc/cpu.cfs_quota_us', '50000\n');
    write('cpu/docker/abc/cpu.cfs_period_us', '100000\n');
    write('cpu/docker/abc/cpu.stat', 'nr_periods 300\nnr_throttled 90\nthrottled_time 4500000000\n');
    write('cpuacct/docker/abc/cpuacct.usage', '7250000000\n');
    write('memory/docker/abc/memory.usage_in_bytes', '100663296\n');
    write('memory/docker/abc/memory.limit_in_bytes', '9223372036854771712\n');
    write('memory/docker/memory.limit_in_bytes', '134217728\n');
    const store = new Store({ maxSeries: 100, setIntervalMs: 1000 });
    const c = new HostCollector(store, { intervalMs: 1000, perProcess: false, groups: [parseGroupFlag('api=api-server', 'sut')], procRoot, cgroupRoot: cg });
    await c.tick();
    const v = readSeries(store);
    const L = 'group="api",role="sut"';
    expect(v(`redline_cgroup_cpu_limit_cores{${L}}`)).toBe(0.5);
    expect(v(`redline_cgroup_cpu_periods_total{${L}}`)).toBe(300);
    expect(v(`redline_cgroup_cpu_throttled_periods_total{${L}}`)).toBe(90);
    expect(v(`redline_cgroup_cpu_throttled_seconds_total{${L}}`)).toBe(4.5);
    expect(v(`redline_cgroup_cpu_seconds_total{${L}}`)).toBe(7.25);
    expect(v(`redline_cgroup_memory_bytes{${L}}`)).toBe(100663296);
    expect(v(`redline_cgroup_memory_limit_bytes{${L}}`)).toBe(134217728);
    // The quota lifted (-1): the limit goes.
    write('cpu/docker/abc/cpu.cfs_quota_us', '-1\n');
    write('cpu/docker/cpu.cfs_quota_us', '-1\n');
    await c.tick();
    expect(v(`redline_cgroup_cpu_limit_cores{${L}}`)).toBeUndefined();
    await c.stop();
    proc.setProcRoot('/proc');
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("parses mountinfo (hybrid mode, a container's mount root, escaped paths) and /proc/PID/cgroup", async () => {
    const { parseMountinfo, parseProcCgroup } = await import('./cgroups.js');
    const m = parseMountinfo(
      [
        '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
        '32 31 0:29 /docker/abc /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct',
        '35 31 0:32 / /sys/fs/cgroup/my\\040memory rw,relatime - cgroup cgroup rw,memory',
        '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
        '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate',
      ].join('\n'),
    );
    expect(m.v2).toEqual({ dir: '/sys/fs/cgroup/unified', root: '/' });
    expect(m.v1.get('cpu')).toEqual({ dir: '/sys/fs/cgroup/cpu,cpuacct', root: '/docker/abc' });
    expect(m.v1.get('cpuacct')).toEqual(m.v1.get('cpu'));
    expect(m.v1.get('memory')).toEqual({ dir: '/sys/fs/cgroup/my memory', root: '/' });
    expect([...m.v1.keys()].sort()).toEqual(['cpu', 'cpuacct', 'memory']);
    const p = parseProcCgroup('12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/x\n0::/system.slice/docker-abc.scope\n');
    expect(p.v2).toBe('/system.slice/docker-abc.scope');
    expect(Object.fromEntries(p.v1)).toEqual({ memory: '/docker/abc', cpu: '/docker/abc', cpuacct: '/docker/abc' });
  });
});

describe('group configuration', () => {
  it('parses --sut/--injector values, refusing bad input clearly', () => {
    expect(parseGroupFlag('api=node server.js', 'sut').cmdline![0]!.test('/usr/bin/node server.js')).toBe(true);
    expect(() => parseGroupFlag('noequals', 'sut')).toThrow(/NAME=REGEX/);
    expect(() => parseGroupFlag('api=(', 'sut')).toThrow(/invalid regex/);
  });
});

describe('fallback without /proc (systeminformation + pidusage)', () => {
  it('counts a group\'s processes, their CPU and memory', async () => {
    const { FallbackCollector } = await import('./fallback.js');
    const tag = `fb${process.pid}`;
    await target(tag, ['--burn', 'user']);
    const store = new Store({ maxSeries: 100, setIntervalMs: 1000 });
    const c = new FallbackCollector(store, { intervalMs: 1000, groups: [parseGroupFlag(`burn=--tag ${tag}`, 'injector')] });
    const v = (s: string) => Number(render(store, 'text').split('\n').find((l) => l.startsWith(s + ' '))?.split(' ')[1]);
    await c.tick();
    await sleep(600);
    await c.tick();
    expect(v('redline_process_count{group="burn",role="injector"}')).toBe(1);
    expect(v('redline_injector_processes{group="burn"}')).toBe(1);
    expect(v('redline_process_memory_bytes{group="burn",role="injector",type="resident"}')).toBeGreaterThan(1e6);
    expect(v('redline_process_cpu_seconds_total{group="burn",role="injector",mode="total"}')).toBeGreaterThan(0);
    expect(v('redline_host_cpus')).toBeGreaterThan(0);
    await c.stop();
  });
});
