/**
 * The agent's HTTP surface against careless and hostile clients: scrapers that never read,
 * oversized requests, and health checks that must keep answering meanwhile.
 */
import { describe, it, expect, afterAll } from 'vitest';
import net from 'node:net';
import { startAgent, parseValue, type AgentProcess } from './helpers/agent.js';
import { stopAll } from './helpers/process.js';
import { waitFor } from './helpers/wait.js';

afterAll(stopAll);

/** Fills the agent with `n` gauge series over TCP and waits until all are counted. */
async function fill(agent: AgentProcess, n: number): Promise<void> {
  const tcp = net.connect(agent.tcpPort!, '127.0.0.1');
  await new Promise<void>((r) => tcp.once('connect', () => r()));
  const pad = 'x'.repeat(60);
  for (let i = 0; i < n; i += 500) {
    const lines: string[] = [];
    for (let j = i; j < i + 500 && j < n; j++) lines.push(`hostile.series_${j}:1|g|#pad:${pad}`);
    if (!tcp.write(lines.join('\n') + '\n')) await new Promise((r) => tcp.once('drain', r));
  }
  tcp.end();
  await waitFor(async () => parseValue(await agent.metrics(), 'redline_statsd_series{type="gauge"}') === n, { timeoutMs: 60_000, what: `${n} series` });
}

describe('scrapers that never read', () => {
  it('are capped, are closed after the write timeout, and health keeps answering', async () => {
    const agent = await startAgent(['--web.max-scrapes=8', '--web.write-timeout=10s']);
    await fill(agent, 40_000);
    const bodyBytes = (await agent.metrics()).length;
    expect(bodyBytes).toBeGreaterThan(4e6);
    // 30 clients ask for /metrics with a tiny receive window and never read.
    const clients: net.Socket[] = [];
    const answers: string[] = [];
    for (let i = 0; i < 30; i++) {
      const c = net.connect({ port: agent.httpPort, host: '127.0.0.1' });
      c.on('error', () => {});
      await new Promise<void>((r) => c.once('connect', () => r()));
      c.write('GET /metrics HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
      // Read only the first chunk (the status line), then stop reading.
      let seen = false;
      c.once('data', (d: Buffer) => {
        seen = true;
        answers.push(d.toString('latin1', 0, 12));
        c.pause();
      });
      // Closed by the agent before answering (a request it could not read within the timeout).
      c.once('close', () => {
        if (!seen) answers.push('closed');
      });
      clients.push(c);
    }
    await waitFor(() => answers.length === 30, { timeoutMs: 60_000, what: 'an answer for every client' });
    // At most --web.max-scrapes responses are in flight: the rest are told to come back. (A
    // response the kernel's socket buffers absorbed whole is no longer in flight, so a few more
    // than 8 may be served.)
    const served = answers.filter((a) => a === 'HTTP/1.1 200').length;
    const refused = answers.filter((a) => a === 'HTTP/1.1 503').length;
    expect(served).toBeGreaterThanOrEqual(1);
    expect(refused).toBeGreaterThan(0);
    expect(served + refused + answers.filter((a) => a === 'closed').length).toBe(30);
    // Health answers while they hang.
    expect((await fetch(`${agent.url}/-/healthy`)).status).toBe(200);
    expect((await fetch(`${agent.url}/-/ready`)).status).toBe(200);
    // After the write timeout the stalled ones are closed and counted, and scraping works again.
    const text = await waitFor(async () => {
      const t = await agent.metrics();
      return (parseValue(t, 'redline_http_connection_timeouts_total') ?? 0) >= 1 && t;
    }, { timeoutMs: 60_000, what: 'the stalled connections closed' });
    // At least those (the polls above may have been refused too while the slots were taken).
    expect(parseValue(text, 'redline_http_requests_refused_total{reason="scrape_limit"}')).toBeGreaterThanOrEqual(refused);
    for (const c of clients) c.destroy();
    await agent.stop();
  }, 180_000);
});

describe('requests', () => {
  it('refuses oversized headers and bodies without running a handler', async () => {
    const agent = await startAgent(['--web.enable-lifecycle']);
    const big = await fetch(`${agent.url}/metrics`, { headers: { 'x-junk': 'y'.repeat(20_000) } });
    expect(big.status).toBe(431);
    const body = await fetch(`${agent.url}/-/reload`, { method: 'POST', body: 'z'.repeat(100_000) });
    expect(body.status).toBe(413);
    const t = await agent.metrics();
    expect(parseValue(t, 'redline_http_requests_refused_total{reason="body_too_large"}')).toBe(1);
    expect(parseValue(t, 'redline_config_reloads_total{outcome="success"}')).toBe(0);
    await agent.stop();
  });
});
