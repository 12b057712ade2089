/**
 * Hostile names against statsd_exporter's documented regex mapping
 * (`(.*)\.(.*)--(.*)\.status\.(.*)\.count`) over a real TCP socket to the real agent: names that
 * miss it, names that match it (captures computed), names too long for its captures (refused and
 * counted), while another client's ordinary lines keep arriving. Asserts counts and values only;
 * what the names cost is measured in bench/hostile.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAgent, waitFor, type AgentProcess } from './helpers/agent.js';
import { parseExposition, valueWith } from './helpers/exposition.js';
import { sendTcp } from './helpers/net.js';
import { README_REGEX_MAPPING } from './fixtures/statsd-readme-mappings.js';

const running: AgentProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.stop()));
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const hostile = (unit: string, n: number): string => unit.repeat(Math.ceil(n / unit.length)).slice(0, n);

async function agentWithReadmeRegex(args: string[] = []): Promise<AgentProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-hostile-regex-'));
  dirs.push(dir);
  const mapping = path.join(dir, 'mapping.yml');
  fs.writeFileSync(mapping, `mappings:\n${README_REGEX_MAPPING}`);
  const agent = await startAgent([`--statsd.mapping-config=${mapping}`, ...args]);
  running.push(agent);
  return agent;
}

describe('hostile names against a regex mapping, over TCP', () => {
  it('misses, matches and refusals are each counted right, and another client loses nothing', { timeout: 180_000 }, async () => {
    const agent = await agentWithReadmeRegex();

    // 24 unique names of ~60 KB that miss the rule (three shapes that make a backtracking engine
    // try every split), 30 unique 4,000-character ones that match it and land on one series, and
    // 12 unique 20 KB ones that match it, past --statsd.regex-max-name-length (4,096).
    const shapes = ['x.', 'a.b--', 'a.b--c.status.'];
    const misses = Array.from({ length: 24 }, (_, i) => `${hostile(shapes[i % 3]!, 60_000)}${i}:1|c`);
    const matches = Array.from({ length: 30 }, (_, i) => `h.e--p.status.200.count.${i}${hostile('x.', 4000)}:2|c`);
    const tooLong = Array.from({ length: 12 }, (_, i) => `h.e--p.status.500.count.${i}${hostile('x.', 20_000)}:1|c`);
    const hostileLines: string[] = [];
    for (let i = 0; i < 30; i++) {
      if (i < misses.length) hostileLines.push(misses[i]!);
      hostileLines.push(matches[i]!);
      if (i < tooLong.length) hostileLines.push(tooLong[i]!);
    }
    const good = Array.from({ length: 3000 }, (_, i) => `other.client.requests:1|c|#shard:${i % 3}`);

    // The two clients on their own connections at once, and a health check while they send.
    let healthyWhileFlooded = 0;
    await Promise.all([
      sendTcp(agent.tcpPort!, hostileLines),
      sendTcp(agent.tcpPort!, good),
      (async () => {
        const res = await fetch(`${agent.url}/-/healthy`, { signal: AbortSignal.timeout(60_000) });
        if (res.status === 200) healthyWhileFlooded++;
        await res.text();
      })(),
    ]);
    const total = hostileLines.length + good.length;
    await waitFor(async () => (await agent.value('redline_statsd_lines_total')) === total, { timeoutMs: 120_000, what: `all ${total} lines read` });

    const text = await agent.metrics();
    const scrape = parseExposition(text);
    const value = (name: string, labels: Record<string, string> = {}): number | undefined => valueWith(text, name, labels);

    expect(healthyWhileFlooded).toBe(1);
    // Every line parsed; the refused ones are dropped samples, not rejected lines.
    expect(value('redline_statsd_lines_accepted_total')).toBe(total);
    expect(value('redline_statsd_samples_total', { type: 'counter' })).toBe(total);
    expect(value('redline_statsd_dropped_total', { reason: 'regex_name_too_long' })).toBe(tooLong.length);
    for (const reason of ['series_limit', 'type_conflict', 'name_conflict', 'label_conflict', 'internal_error']) {
      expect(value('redline_statsd_dropped_total', { reason }), reason).toBe(0);
    }
    // The 30 matching names: one series, captures from the name.
    expect(value('request_total', { hostname: 'h', exec: 'e', protocol: 'p', code: '200' })).toBe(60);
    expect(scrape.get('request_total')!.length).toBe(1);
    // The misses: the default mapping, one escaped series each.
    const unmatched = [...scrape.keys()].filter((n) => n.length > 40_000);
    expect(unmatched.length).toBe(misses.length);
    for (const n of unmatched) expect(scrape.get(n)!.map((s) => s.value)).toEqual([1]);
    // The other client: every line applied.
    for (const shard of ['0', '1', '2']) expect(value('other_client_requests', { shard })).toBe(1000);
  });

  it('--statsd.regex-max-name-length moves the limit; 0 removes it', { timeout: 120_000 }, async () => {
    const long = `h.e--p.status.500.count.${hostile('x.', 20_000)}:1|c`;
    const short = `h.e--p.status.404.count.${hostile('x.', 200)}:1|c`;
    const unlimited = await agentWithReadmeRegex(['--statsd.regex-max-name-length=0']);
    const tight = await agentWithReadmeRegex(['--statsd.regex-max-name-length=100']);
    for (const agent of [unlimited, tight]) {
      await sendTcp(agent.tcpPort!, [long, short]);
      await waitFor(async () => (await agent.value('redline_statsd_lines_total')) === 2, { timeoutMs: 60_000, what: 'both lines read' });
    }
    const codes = async (agent: AgentProcess): Promise<(number | undefined)[]> => {
      const text = await agent.metrics();
      return ['500', '404'].map((code) => valueWith(text, 'request_total', { hostname: 'h', exec: 'e', protocol: 'p', code }));
    };
    expect(await codes(unlimited)).toEqual([1, 1]);
    expect(await unlimited.value('redline_statsd_dropped_total{reason="regex_name_too_long"}')).toBe(0);
    expect(await codes(tight)).toEqual([undefined, undefined]);
    expect(await tight.value('redline_statsd_dropped_total{reason="regex_name_too_long"}')).toBe(2);
  });
});
