/**
 * The unix datagram listener as statsd_exporter behaves: a path another live agent listens on is
 * refused (not stolen), a stale socket file is replaced, and errors carry their names and the path.
 */
import { describe, it, expect, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, ROOT, TEST_AGENT_FLAGS, startAgent, eventually, parseValue } from './helpers/agent.js';
import { run, start, stopAll } from './helpers/process.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-unixgram-'));
afterAll(async () => {
  await stopAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

const agentRun = (args: string[]) => run(process.execPath, [BIN, ...TEST_AGENT_FLAGS, ...args], { cwd: ROOT, timeoutMs: 60_000 });

describe('unix datagram path', () => {
  it('refuses a path a live agent listens on, and the first agent keeps receiving', async () => {
    const sock = path.join(dir, 'live.sock');
    const first = await startAgent([`--statsd.listen-unixgram=${sock}`]);
    const second = await agentRun([`--statsd.listen-unixgram=${sock}`]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`cannot listen on unixgram ${sock}: EADDRINUSE`);
    // The first one's socket is still there and still its own.
    const { createRequire } = await import('node:module');
    const unix = createRequire(import.meta.url)('unix-dgram') as { createSocket(t: string): { send(b: Buffer, o: number, l: number, p: string, cb?: () => void): void; close(): void } };
    const client = unix.createSocket('unix_dgram');
    const msg = Buffer.from('still.mine:1|c');
    client.send(msg, 0, msg.length, sock);
    client.close();
    const t = await eventually(() => first.metrics(), (x) => parseValue(x, 'still_mine') === 1);
    expect(parseValue(t, 'still_mine')).toBe(1);
    await first.stop();
  });

  it('replaces a stale socket file left by an agent that was killed', async () => {
    const sock = path.join(dir, 'stale.sock');
    const killed = start(process.execPath, [BIN, ...TEST_AGENT_FLAGS, `--statsd.listen-unixgram=${sock}`], { cwd: ROOT });
    await killed.until(() => killed.stderr().includes('redline agent started'));
    killed.signal('SIGKILL');
    await killed.exited;
    expect(fs.statSync(sock).isSocket()).toBe(true);
    const next = await startAgent([`--statsd.listen-unixgram=${sock}`]);
    expect(next.stderr()).toContain(`unixgram ${sock}`);
    await next.stop();
  });

  it('names the error and the path when the directory does not exist', async () => {
    const sock = path.join(dir, 'missing', 'x.sock');
    const r = await agentRun([`--statsd.listen-unixgram=${sock}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot listen on unixgram ${sock}: ENOENT`);
    expect(r.stderr).not.toMatch(/bind -\d+/);
  });
});
