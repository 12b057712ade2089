/**
 * The web configuration reader: exporter-toolkit's keys and defaults, and every refusal naming
 * the file and the line.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseWebConfig, readWebConfig, WebConfigError } from './web-config.js';
import { BasicAuth, parseBasic } from './basic-auth.js';
import { makeCerts, type TestCerts } from '../test/helpers/tls.js';

// bcrypt of "s3cret", cost 4 (with the $2y$ prefix htpasswd -B writes).
const HASH = '$2y$04$JZJNz768Rs4OZiSwyMK2rOj/g/mT6wOSpCxDKVoOxcxVS8g5vTtfu';

let dir = '';
let certs: TestCerts;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-webcfg-unit-'));
  certs = makeCerts(dir);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const refusal = (text: string, file = path.join(dir, 'web.yml')): string => {
  try {
    parseWebConfig(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(WebConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
};

describe('parseWebConfig', () => {
  it('an empty file is the open configuration', () => {
    const c = parseWebConfig('', 'web.yml');
    expect(c.tls).toBeNull();
    expect(c.users.size).toBe(0);
    expect(c.headers).toEqual({});
  });

  it('reads TLS with paths relative to the file, exporter-toolkit defaults and policies', () => {
    fs.writeFileSync(path.join(dir, 'rel.yml'), 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.crt\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]\n  curve_preferences: [X25519, CurveP256]\n');
    const c = readWebConfig(path.join(dir, 'rel.yml'));
    expect(c.tls?.clientAuth).toBe('VerifyClientCertIfGiven');
    expect(c.tls?.secureContext.minVersion).toBe('TLSv1.2');
    expect(c.tls?.secureContext.maxVersion).toBe('TLSv1.3');
    expect(c.tls?.secureContext.ciphers).toMatch(/:ECDHE-ECDSA-AES128-GCM-SHA256$/);
    expect(c.tls?.secureContext.ecdhCurve).toBe('X25519:P-256');
    expect(c.tls?.secureContext.ca).toContain('BEGIN CERTIFICATE');
  });

  it('accepts inline PEM and the older RequireClientCert name', () => {
    const cert = fs.readFileSync(certs.serverCert, 'utf8');
    const key = fs.readFileSync(certs.serverKey, 'utf8');
    const indent = (s: string): string => s.trim().split('\n').map((l) => `    ${l}`).join('\n');
    const c = parseWebConfig(`tls_server_config:\n  cert: |\n${indent(cert)}\n  key: |\n${indent(key)}\n  client_auth_type: RequireClientCert\n`, 'inline.yml');
    expect(c.tls?.clientAuth).toBe('RequireAnyClientCert');
  });

  it('refuses what exporter-toolkit refuses, with file and line', () => {
    const f = path.join(dir, 'web.yml');
    const tls = `tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.serverKey}\n`;
    expect(refusal('tls_server_config:\n  cert_file: a\n  keyfile: b\n')).toBe(`${f}:3: unknown key "keyfile" in tls_server_config (${'cert, key, client_ca, cert_file, key_file, client_auth_type, client_ca_file, client_allowed_sans, min_version, max_version, cipher_suites, prefer_server_cipher_suites, curve_preferences'})`);
    expect(refusal('http_server_config:\n  headers:\n    Server: redline\n')).toContain(`${f}:3: HTTP header "Server" can not be configured`);
    expect(refusal('http_server_config:\n  headers:\n    X-Frame-Options: allow\n')).toContain(`${f}:3: invalid value for X-Frame-Options: expected one of "deny", "sameorigin"`);
    expect(refusal('basic_auth_users:\n  alice: s3cret\n')).toContain(`${f}:2: basic_auth_users.alice: not a bcrypt hash`);
    expect(refusal(`${tls}  client_ca_file: ${certs.ca}\n`)).toContain(`${f}:4: client CA's have been configured without a client_auth_type`);
    expect(refusal(`${tls}  client_auth_type: Sometimes\n`)).toContain(`${f}:4: invalid client_auth_type "Sometimes"`);
    expect(refusal(`${tls}  min_version: TLS13\n  max_version: TLS12\n`)).toContain(`${f}:5: max_version is below min_version`);
    expect(refusal(`${tls}  cipher_suites: [RC4]\n`)).toContain(`${f}:4: unknown cipher: RC4`);
    expect(refusal(`tls_server_config:\n  cert_file: ${certs.serverCert}\n`)).toContain(`${f}:2: tls_server_config: missing one of key or key_file`);
    expect(refusal(`tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.clientKey}\n`)).toContain(`${f}:2: failed to load the certificate and key`);
    expect(refusal(`tls_server_config:\n  cert_file: nowhere.crt\n  key_file: ${certs.serverKey}\n`)).toContain(`${f}:2: failed to read cert_file (${path.join(dir, 'nowhere.crt')}): ENOENT`);
    expect(refusal('basic_auth_users:\n  a: x\n  a: y\n')).toContain(`${f}:3: duplicate key`);
    expect(refusal('rate_limit:\n  interval: soon\n')).toContain(`${f}:2: rate_limit.interval: invalid duration`);
  });

  it('reads headers, users and the rate limit; a blank header is unset', () => {
    const c = parseWebConfig(`http_server_config:\n  http2: false\n  headers:\n    X-Content-Type-Options: nosniff\n    Content-Security-Policy: ""\nbasic_auth_users:\n  alice: ${HASH}\nrate_limit:\n  interval: 100ms\n  burst: 5\n`, 'w.yml');
    expect(c.headers).toEqual({ 'X-Content-Type-Options': 'nosniff' });
    expect(c.users.get('alice')).toBe(HASH);
    expect(c.rateLimit).toEqual({ intervalMs: 100, burst: 5 });
    expect(c.http2).toBe(false);
  });
});

describe('BasicAuth', () => {
  it('verifies on its worker, caches outcomes, and never lets an unknown user in', async () => {
    const auth = new BasicAuth(new Map([['alice', HASH]]));
    try {
      const h = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
      expect(await auth.check(h('alice', 's3cret'))).toBe('ok');
      expect(await auth.check(h('alice', 's3cret'))).toBe('ok');
      expect(auth.comparisons).toBe(1);
      expect(await auth.check(h('alice', 'wrong'))).toBe('denied');
      expect(await auth.check(h('alice', 'wrong'))).toBe('denied');
      expect(auth.comparisons).toBe(2);
      expect(await auth.check(h('bob', 's3cret'))).toBe('denied');
      expect(await auth.check(undefined)).toBe('denied');
      expect(await auth.check('Bearer x')).toBe('denied');
    } finally {
      await auth.close();
    }
  });

  it('past its queue, answers busy at once', async () => {
    const auth = new BasicAuth(new Map([['alice', HASH]]), 2);
    try {
      const h = (p: string): string => `Basic ${Buffer.from(`nobody:${p}`).toString('base64')}`;
      const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => auth.check(h(`p${i}`))));
      expect(outcomes.filter((o) => o === 'busy')).toHaveLength(8);
      expect(outcomes.filter((o) => o === 'denied')).toHaveLength(2);
    } finally {
      await auth.close();
    }
  });

  it('parses Basic credentials with a colon in the password', () => {
    expect(parseBasic(`Basic ${Buffer.from('a:b:c').toString('base64')}`)).toEqual({ user: 'a', password: 'b:c' });
  });
});
