/**
 * A real Prometheus (Debian's /usr/bin/prometheus) for end-to-end tests: scrapes the given
 * targets with the given rule files, on a free 127.0.0.1 port, its data in the caller's temp dir.
 * Stopped by PID like every process of ./process.js (`stop()` or `stopAll()`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { startAgent, type AgentProcess } from './agent.js';
import { freePort } from './net.js';
import { start, type Proc } from './process.js';
import { waitFor } from './wait.js';

export const PROMETHEUS = process.env['PROMETHEUS'] ?? '/usr/bin/prometheus';

export interface PrometheusOptions {
  /** A directory of the test's own; config, rules and data go there. */
  dir: string;
  /** host:port of each target, all in one job `redline` (honor_labels, like the shipped config). */
  targets: string[];
  /** Target labels (env, run). */
  labels?: Record<string, string>;
  /** Rule files' contents (YAML), written into `dir`. */
  rules?: string[];
  /** Feature flags (`--enable-feature=`), e.g. `native-histograms`. */
  features?: string[];
  scrapeInterval?: string;
  evaluationInterval?: string;
}

export interface PrometheusServer {
  proc: Proc;
  url: string;
  /** GET an /api/v1 endpoint; throws unless Prometheus answers `success`. */
  get<T>(api: string, params?: Record<string, string>): Promise<T>;
  /** An instant query's vector (empty when the query returns nothing or fails). */
  query(q: string): Promise<InstantSample[]>;
  /**
   * Waits (bounded) for a successful scrape of job `redline` that brought the agent's samples
   * from after `afterSeconds` (epoch seconds): up == 1 and a newer redline_statsd_lines_total.
   */
  scrapedAfter(afterSeconds: number, what: string): Promise<void>;
}

export interface InstantSample {
  metric: Record<string, string>;
  value: [number, string];
}

export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const ruleFiles = (opts.rules ?? []).map((r, i) => {
    const file = path.join(opts.dir, `rules-${i}.yml`);
    fs.writeFileSync(file, r);
    return file;
  });
  const interval = opts.scrapeInterval ?? '1s';
  fs.writeFileSync(
    path.join(opts.dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: interval, evaluation_interval: opts.evaluationInterval ?? interval },
      rule_files: ruleFiles,
      scrape_configs: [{ job_name: 'redline', honor_labels: true, scrape_interval: interval, scrape_timeout: interval, static_configs: [{ targets: opts.targets, labels: opts.labels ?? {} }] }],
    }),
  );
  const proc = start(PROMETHEUS, [
    `--config.file=${path.join(opts.dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(opts.dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
    ...(opts.features ?? []).map((f) => `--enable-feature=${f}`),
  ]);
  await waitFor(() => fetch(`${url}/-/ready`).then((r) => r.ok), { timeoutMs: 60_000, intervalMs: 200, what: 'Prometheus ready' });
  const get = async <T>(api: string, params: Record<string, string> = {}): Promise<T> => {
    const res = await fetch(`${url}${api}?${new URLSearchParams(params).toString()}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${api} ${JSON.stringify(params)}: ${body.error ?? res.status}`);
    return body.data;
  };
  const query = async (q: string): Promise<InstantSample[]> => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await res.json()) as { data?: { result?: InstantSample[] } };
    return body.data?.result ?? [];
  };
  const scrapedAfter = async (afterSeconds: number, what: string): Promise<void> => {
    await waitFor(
      async () => {
        const up = await query('up{job="redline"}');
        const ts = await query('timestamp(redline_statsd_lines_total)');
        return up[0]?.value[1] === '1' && Number(ts[0]?.value[1] ?? 0) > afterSeconds;
      },
      { timeoutMs: 60_000, what },
    );
  };
  return { proc, url, get, query, scrapedAfter };
}

export interface ScrapedAgent {
  agent: AgentProcess;
  prometheus: PrometheusServer;
  /** Stops Prometheus and the agent by pid and removes their temp dir. */
  stop(): Promise<void>;
}

/**
 * An agent reading a statsd_exporter mapping file, scraped every second by a real Prometheus,
 * both in a temp dir of their own (`redline-<name>-…`).
 */
export async function startScrapedAgent(opts: { name: string; mapping: string; features?: string[] }): Promise<ScrapedAgent> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `redline-${opts.name}-`));
  let agent: AgentProcess | undefined;
  let prometheus: PrometheusServer | undefined;
  const stop = async (): Promise<void> => {
    await prometheus?.proc.stop();
    await agent?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    fs.writeFileSync(path.join(dir, 'mapping.yml'), opts.mapping);
    agent = await startAgent([`--statsd.mapping-config=${path.join(dir, 'mapping.yml')}`]);
    prometheus = await startPrometheus({ dir, targets: [`127.0.0.1:${agent.httpPort}`], ...(opts.features ? { features: opts.features } : {}) });
  } catch (e) {
    await stop();
    throw e;
  }
  return { agent, prometheus, stop };
}
