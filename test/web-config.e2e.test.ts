/**
 * `--web.config.file` (exporter-toolkit's format) against the real agent, with Debian's curl and
 * a real Prometheus: TLS, basic auth with bcrypt hashes, client certificates, headers, every
 * endpoint behind it, SIGHUP reloads (a bad file keeps the previous one), and a flood of wrong
 * passwords that is answered without reaching the event loop.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { startAgent, type AgentProcess } from './helpers/agent.js';
import { start, run, stopAll, type Proc } from './helpers/process.js';
import { waitFor } from './helpers/wait.js';
import { freePort } from './helpers/net.js';
import { valueWith } from './helpers/exposition.js';
import { makeCerts, type TestCerts } from './helpers/tls.js';

const PROMETHEUS = process.env['PROMETHEUS'] ?? '/usr/bin/prometheus';
const CURL = process.env['CURL'] ?? 'curl';

let dir = '';
let certs: TestCerts;
// Cost 4 keeps the test quick; the agent reads any cost.
const HASH = bcrypt.hashSync('s3cret', 4);
const HASH2 = bcrypt.hashSync('n3w-s3cret', 4);

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-webcfg-'));
  certs = makeCerts(path.join(dir, 'certs'));
});
afterAll(async () => {
  await stopAll();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

interface CurlResult {
  /** curl's exit code: 0 when an HTTP answer came back. */
  exit: number | null;
  status: number;
  headers: Record<string, string>;
  body: string;
  stderr: string;
}

