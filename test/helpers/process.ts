/**
 * The one way tests start and stop child processes. Every process started here is tracked; a
 * test file stops the rest with `stopAll()` in afterAll. Stopping is by PID: SIGTERM, then
 * SIGKILL after a grace period, and the promise resolves only once the child has exited (Node has
 * reaped it), so no test leaves a process behind.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** Output kept per stream; older output is dropped (a chatty child cannot fill the test's heap). */
const MAX_OUTPUT_CHARS = 4 * 1024 * 1024;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  cwd?: string;
  /** Added to (not replacing) the test's environment. */
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  input?: string;
  /** Start the child as a process-group leader and signal the whole group on stop. */
  group?: boolean;
}

export interface Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr as they arrived. */
  output(): string;
  /** Resolves when the child has exited. */
  readonly exited: Promise<Exit>;
  /** Resolves when its stdout and stderr have ended as well. */
  readonly closed: Promise<void>;
  running(): boolean;
  /** Resolves when `cond(output)` holds; rejects on the deadline or when the child exits first. */
  until(cond: (output: string) => boolean, opts?: { timeoutMs?: number; what?: string }): Promise<string>;
  /** SIGTERM, SIGKILL after `graceMs`, resolved once exited. */
  stop(graceMs?: number): Promise<Exit>;
  /** Sends a signal by PID if the child is still running. */
  signal(sig: NodeJS.Signals): void;
}

const tracked = new Set<Proc>();

function append(buf: string, d: string): string {
  const s = buf + d;
  return s.length > MAX_OUTPUT_CHARS ? s.slice(s.length - MAX_OUTPUT_CHARS) : s;
}

export function start(cmd: string, args: string[], opts: StartOptions = {}): Proc {
  const spawnOpts: SpawnOptions = {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    detached: opts.group === true,
  };
  const child = spawn(cmd, args, spawnOpts);
  let out = '';
  let err = '';
  let all = '';
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const l of [...listeners]) l();
  };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out = append(out, d);
    all = append(all, d);
    notify();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err = append(err, d);
    all = append(all, d);
    notify();
  });
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  let exit: Exit | null = null;
  const exited = new Promise<Exit>((resolve) => {
    const done = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (exit) return;
      exit = { code, signal };
      tracked.delete(proc);
      notify();
      resolve(exit);
    };
    child.once('exit', done);
    // spawn reports ENOENT and the like as 'error' (and no 'exit').
    child.once('error', () => done(null, null));
  });
  /** stdout and stderr have ended too (a grandchild may hold them open: callers bound this). */
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const pid = child.pid ?? -1;
  const signal = (sig: NodeJS.Signals): void => {
    if (exit || pid < 0) return;
    try {
      process.kill(opts.group ? -pid : pid, sig);
    } catch {
      // Exited between the check and the signal.
    }
  };
  const proc: Proc = {
    child,
    pid,
    stdout: () => out,
    stderr: () => err,
    output: () => all,
    exited,
    closed,
    running: () => exit === null,
    until: (cond, o = {}) => {
      const timeoutMs = o.timeoutMs ?? 20_000;
      return new Promise<string>((resolve, reject) => {
        const check = (): void => {
          if (cond(all)) finish(() => resolve(all));
          else if (exit) finish(() => reject(new Error(`${cmd} exited (${exit!.code ?? exit!.signal}) before ${o.what ?? 'the condition'}:\n${all.slice(-4000)}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`${cmd}: no ${o.what ?? 'condition'} within ${timeoutMs} ms:\n${all.slice(-4000)}`))), timeoutMs);
        const finish = (f: () => void): void => {
          clearTimeout(timer);
          listeners.delete(check);
          f();
        };
        listeners.add(check);
        check();
      });
    },
    signal,
    stop: async (graceMs = 5000) => {
      if (exit) return exit;
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  tracked.add(proc);
  return proc;
}

/** Runs a command to completion; past `timeoutMs` it is stopped and the promise rejects. */
export async function run(cmd: string, args: string[], opts: StartOptions & { timeoutMs?: number } = {}): Promise<Exit & { stdout: string; stderr: string; output: string }> {
  const p = start(cmd, args, opts);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void p.stop();
  }, timeoutMs);
  const exit = await p.exited;
  clearTimeout(timer);
  await Promise.race([p.closed, new Promise((r) => setTimeout(r, 2000))]);
  if (timedOut) throw new Error(`${cmd} ${args.join(' ')} did not finish within ${timeoutMs} ms:\n${p.output().slice(-4000)}`);
  return { ...exit, stdout: p.stdout(), stderr: p.stderr(), output: p.output() };
}

/** Stops every process this test file started that is still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...tracked].map((p) => p.stop()));
}
