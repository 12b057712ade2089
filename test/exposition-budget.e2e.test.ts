/**
 * The byte budget on a real agent: histograms with 60 KB tag values (each bucket line repeats
 * them, so a few hundred series make hundreds of MB of text) still get a 200 and a valid
 * exposition, in both formats and gzip; what was left out is counted; /-/ready stays truthful.
 * A second agent with the default label value limit cuts the values and counts them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from './helpers/agent.js';
import { run, stopAll } from './helpers/process.js';
import { parseOpenMetrics } from './helpers/openmetrics.js';
import { valueOf } from './helpers/exposition.js';
import { waitFor } from './helpers/wait.js';
import { sendTcp } from './helpers/net.js';

const PROMTOOL = process.env['PROMTOOL'] ?? '/usr/bin/promtool';
const OM = 'application/openmetrics-text;version=1.0.0';
const BIG = 'x'.repeat(60_000);

async function get(agent: AgentProcess, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(`${agent.url}${path}`, { headers });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

afterAll(stopAll);

describe('the exposition byte budget', () => {
  it('answers 200 with a valid, budgeted body when the series would not fit, and counts what it left out', async () => {
    const agent = await startAgent(['--web.max-exposition-size=4MiB', '--web.max-label-value-length=64KiB', '--statsd.default-buckets=0.1,1']);
    try {
      expect((await get(agent, '/-/ready')).status).toBe(200);
      // 600 histograms × 5 lines × 60 KB ≈ 180 MB of text without a budget.
      const lines = Array.from({ length: 600 }, (_, i) => `lat.big:${i}|ms|#id:${i},blob:${BIG}`);
      for (let i = 0; i < lines.length; i += 50) await sendTcp(agent.tcpPort!, lines.slice(i, i + 50));
      await waitFor(async () => (valueOf(await agent.metrics(), 'redline_statsd_series{type="histogram"}') ?? 0) >= 600, { timeoutMs: 60_000, what: '600 histogram series' });

      const text = await get(agent, '/metrics', { 'accept-encoding': 'identity' });
      expect(text.status).toBe(200);
      expect(text.headers.get('transfer-encoding')).toBe('chunked');
      const bytes = Buffer.byteLength(text.body);
      // The statsd part stays under 4 MiB; own series (a few KB) come on top.
      expect(bytes).toBeLessThan(4 * 1024 * 1024 + 256 * 1024);
      const omitted = valueOf(text.body, 'redline_exposition_omitted_series{format="text"}')!;
      expect(omitted).toBeGreaterThan(500);
      expect(omitted).toBeLessThan(600);
      expect(valueOf(text.body, 'redline_exposition_truncated_total{format="text"}')).toBeGreaterThanOrEqual(1);
      expect(valueOf(text.body, 'redline_exposition_bytes{format="text"}')).toBeGreaterThan(3 * 1024 * 1024);
      // Own series are all there; the histograms served are whole.
      expect(valueOf(text.body, 'redline_statsd_lines_total')).toBe(600);
      const served = text.body.split('\n').filter((l) => l.startsWith('lat_big_count{'));
      expect(served.length).toBe(600 - omitted);
      expect(text.body.split('\n').filter((l) => l.startsWith('lat_big_bucket{')).length).toBe(served.length * 3);
      const r = await run(PROMTOOL, ['check', 'metrics'], { input: text.body, timeoutMs: 60_000 });
      expect(r.output).not.toMatch(/pars(e|ing) error|duplicate|invalid/i);

      const om = await get(agent, '/metrics', { accept: OM });
      expect(om.status).toBe(200);
      const fams = parseOpenMetrics(om.body);
      expect(fams.find((f) => f.name === 'lat_big')!.samples.length).toBeGreaterThan(0);
      expect(valueOf(om.body, 'redline_exposition_omitted_series{format="openmetrics"}')).toBeGreaterThan(500);
      // gzip (fetch decompresses) carries the same budgeted body.
      const gz = await get(agent, '/metrics', { 'accept-encoding': 'gzip' });
      expect(gz.headers.get('content-encoding')).toBe('gzip');
      expect(gz.body.split('\n').filter((l) => l.startsWith('lat_big_count{')).length).toBe(served.length);
      expect((await get(agent, '/-/ready')).status).toBe(200);
    } finally {
      await agent.stop();
    }
  }, 180_000);

  it('cuts label values to --web.max-label-value-length (4 KiB by default) and counts them', async () => {
    const agent = await startAgent();
    try {
      await sendTcp(agent.tcpPort!, [`lat.big:1|ms|#blob:${BIG}`, `lat.big:2|ms|#blob:${BIG}y`, `c.big:1|c|#blob:${'é'.repeat(3000)}`]);
      const text = await waitFor(async () => {
        const t = await agent.metrics();
        return (valueOf(t, 'redline_statsd_lines_total') ?? 0) >= 3 && t;
      }, { timeoutMs: 30_000, what: 'three lines' });
      const cut = 'x'.repeat(4096);
      // Both values share their first 4 KiB: one series holds both samples.
      expect(valueOf(text, `lat_big_count{blob="${cut}"}`)).toBe(2);
      expect(valueOf(text, `c_big{blob="${'é'.repeat(2048)}"}`)).toBe(1);
      expect(valueOf(text, 'redline_label_values_truncated_total')).toBe(2);
      expect(valueOf(text, 'redline_exposition_omitted_series{format="text"}')).toBe(0);
    } finally {
      await agent.stop();
    }
  }, 60_000);
});
