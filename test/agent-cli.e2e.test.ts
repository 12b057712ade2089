/**
 * The agent as a user runs it: --help, bad configuration, a port already taken, mapping reload
 * through SIGHUP and POST /-/reload, content negotiation, the landing page in a real browser.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAgent, eventually, parseValue, BIN, ROOT, TEST_AGENT_FLAGS, type AgentProcess } from './helpers/agent.js';
import { start } from './helpers/process.js';
import { sendUdp } from './helpers/net.js';
import { CHROMIUM } from '../scripts/chromium.js';

const running: AgentProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.stop()));
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-cli-'));
  dirs.push(d);
  return d;
}

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('redline command line', () => {
  it('prints help with statsd_exporter flag names', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const flag of ['--statsd.listen-udp', '--statsd.listen-tcp', '--statsd.listen-unixgram', '--statsd.mapping-config', '--web.listen-address', '--web.telemetry-path', '--statsd.max-series', '--sut', '--injector']) {
      expect(r.stdout).toContain(flag);
    }
  });

  it('refuses an unknown flag with a clear message', () => {
    const r = run(['--statsd.listen-udpp=:1']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('unknown flag --statsd.listen-udpp');
  });

  it('refuses a bad mapping file naming the file and the line', () => {
    const file = path.join(tmp(), 'bad.yml');
    fs.writeFileSync(file, 'mappings:\n  - match: "a.*"\n    name: "ok"\n  - match: "b.*"\n    match_type: regex\n    name: "bad["\n');
    const r = run([`--statsd.mapping-config=${file}`, '--statsd.listen-udp=127.0.0.1:0', '--statsd.listen-tcp=', '--web.listen-address=127.0.0.1:0']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/:\d+/);
    expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
  });

  it('checks a configuration without starting', () => {
    const file = path.join(tmp(), 'good.yml');
    fs.writeFileSync(file, 'mappings:\n  - match: "a.*"\n    name: "a_$1"\n');
    const r = run([`--statsd.mapping-config=${file}`, '--check-config']);
    expect(r.stdout).toContain('configuration is valid');
    expect(r.status).toBe(0);
  });

  it('--check-config exits 1 on a bad mapping file (as statsd_exporter) and writes --debug.dump-fsm first', () => {
    const d = tmp();
    const bad = path.join(d, 'bad.yml');
    fs.writeFileSync(bad, 'mappings:\n  - match: "a.*"\n    nme: x\n');
    const r = run([`--statsd.mapping-config=${bad}`, '--check-config']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${bad}:3: unknown key "nme"`);

    // statsd_exporter's FSM README example: two counter globs sharing client.*.
    const good = path.join(d, 'good.yml');
    fs.writeFileSync(good, 'mappings:\n- match: client.*.request.count\n  name: request_count\n  match_metric_type: counter\n- match: client.*.*.size\n  name: sizes\n  match_metric_type: counter\n');
    const dot = path.join(d, 'dump.dot');
    const ok = run([`--statsd.mapping-config=${good}`, `--debug.dump-fsm=${dot}`, '--check-config']);
    expect(ok.status).toBe(0);
    const graph = fs.readFileSync(dot, 'utf8');
    expect(graph.startsWith('digraph g {\nrankdir=LR\n')).toBe(true);
    expect(graph.trimEnd().endsWith('}')).toBe(true);
    const edges = [...graph.matchAll(/^(\d+) -> (\d+) {2}\[label = "([^"]*)"\];$/gm)].map((m) => [Number(m[1]), Number(m[2]), m[3]]);
    expect(edges).toEqual([
      [0, 1, 'counter'],
      [0, 2, 'gauge'],
      [0, 3, 'observer'],
      [1, 4, 'client'],
      [4, 5, '*'],
      [5, 6, 'request'],
      [5, 7, '*'],
      [6, 8, 'count'],
      [7, 9, 'size'],
    ]);
    // End states (green): the two results.
    expect([...graph.matchAll(/^(\d+) \[color="#82B366"/gm)].map((m) => Number(m[1]))).toEqual([8, 9]);

    // A path that cannot be written is reported, not fatal (as statsd_exporter).
    const unwritable = run([`--statsd.mapping-config=${good}`, `--debug.dump-fsm=${path.join(d, 'missing', 'dump.dot')}`, '--check-config']);
    expect(unwritable.status).toBe(0);
    expect(unwritable.stderr).toContain('error dumping FSM');
  });

  it('reports a port that is already taken, without a stack trace', async () => {
    const agent = await startAgent();
    running.push(agent);
    const r = run([`--statsd.listen-udp=127.0.0.1:${agent.udpPort}`, '--statsd.listen-tcp=', '--web.listen-address=127.0.0.1:0']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`cannot listen on UDP 127.0.0.1:${agent.udpPort}`);
    expect(r.stderr).toContain('already in use');
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('reads settings from --config and lets flags win', async () => {
    const d = tmp();
    fs.writeFileSync(path.join(d, 'redline.yaml'), 'statsd:\n  max-series: 7\n  parse_dogstatsd_tags: false\nweb:\n  telemetry-path: /m\n');
    const agent = await startAgent([`--config=${path.join(d, 'redline.yaml')}`, '--web.telemetry-path=/metrics']);
    running.push(agent);
    const text = await agent.metrics();
    expect(parseValue(text, 'redline_statsd_max_series')).toBe(7);
  });

  it('refuses a config file with an unknown setting, naming file and line', () => {
    const f = path.join(tmp(), 'redline.yaml');
    fs.writeFileSync(f, 'statsd:\n  listen-udp: ":0"\n  bogus: 1\n');
    const r = run([`--config=${f}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${f}:3`);
    expect(r.stderr).toContain('statsd.bogus');
  });

  it('refuses a bad process group in the config file, naming file and line, also with --check-config', () => {
    const f = path.join(tmp(), 'redline.yaml');
    fs.writeFileSync(f, 'host:\n  process_groups:\n    - name: db\n      role: database\n      comm: postgres\n');
    for (const extra of [[], ['--check-config']]) {
      const r = run([`--config=${f}`, ...extra]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`${f}:4: host.process_groups[0] (db): role must be sut, injector or other`);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });

  it('reads settings from the environment, under the flags', async () => {
    const agent = await startAgent(['--statsd.max-series=11'], { REDLINE_STATSD_MAX_SERIES: '5', REDLINE_STATSD_CACHE_SIZE: '77' });
    running.push(agent);
    const text = await agent.metrics();
    expect(parseValue(text, 'redline_statsd_max_series')).toBe(11);
    const bad = spawnSync(process.execPath, [BIN, '--check-config'], { cwd: ROOT, encoding: 'utf8', timeout: 20_000, env: { ...process.env, REDLINE_HOST_INTERVAL: 'often' } });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('environment variable REDLINE_HOST_INTERVAL: invalid duration "often"');
  });
});

describe('host collector in the agent', () => {
  it('never counts the agent itself, even when its own command line holds the pattern', async () => {
    const token = `selfcheck-${process.pid}-${Date.now()}`;
    const agent = await startAgent(['--host.enabled=true', '--host.interval=200ms', `--injector=self=${token}`]);
    running.push(agent);
    const text = await eventually(() => agent.metrics(), (t) => (parseValue(t, 'redline_host_collector_ticks_total') ?? 0) >= 2);
    expect(parseValue(text, 'redline_injector_processes{group="self"}')).toBe(0);
    expect(parseValue(text, 'redline_process_count{group="self",role="injector"}')).toBe(0);
  });
});

describe('mapping reload', () => {
  it('reloads on SIGHUP and POST /-/reload, and keeps the old mapping when the new one is bad', async () => {
    const file = path.join(tmp(), 'mapping.yml');
    fs.writeFileSync(file, 'mappings:\n  - match: "app.*.hits"\n    name: "hits_v1"\n    labels:\n      svc: "$1"\n');
    const agent = await startAgent([`--statsd.mapping-config=${file}`, '--web.enable-lifecycle']);
    running.push(agent);
    await sendUdp(agent.udpPort!, 'app.api.hits:1|c');
    expect(parseValue(await eventually(() => agent.metrics(), (t) => t.includes('hits_v1{')), 'hits_v1{svc="api"}')).toBe(1);

    fs.writeFileSync(file, 'mappings:\n  - match: "app.*.hits"\n    name: "hits_v2"\n    labels:\n      svc: "$1"\n');
    process.kill(agent.pid, 'SIGHUP');
    await eventually(() => agent.metrics(), (t) => parseValue(t, 'redline_config_reloads_total{outcome="success"}') === 1);
    await sendUdp(agent.udpPort!, 'app.api.hits:1|c');
    expect(parseValue(await eventually(() => agent.metrics(), (t) => t.includes('hits_v2{')), 'hits_v2{svc="api"}')).toBe(1);

    fs.writeFileSync(file, 'mappings:\n  - match: "app.*.hits"\n    name: "hits v3 not valid"\n');
    const res = await fetch(`${agent.url}/-/reload`, { method: 'POST' });
    expect(res.status).toBe(500);
    expect(await res.text()).toContain(file);
    await sendUdp(agent.udpPort!, 'app.api.hits:1|c');
    const text = await eventually(() => agent.metrics(), (t) => parseValue(t, 'hits_v2{svc="api"}') === 2);
    expect(parseValue(text, 'hits_v2{svc="api"}')).toBe(2);
    expect(parseValue(text, 'redline_config_reloads_total{outcome="failure"}')).toBe(1);

    fs.writeFileSync(file, 'mappings:\n  - match: "app.*.hits"\n    name: "hits_v4"\n');
    expect((await fetch(`${agent.url}/-/reload`, { method: 'POST' })).status).toBe(200);
    await sendUdp(agent.udpPort!, 'app.api.hits:1|c');
    expect(parseValue(await eventually(() => agent.metrics(), (t) => t.includes('hits_v4 ')), 'hits_v4')).toBe(1);
  });
});

describe('lifecycle endpoints', () => {
  it('are off by default: POST /-/reload and /-/quit are refused, SIGHUP still reloads', async () => {
    const file = path.join(tmp(), 'mapping.yml');
    fs.writeFileSync(file, 'mappings:\n  - match: "app.*.hits"\n    name: "hits_v1"\n');
    const agent = await startAgent([`--statsd.mapping-config=${file}`]);
    running.push(agent);
    fs.writeFileSync(file, 'mappings:\n  - match: "app.*.hits"\n    name: "hits_v2"\n');
    const reload = await fetch(`${agent.url}/-/reload`, { method: 'POST' });
    expect(reload.status).toBe(403);
    expect(await reload.text()).toContain('--web.enable-lifecycle');
    expect((await fetch(`${agent.url}/-/quit`, { method: 'POST' })).status).toBe(403);
    expect(parseValue(await agent.metrics(), 'redline_config_reloads_total{outcome="success"}')).toBe(0);
    expect(agent.proc.running()).toBe(true);
    process.kill(agent.pid, 'SIGHUP');
    const text = await eventually(() => agent.metrics(), (t) => parseValue(t, 'redline_config_reloads_total{outcome="success"}') === 1);
    expect(parseValue(text, 'redline_config_reloads_total{outcome="success"}')).toBe(1);
  });

  it('queues a SIGHUP that arrives while it is still starting (a large mapping file) instead of dying', async () => {
    const file = path.join(tmp(), 'big.yml');
    const rules: string[] = ['mappings:'];
    for (let i = 0; i < 40_000; i++) rules.push(`  - match: "svc${i}.*.hits"\n    name: "hits_${i}"\n    labels:\n      route: "$1"`);
    fs.writeFileSync(file, rules.join('\n') + '\n');
    const proc = start(process.execPath, [BIN, ...TEST_AGENT_FLAGS, `--statsd.mapping-config=${file}`], { cwd: ROOT });
    try {
      await proc.until(() => proc.stderr().includes('redline agent starting'), { timeoutMs: 60_000, what: 'the start-up line' });
      // The mapping file is being read now: the agent is not ready.
      proc.signal('SIGHUP');
      await proc.until(() => proc.stderr().includes('redline agent started'), { timeoutMs: 120_000, what: 'the agent started' });
      await proc.until(() => proc.stderr().includes('configuration reloaded'), { timeoutMs: 120_000, what: 'the queued reload' });
      expect(proc.running()).toBe(true);
    } finally {
      await proc.stop();
    }
  }, 240_000);

  it('refuse a cross-site browser request when enabled, and accept curl-style and same-origin ones', async () => {
    const agent = await startAgent(['--web.enable-lifecycle']);
    running.push(agent);
    const post = (headers: Record<string, string>) => fetch(`${agent.url}/-/reload`, { method: 'POST', headers });
    // What a page on another site gets from a form POST or fetch() to the agent.
    expect((await post({ origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(403);
    expect((await post({ 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post({ origin: 'null' })).status).toBe(403);
    expect(parseValue(await agent.metrics(), 'redline_config_reloads_total{outcome="success"}')).toBe(0);
    expect((await post({})).status).toBe(200);
    expect((await post({ origin: agent.url, 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    expect(parseValue(await agent.metrics(), 'redline_config_reloads_total{outcome="success"}')).toBe(2);
    // And /-/quit stops it.
    expect((await fetch(`${agent.url}/-/quit`, { method: 'POST', headers: { origin: 'http://evil.example' } })).status).toBe(403);
    expect((await fetch(`${agent.url}/-/quit`, { method: 'POST' })).status).toBe(200);
    expect((await agent.proc.exited).code).toBe(0);
  });
});

describe('IPv6', () => {
  it('listens for statsd on [::1] (UDP and TCP) and serves HTTP on [::1]', async () => {
    const agent = await startAgent(['--statsd.listen-udp=[::1]:0', '--statsd.listen-tcp=[::1]:0', '--web.listen-address=[::1]:0']);
    running.push(agent);
    const udp = dgram.createSocket('udp6');
    await new Promise<void>((r) => udp.send('v6.udp:2|c', agent.udpPort!, '::1', () => r()));
    udp.close();
    const tcp = net.connect(agent.tcpPort!, '::1');
    await new Promise<void>((r) => tcp.once('connect', () => r()));
    tcp.end('v6.tcp:3|c\n');
    const url = `http://[::1]:${agent.httpPort}/metrics`;
    const text = await eventually(() => fetch(url).then((r) => r.text()), (t) => parseValue(t, 'v6_udp') === 2 && parseValue(t, 'v6_tcp') === 3);
    expect(parseValue(text, 'v6_udp')).toBe(2);
    expect(parseValue(text, 'v6_tcp')).toBe(3);
  });
});

describe('HTTP endpoints', () => {
  it('negotiates OpenMetrics, serves health endpoints, and stops cleanly on SIGTERM', async () => {
    const agent = await startAgent();
    await sendUdp(agent.udpPort!, 'om.count_total:2|c\nom.plain:1|c\nom.g:1|g');
    const text = await eventually(() => agent.metrics(), (t) => t.includes('om_g'));
    expect(text).toContain('# TYPE om_plain counter');
    const res = await fetch(`${agent.url}/metrics`, { headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' } });
    expect(res.headers.get('content-type')).toContain('application/openmetrics-text');
    const om = await res.text();
    expect(om).toContain('# TYPE om_count counter');
    expect(om).toContain('om_count_total 2');
    // Kept under its statsd_exporter name: served as unknown rather than renamed to om_plain_total.
    expect(om).toContain('# TYPE om_plain unknown');
    expect(om.endsWith('# EOF\n')).toBe(true);
    expect((await fetch(`${agent.url}/-/healthy`)).status).toBe(200);
    expect((await fetch(`${agent.url}/-/ready`)).status).toBe(200);
    expect((await fetch(`${agent.url}/-/reload`)).status).toBe(403);
    expect((await fetch(`${agent.url}/nope`)).status).toBe(404);
    expect(await agent.stop()).toBe(0);
  });

  it('shows a landing page that a real browser renders with working links', async () => {
    const agent = await startAgent();
    running.push(agent);
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch(CHROMIUM);
    try {
      // The start-up line names where to open the live view: the port it bound.
      const liveView = /live_view="([^"]+)"/.exec(agent.stderr())?.[1];
      expect(liveView).toBe(`${agent.url}/`);
      const page = await browser.newPage();
      await page.goto(liveView!);
      // The live view is the landing page; the agent's links and status sit in its corner.
      expect(await page.textContent('h1')).toContain('Redline');
      await page.click('nav.corner summary');
      expect(await page.textContent('#status')).toContain('statsd udp 127.0.0.1:');
      await page.click('a[href="/metrics"]');
      expect(await page.textContent('body')).toContain('redline_statsd_lines_total');
    } finally {
      await browser.close();
    }
  });
});