async function curl(url: string, args: string[] = []): Promise<CurlResult> {
  const r = await run(CURL, ['-sS', '-i', '--max-time', '20', ...args, url], { timeoutMs: 30_000 });
  const text = r.stdout;
  const split = text.indexOf('\r\n\r\n');
  const head = split === -1 ? '' : text.slice(0, split);
  const lines = head.split('\r\n');
  const status = Number(/^HTTP\/[\d.]+ (\d+)/.exec(lines[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    if (c > 0) headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
  }
  return { exit: r.code, status, headers, body: split === -1 ? '' : text.slice(split + 4), stderr: r.stderr };
}

function writeConfig(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

const tlsAndAuth = (hash: string, extraTls = ''): string =>
  `tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.serverKey}\n${extraTls}` +
  `http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n` +
  `basic_auth_users:\n  alice: ${hash}\n`;

/** The agent's own counter of refusals for one reason, read with the credentials. */
async function refused(agent: AgentProcess, reason: string, auth: string[]): Promise<number | undefined> {
  const r = await curl(`https://127.0.0.1:${agent.httpPort}/metrics`, ['--cacert', certs.ca, ...auth]);
  return valueWith(r.body, 'redline_http_requests_refused_total', { reason });
}

describe('TLS and basic auth', () => {
  let agent: AgentProcess;
  let file: string;
  const good = ['-u', 'alice:s3cret'];
  const ca = (): string[] => ['--cacert', certs.ca];
  const url = (p: string): string => `https://127.0.0.1:${agent.httpPort}${p}`;

  beforeAll(async () => {
    file = writeConfig('web.yml', tlsAndAuth(HASH));
    agent = await startAgent([`--web.config.file=${file}`]);
  });
  afterAll(async () => {
    await agent?.stop();
  });

  it('refuses requests without credentials or with a wrong password: 401 with WWW-Authenticate', async () => {
    const none = await curl(url('/metrics'), ca());
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Basic');
    const wrong = await curl(url('/metrics'), [...ca(), '-u', 'alice:wrong']);
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toBe('Basic');
    const nobody = await curl(url('/metrics'), [...ca(), '-u', 'mallory:s3cret']);
    expect(nobody.status).toBe(401);
    expect(await refused(agent, 'unauthorized', good)).toBe(3);
  });

  it('serves every endpoint with the right credentials, with the configured headers', async () => {
    for (const p of ['/metrics', '/-/healthy', '/-/ready', '/', '/api/v1/analysis', '/api/v1/live']) {
      const r = await curl(url(p), [...ca(), ...good]);
      expect(r.status, p).toBe(200);
      expect(r.headers['x-frame-options'], p).toBe('deny');
      expect(r.headers['strict-transport-security'], p).toBe('max-age=31536000');
      const bare = await curl(url(p), ca());
      expect(bare.status, p).toBe(401);
    }
    const m = await curl(url('/metrics'), [...ca(), ...good]);
    expect(valueWith(m.body, 'redline_http_requests_refused_total', { reason: 'plain_http_on_tls' })).toBe(0);
    // The live view's event stream: its first bytes come through TLS and auth too.
    const sse = await curl(url('/api/v1/live/events'), [...ca(), ...good, '--max-time', '3']);
    expect(sse.status).toBe(200);
    expect(sse.headers['content-type']).toContain('text/event-stream');
  });

  it('answers plain HTTP on the TLS port with 400, and an untrusting client fails the handshake', async () => {
    const plain = await curl(`http://127.0.0.1:${agent.httpPort}/-/healthy`);
    expect(plain.status).toBe(400);
    expect(plain.body).toContain('Client sent an HTTP request to an HTTPS server.');
    const untrusting = await curl(url('/-/healthy'), good);
    expect(untrusting.exit).toBe(60); // curl: peer certificate cannot be authenticated
    expect(await refused(agent, 'plain_http_on_tls', good)).toBe(1);
  });

  it('bounds a flood of unknown credentials: answered 401 or 429 at once past the queue, health with good credentials keeps answering', async () => {
    const before = (await refused(agent, 'auth_busy', good)) ?? 0;
    const https = await import('node:https');
    const pool = new https.Agent({ keepAlive: true, maxSockets: 200, ca: fs.readFileSync(certs.ca) });
    try {
      // 200 connections first, each through the handshake and one request with the (cached)
      // good credentials; then 200 distinct unknown users at once on them: each needs a bcrypt
      // comparison (cost 10 for an unknown user), so the queue fills whatever the machine's speed.
      const warm = await Promise.all(Array.from({ length: 200 }, () => get(pool, url('/-/healthy'), 'alice:s3cret')));
      expect(warm.every((s) => s === 200)).toBe(true);
      const flood = Array.from({ length: 200 }, (_, i) => get(pool, url('/-/healthy'), `mallory-${i}:guess`));
      const health = await curl(url('/-/healthy'), [...ca(), ...good]);
      expect(health.status).toBe(200);
      const statuses = await Promise.all(flood);
      expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
      // At most 32 checks wait for the bcrypt thread; the rest were turned away.
      const busy = statuses.filter((s) => s === 429).length;
      expect(busy).toBeGreaterThanOrEqual(200 - 32 - 8);
      expect(((await refused(agent, 'auth_busy', good)) ?? 0) - before).toBe(busy);
    } finally {
      pool.destroy();
    }
  });

  it('reloads on SIGHUP: a bad file keeps the previous configuration (file:line logged, counted); a good one applies', async () => {
    fs.writeFileSync(file, tlsAndAuth(HASH) + 'basic_auth_user:\n  bob: x\n');
    agent.child.kill('SIGHUP');
    await waitFor(() => agent.stderr().includes('reload failed'), { timeoutMs: 20_000, what: 'the failed reload' });
    // The log quotes the message as JSON.
    expect(agent.stderr()).toContain(JSON.stringify(`${file}:10: unknown key "basic_auth_user"`).slice(1, -1));
    const still = await curl(url('/-/healthy'), ca());
    expect(still.status).toBe(401);
    const m = await curl(url('/metrics'), [...ca(), ...good]);
    expect(valueWith(m.body, 'redline_config_reloads_total', { outcome: 'failure' })).toBe(1);

    fs.writeFileSync(file, tlsAndAuth(HASH2));
    agent.child.kill('SIGHUP');
    await waitFor(async () => (await curl(url('/-/healthy'), [...ca(), '-u', 'alice:n3w-s3cret'])).status === 200, { timeoutMs: 20_000, what: 'the new password' });
    expect((await curl(url('/-/healthy'), [...ca(), ...good])).status).toBe(401);

    // TLS off by reload: the same port now speaks plain HTTP, still behind the new password.
    fs.writeFileSync(file, `basic_auth_users:\n  alice: ${HASH}\n`);
    agent.child.kill('SIGHUP');
    await waitFor(async () => (await curl(`http://127.0.0.1:${agent.httpPort}/-/healthy`, good)).status === 200, { timeoutMs: 20_000, what: 'plain HTTP after the reload' });
    expect((await curl(`http://127.0.0.1:${agent.httpPort}/-/healthy`)).status).toBe(401);
  });
});

/** One GET with basic credentials through a keep-alive pool (the flood needs hundreds at once). */
async function get(pool: import('node:https').Agent, u: string, userPass: string): Promise<number> {
  const https = await import('node:https');
  return new Promise<number>((resolve) => {
    const req = https.request(u, { agent: pool, headers: { authorization: `Basic ${Buffer.from(userPass).toString('base64')}` }, timeout: 60_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

describe('client certificates', () => {
  it('RequireAndVerifyClientCert: a CA-signed client certificate passes; none or a self-signed one fails the handshake', async () => {
    const file = writeConfig('mtls.yml', `tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.serverKey}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${certs.ca}\n  min_version: TLS12\n`);
    const agent = await startAgent([`--web.config.file=${file}`]);
    try {
      const url = `https://127.0.0.1:${agent.httpPort}/-/healthy`;
      const ok = await curl(url, ['--cacert', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey]);
      expect(ok.status).toBe(200);
      const none = await curl(url, ['--cacert', certs.ca]);
      expect(none.exit).not.toBe(0);
      expect(none.status).toBe(0);
      const stranger = await curl(url, ['--cacert', certs.ca, '--cert', certs.strangerCert, '--key', certs.strangerKey]);
      expect(stranger.exit).not.toBe(0);
      expect(stranger.status).toBe(0);
      const m = await curl(`https://127.0.0.1:${agent.httpPort}/metrics`, ['--cacert', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey]);
      expect(valueWith(m.body, 'redline_http_requests_refused_total', { reason: 'client_certificate' })).toBe(2);
    } finally {
      await agent.stop();
    }
  });

  it('RequireAnyClientCert with client_allowed_sans: any certificate with an allowed SAN passes, a missing one fails', async () => {
    const file = writeConfig('anycert.yml', `tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.serverKey}\n  client_auth_type: RequireAnyClientCert\n  client_allowed_sans: [client.redline.test]\n`);
    const agent = await startAgent([`--web.config.file=${file}`]);
    try {
      const url = `https://127.0.0.1:${agent.httpPort}/-/healthy`;
      // Self-signed, but RequireAnyClientCert does not verify it; its SAN is allowed.
      expect((await curl(url, ['--cacert', certs.ca, '--cert', certs.strangerCert, '--key', certs.strangerKey])).status).toBe(200);
      // The server's own certificate has no allowed SAN.
      expect((await curl(url, ['--cacert', certs.ca, '--cert', certs.serverCert, '--key', certs.serverKey])).status).toBe(0);
      expect((await curl(url, ['--cacert', certs.ca])).status).toBe(0);
    } finally {
      await agent.stop();
    }
  });
});

describe('start-up with a bad web configuration', () => {
  it('refuses to start, naming the file and the line', async () => {
    const file = writeConfig('bad.yml', `tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.serverKey}\n  min_version: TLS99\n`);
    const r = await run(process.execPath, ['bin/redline.js', '--web.listen-address=127.0.0.1:0', '--statsd.listen-udp=', '--statsd.listen-tcp=', '--otlp.listen-address=', '--host.enabled=false', `--web.config.file=${file}`], { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}:4: unknown TLS version "TLS99"`);
    const check = await run(process.execPath, ['bin/redline.js', '--check-config', `--web.config.file=${file}`], { timeoutMs: 30_000 });
    expect(check.code).toBe(1);
    expect(check.stderr).toContain(`${file}:4:`);
  });
});

describe('a real Prometheus scraping over TLS with basic auth', () => {
  let agent: AgentProcess;
  let prometheus: Proc | undefined;

  afterAll(async () => {
    await prometheus?.stop();
    await agent?.stop();
  });

  it('up == 1 with the right password, up == 0 with a wrong one', async () => {
    const file = writeConfig('prom-web.yml', tlsAndAuth(HASH));
    agent = await startAgent([`--web.config.file=${file}`]);
    const promPort = await freePort();
    fs.writeFileSync(path.join(dir, 'good.pw'), 's3cret');
    fs.writeFileSync(path.join(dir, 'bad.pw'), 'not-it');
    const job = (name: string, pw: string): string =>
      `  - job_name: ${name}\n    scheme: https\n    tls_config:\n      ca_file: ${certs.ca}\n    basic_auth:\n      username: alice\n      password_file: ${path.join(dir, pw)}\n    static_configs:\n      - targets: ['127.0.0.1:${agent.httpPort}']\n`;
    fs.writeFileSync(path.join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n${job('good', 'good.pw')}${job('bad', 'bad.pw')}`);
    prometheus = start(PROMETHEUS, [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn']);
    const up = async (jobName: string): Promise<string | undefined> => {
      const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(`up{job="${jobName}"}`)}`).catch(() => null);
      if (!res?.ok) return undefined;
      const body = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
      return body.data?.result?.[0]?.value[1];
    };
    await waitFor(async () => (await up('good')) === '1' && (await up('bad')) !== undefined, { timeoutMs: 60_000, what: 'both jobs scraped' });
    expect(await up('good')).toBe('1');
    expect(await up('bad')).toBe('0');
    // And what Prometheus stored from the agent is the agent's own series, read over TLS.
    // What Prometheus stored from the agent over TLS is the agent's own count of the bad job's refusals.
    const refusedSeen = async (): Promise<number> => {
      const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent('redline_http_requests_refused_total{job="good",reason="unauthorized"}')}`);
      const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
      return Number(body.data.result[0]?.value[1] ?? 0);
    };
    await waitFor(async () => (await refusedSeen()) >= 1, { timeoutMs: 30_000, what: 'the refusals scraped' });
  });
});
