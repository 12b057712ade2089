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
import { valueOf } from '../../test/helpers/exposition.js';
import { start, stopAll, type Proc } from '../../test/helpers/process.js';

const TARGET = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/target.py');
const sockets: net.Socket[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
});
afterAll(stopAll);

async function target(tag: string, args: string[] = []): Promise<{ proc: Proc; child: ChildProcess; pid: number; port: number | null }> {
  const p = start('python3', [TARGET, '--tag', tag, ...args]);
  await p.until(() => p.stdout().includes('\n'), { what: `target ${tag}'s first line` });
  const { pid, port } = JSON.parse(p.stdout().split('\n')[0]!) as { pid: number; port: number | null };
  return { proc: p, child: p.child, pid, port };
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
    const fds = (grp: string, role = 'sut') => value(`redline_process_open_fds{${g(grp, role)}}`)!;
    const threads = (grp: string, role = 'sut') => value(`redline_process_threads{${g(grp, role)}}`)!;
    // 12 files and 5 bound UDP sockets: one descriptor each.
    expect(fds('io') - fds('base')).toBe(17);
    // One OS thread per worker_threads Worker.
    expect(threads('workers', 'injector') - threads('base')).toBe(3);
    expect(value('redline_injector_processes{group="workers"}')).toBe(1);
    await collector.stop();
  });

  it('separates user from system CPU and sees a saturated single thread', async () => {
    const tag = `cpu${process.pid}`;
    await target(`${tag}-user`, ['--burn', 'user']);
    await target(`${tag}-sys`, ['--burn', 'system']);
    const { collector, value } = setup([
      [`user=--tag ${tag}-user`, 'sut'],
      [`sys=--tag ${tag}-sys`, 'sut'],
    ]);
    await collector.tick();
    const u0 = value(`redline_process_cpu_seconds_total{${g('user')},mode="user"}`)!;
    await sleep(1500);
    await collector.tick();
    const uUser = value(`redline_process_cpu_seconds_total{${g('user')},mode="user"}`)! - u0;
    const uSys = value(`redline_process_cpu_seconds_total{${g('user')},mode="system"}`)!;
    expect(uUser).toBeGreaterThan(0.3);
    expect(uUser).toBeGreaterThan(uSys * 3);
    const sSys = value(`redline_process_cpu_seconds_total{${g('sys')},mode="system"}`)!;
    const sUser = value(`redline_process_cpu_seconds_total{${g('sys')},mode="user"}`)!;
    expect(sSys).toBeGreaterThan(sUser);
    // A single-threaded burner: its busiest thread is (nearly) all of its CPU. How much CPU it
    // gets depends on what else the 2-core machine runs, so the check is relative.
    const busiest = value(`redline_process_busiest_thread_cpu_ratio{${g('user')}}`)!;
    const cores = value(`redline_process_cpu_cores{${g('user')}}`)!;
    expect(cores).toBeGreaterThan(0.1);
    expect(busiest).toBeGreaterThan(0.8 * cores);
    expect(busiest).toBeLessThanOrEqual(1);
    expect(value(`redline_process_context_switches_total{${g('sys')},type="involuntary"}`)).toBeGreaterThanOrEqual(0);
    expect(value(`redline_process_runqueue_wait_seconds_total{${g('user')}}`)).toBeGreaterThanOrEqual(0);
    await collector.stop();
  });

  it('sees a thread that starts burning after it was idle (idle threads are read less often)', async () => {
    const tag = `wake${process.pid}`;
    await target(tag, ['--threads', '4', '--burn-thread-after', '1.2']);
    const { collector, value } = setup([[`api=--tag ${tag}`, 'sut']]);
    // Three readings while only the main thread runs a little: from then on the idle ones are skipped.
    for (let i = 0; i < 3; i++) {
      await collector.tick();
      await sleep(300);
    }
    expect(value(`redline_process_busiest_thread_cpu_ratio{${g('api')}}`)).toBeLessThan(0.5);
    await sleep(1200);
    await collector.tick();
    const busiest = value(`redline_process_busiest_thread_cpu_ratio{${g('api')}}`)!;
    const cores = value(`redline_process_cpu_cores{${g('api')}}`)!;
    expect(cores).toBeGreaterThan(0.1);
    expect(busiest).toBeGreaterThan(0.7 * cores);
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
    await sleep(1500);
    await collector.tick();
    // Linux queues backlog + 1 connections before it overflows.
    expect(value(`redline_listen_queue_length{${g('api')},port="${t.port}"}`)).toBe(4);
    for (let i = 0; i < 30 && value(`redline_listen_queue_limit{${g('api')},port="${t.port}"}`) === undefined; i++) {
      await sleep(100);
      await collector.tick();
    }
    expect(value(`redline_listen_queue_limit{${g('api')},port="${t.port}"}`)).toBe(3);
    expect(value('redline_host_tcp_listen_overflows_total')!).toBeGreaterThan(overflows0);
    await collector.stop();
  });

  it('finds a listener its process opens after it was first seen', async () => {
    const tag = `late${process.pid}`;
    const t = await target(tag, ['--late-listen', '2']);
    const { collector, value } = setup([[`api=--tag ${tag}`, 'sut']]);
    await collector.tick();
    const latePort = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('no late listener')), 5000);
      t.child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /"late_port": (\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
    });
    for (let i = 0; i < 2; i++) {
      const s = net.connect(latePort, '127.0.0.1');
      s.on('error', () => {});
      sockets.push(s);
    }
    await sleep(300);
    await collector.tick();
    expect(value(`redline_listen_queue_length{${g('api')},port="${latePort}"}`)).toBe(2);
    for (let i = 0; i < 30 && value(`redline_listen_queue_limit{${g('api')},port="${latePort}"}`) === undefined; i++) {
      await sleep(100);
      await collector.tick();
    }
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
    for (let i = 0; i < 12; i++) {
      await collector.tick();
      maxCount = Math.max(maxCount, value(`redline_process_count{${g('parent')}}`)!);
      const cpu = value(`redline_process_cpu_seconds_total{${g('parent')},mode="user"}`)!;
      expect(cpu).toBeGreaterThanOrEqual(lastCpu);
      lastCpu = cpu;
      await sleep(60);
    }
    expect(maxCount).toBeGreaterThan(1);
    expect(value(`redline_process_exited_total{${g('parent')}}`)).toBeGreaterThanOrEqual(1);
    await collector.stop();
  });

  it('tells the agent which group a pid belongs to', async () => {
    const tag = `who${process.pid}`;
    const t = await target(tag);
    const { collector } = setup([[`api=--tag ${tag}`, 'sut']]);
    expect(collector.groupOf(t.pid)).toEqual({ group: 'api', role: 'sut' });
    expect(collector.groupOf(process.pid)).toBeNull();
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
    fs.rmSync(root, { recursive: true, force: true });
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
