/**
 * The relay as statsd_exporter's (`--statsd.relay.address`): lines from every listener (UDP, TCP,
 * unixgram), valid or not, reach another statsd server over UDP unchanged, packed into datagrams
 * of at most `--statsd.relay.packet-length` bytes; a longer line is not relayed and is counted.
 */
import { describe, it, expect, afterAll } from 'vitest';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { startAgent, waitFor, parseValue, type AgentProcess } from './helpers/agent.js';
import { sendTcp, sendUdp } from './helpers/net.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-relay-'));
const agents: AgentProcess[] = [];
const sockets: dgram.Socket[] = [];
afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  for (const s of sockets) s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});


function sendUnixgram(sock: string, text: string): void {
  const unix = createRequire(import.meta.url)('unix-dgram') as { createSocket(t: string): { send(b: Buffer, o: number, l: number, p: string): void; close(): void } };
  const client = unix.createSocket('unix_dgram');
  const msg = Buffer.from(text);
  client.send(msg, 0, msg.length, sock);
  client.close();
}

describe('statsd relay', () => {
  it('forwards the lines of every listener, packed up to the packet length; long lines are counted, not sent', async () => {
    const target = dgram.createSocket('udp4');
    sockets.push(target);
    const datagrams: Buffer[] = [];
    target.on('message', (m) => datagrams.push(m));
    await new Promise<void>((r) => target.bind(0, '127.0.0.1', () => r()));
    const sock = path.join(dir, 'statsd.sock');
    const agent = await startAgent([`--statsd.relay.address=127.0.0.1:${target.address().port}`, '--statsd.relay.packet-length=64', `--statsd.listen-unixgram=${sock}`]);
    agents.push(agent);

    const long = `long.name:${'1'.repeat(70)}|c`;
    await sendUdp(agent.udpPort!, 'udp.a:1|c\nudp.b:2|g\n\nnot a statsd line\r\n');
    await sendTcp(agent.tcpPort!, `tcp.a:1|c\n${long}\ntcp.b:3|ms\n`);
    sendUnixgram(sock, 'unix.a:1|c');
    const expected = ['udp.a:1|c', 'udp.b:2|g', 'not a statsd line', 'tcp.a:1|c', 'tcp.b:3|ms', 'unix.a:1|c'];

    const lines = (): string[] => datagrams.flatMap((d) => d.toString().split('\n').slice(0, -1));
    await waitFor(() => lines().length >= expected.length, { timeoutMs: 15_000, what: 'the relayed lines' });
    expect(lines().sort()).toEqual([...expected].sort());
    for (const d of datagrams) {
      expect(d.length).toBeLessThanOrEqual(64);
      expect(d.at(-1)).toBe(10);
    }
    // Packed: fewer datagrams than lines.
    expect(datagrams.length).toBeLessThan(expected.length);

    const text = await agent.metrics();
    expect(parseValue(text, 'redline_statsd_relayed_lines_total')).toBe(expected.length);
    expect(parseValue(text, 'redline_statsd_relay_long_lines_total')).toBe(1);
    expect(parseValue(text, 'redline_statsd_relayed_packets_total')).toBe(datagrams.length);
    // The agent itself still ingested what it relayed.
    expect(parseValue(text, 'udp_a')).toBe(1);
    expect(parseValue(text, 'unix_a')).toBe(1);
    expect(parseValue(text, 'long_name')).toBeGreaterThan(0);
  });
});
