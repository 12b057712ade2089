/**
 * `--web.config.file`: exporter-toolkit's web configuration (the file every Prometheus exporter
 * takes), read into what the HTTP server applies to every endpoint: TLS (`tls_server_config`),
 * basic authentication with bcrypt hashes (`basic_auth_users`), response headers
 * (`http_server_config.headers`, the same five exporter-toolkit allows) and `rate_limit`.
 *
 * As exporter-toolkit reads it: unknown keys are errors (yaml.UnmarshalStrict), relative paths
 * are relative to the file's directory, `min_version` defaults to TLS12, a client CA without a
 * client auth type is refused. Errors name the file and the line (WebConfigError).
 *
 * Differences, each on purpose:
 * - the file is read at start-up and on SIGHUP (exporter-toolkit reads it on every request):
 *   a bad file on reload keeps the previous configuration, as the mapping file does.
 * - `http2` is accepted and has no effect: the agent serves HTTP/1.1.
 * - giving both `cert` and `cert_file` (or `key`/`key_file`, `client_ca`/`client_ca_file`) is
 *   an error rather than the file silently winning.
 */
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { parseDocument, LineCounter, isMap, isScalar, isSeq, type Node as YamlNode, type YAMLMap } from 'yaml';
import bcrypt from 'bcryptjs';

export type ClientAuthType = 'NoClientCert' | 'RequestClientCert' | 'RequireAnyClientCert' | 'VerifyClientCertIfGiven' | 'RequireAndVerifyClientCert';

export interface WebTls {
  /** For tls.createSecureContext / https.createServer. */
  readonly secureContext: tls.SecureContextOptions;
  readonly clientAuth: ClientAuthType;
  /** null: any SAN (exporter-toolkit checks SANs only when the list is given). */
  readonly clientAllowedSans: readonly string[] | null;
}

export interface WebConfig {
  /** The file it came from; '' for the built-in empty configuration. */
  readonly file: string;
  /** null: plain HTTP. */
  readonly tls: WebTls | null;
  /** User → bcrypt hash; empty: no authentication. */
  readonly users: ReadonlyMap<string, string>;
  readonly headers: Readonly<Record<string, string>>;
  /** null: no rate limit. */
  readonly rateLimit: { readonly intervalMs: number; readonly burst: number } | null;
  readonly http2: boolean;
}

/** No TLS, no users, no headers: what the agent serves without --web.config.file. */
export const OPEN_WEB_CONFIG: WebConfig = Object.freeze({ file: '', tls: null, users: new Map(), headers: Object.freeze({}), rateLimit: null, http2: true });

export class WebConfigError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${reason}`);
    this.name = 'WebConfigError';
  }
}

/**
 * exporter-toolkit's `extraHTTPHeaders`: the only headers it lets a file set, with the values
 * allowed where the header is an enumeration (null: any value).
 */
export const ALLOWED_HEADERS: ReadonlyMap<string, readonly string[] | null> = new Map<string, readonly string[] | null>([
  ['Strict-Transport-Security', null],
  ['X-Content-Type-Options', ['nosniff']],
  ['X-Frame-Options', ['deny', 'sameorigin']],
  ['X-XSS-Protection', null],
  ['Content-Security-Policy', null],
]);

const CLIENT_AUTH: Readonly<Record<string, ClientAuthType>> = {
  '': 'NoClientCert',
  NoClientCert: 'NoClientCert',
  RequestClientCert: 'RequestClientCert',
  RequireAnyClientCert: 'RequireAnyClientCert',
  // exporter-toolkit keeps this older name for RequireAnyClientCert.
  RequireClientCert: 'RequireAnyClientCert',
  VerifyClientCertIfGiven: 'VerifyClientCertIfGiven',
  RequireAndVerifyClientCert: 'RequireAndVerifyClientCert',
};

const TLS_VERSIONS: Readonly<Record<string, tls.SecureVersion>> = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };
const VERSION_ORDER: readonly tls.SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/**
 * Go's cipher suite names (crypto/tls `CipherSuites()`, the list exporter-toolkit accepts) and
 * OpenSSL's names for them. Go never lets TLS 1.3 suites be configured; neither do we (listed so
 * a file naming them loads, as it does in Go).
 */
const CIPHERS: Readonly<Record<string, string | null>> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_AES_128_GCM_SHA256: null,
  TLS_AES_256_GCM_SHA384: null,
  TLS_CHACHA20_POLY1305_SHA256: null,
};
/** Node's TLS 1.3 suites, kept whatever cipher_suites says (Go does the same). */
const TLS13_SUITES = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';

const CURVES: Readonly<Record<string, string>> = { CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521', X25519: 'X25519' };

const TOP_KEYS = ['tls_server_config', 'http_server_config', 'basic_auth_users', 'rate_limit'];
const TLS_KEYS = [
  'cert',
  'key',
  'client_ca',
  'cert_file',
  'key_file',
  'client_auth_type',
  'client_ca_file',
  'client_allowed_sans',
  'min_version',
  'max_version',
  'cipher_suites',
  'prefer_server_cipher_suites',
  'curve_preferences',
];
const HTTP_KEYS = ['http2', 'headers'];
const RATE_KEYS = ['interval', 'burst'];

/** A bcrypt hash as htpasswd -B and Go's bcrypt write it: $2a$, $2b$ or $2y$, cost, 53 characters. */
const BCRYPT_HASH = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

/** Reads and checks a web configuration file. Throws WebConfigError naming the file and line. */
export function readWebConfig(file: string): WebConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new WebConfigError(file, undefined, `cannot read the web configuration: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseWebConfig(text, file);
}

/** Parses web configuration YAML; relative paths in it are relative to `file`'s directory. */
export function parseWebConfig(text: string, file: string): WebConfig {
  const lc = new LineCounter();
  // yaml.v2 (exporter-toolkit's reader) is YAML 1.1.
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, version: '1.1' });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const reason = e.code === 'DUPLICATE_KEY' ? 'duplicate key (each key may appear once per mapping)' : e.message.split('\n')[0]!;
    throw new WebConfigError(file, lc.linePos(e.pos[0]).line, reason);
  }
  const r: Reader = new Reader(file, lc);
  const root = doc.contents as YamlNode | null;
  if (root === null || (isScalar(root) && root.value === null)) return { ...OPEN_WEB_CONFIG, file };
  const top = r.map(root, 'the web configuration', TOP_KEYS);
  const tlsNode = top.get('tls_server_config');
  const httpNode = top.get('http_server_config');
  const usersNode = top.get('basic_auth_users');
  const rateNode = top.get('rate_limit');

  const headers: Record<string, string> = {};
  let http2 = true;
  if (httpNode && !r.isNull(httpNode.value)) {
    const h = r.map(httpNode.value, 'http_server_config', HTTP_KEYS);
    const http2Node = h.get('http2');
    if (http2Node) http2 = r.bool(http2Node.value, 'http_server_config.http2');
    const headersNode = h.get('headers');
    if (headersNode && !r.isNull(headersNode.value)) {
      const m = r.node(headersNode.value);
      if (!isMap(m)) r.fail(m, 'http_server_config.headers must be a mapping of header names to values');
      for (const p of m.items) {
        const name = r.string(p.key, 'http_server_config.headers: a header name');
        const value = r.isNull(p.value) ? '' : r.string(p.value, `http_server_config.headers.${name}`);
        const allowed = ALLOWED_HEADERS.get(name);
        if (allowed === undefined) {
          r.fail(p.key, `HTTP header ${JSON.stringify(name)} can not be configured (exporter-toolkit allows ${[...ALLOWED_HEADERS.keys()].join(', ')})`);
        }
        if (allowed !== null && !allowed.includes(value)) {
          r.fail(p.value ?? p.key, `invalid value for ${name}: expected one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(value)}`);
        }
        // Blank: unset, as exporter-toolkit documents.
        if (value !== '') headers[name] = value;
      }
    }
  }

  const users = new Map<string, string>();
  if (usersNode && !r.isNull(usersNode.value)) {
    const m = r.node(usersNode.value);
    if (!isMap(m)) r.fail(m, 'basic_auth_users must be a mapping of user names to bcrypt hashes');
    for (const p of m.items) {
      const user = r.string(p.key, 'basic_auth_users: a user name');
      const hash = r.string(p.value, `basic_auth_users.${user}`);
      let rounds = NaN;
      try {
        rounds = BCRYPT_HASH.test(hash) ? bcrypt.getRounds(hash) : NaN;
      } catch {
        rounds = NaN;
      }
      if (!(rounds >= 4 && rounds <= 31)) {
        r.fail(p.value ?? p.key, `basic_auth_users.${user}: not a bcrypt hash (expected $2y$10$ and 53 characters, as htpasswd -nBC 10 "" writes; the password itself must not be in the file)`);
      }
      users.set(user, hash);
    }
  }

  let rateLimit: WebConfig['rateLimit'] = null;
  if (rateNode && !r.isNull(rateNode.value)) {
    const m = r.map(rateNode.value, 'rate_limit', RATE_KEYS);
    const intervalNode = m.get('interval');
    const burstNode = m.get('burst');
    const intervalMs = intervalNode ? r.duration(intervalNode.value, 'rate_limit.interval') : 0;
    const burst = burstNode ? r.int(burstNode.value, 'rate_limit.burst') : 0;
    // As golang.org/x/time/rate: interval 0 disables the limiter; burst 0 with a limiter refuses everything.
    if (intervalMs > 0) rateLimit = { intervalMs, burst };
  }

  const tlsConfig = tlsNode && !r.isNull(tlsNode.value) ? readTls(r, tlsNode.value, path.dirname(file)) : null;
  return { file, tls: tlsConfig, users, headers, rateLimit, http2 };
}

function readTls(r: Reader, node: unknown, dir: string): WebTls | null {
  const m = r.map(node, 'tls_server_config', TLS_KEYS);
  const str = (key: string): { text: string; node: unknown } | null => {
    const p = m.get(key);
    if (!p || r.isNull(p.value)) return null;
    const text = r.string(p.value, `tls_server_config.${key}`);
    return text === '' ? null : { text, node: p.value };
  };
  const cert = str('cert');
  const key = str('key');
  const clientCa = str('client_ca');
  const certFile = str('cert_file');
  const keyFile = str('key_file');
  const clientCaFile = str('client_ca_file');
  const authNode = str('client_auth_type');
  // exporter-toolkit's IsEnabled: any of these set turns TLS on.
  if (!cert && !key && !clientCa && !certFile && !keyFile && !clientCaFile && !authNode) return null;
  const where = m.node;
  for (const [a, b] of [
    [cert, certFile],
    [key, keyFile],
    [clientCa, clientCaFile],
  ] as const) {
    if (a && b) r.fail(b.node, 'give the PEM inline (cert, key, client_ca) or a file (cert_file, key_file, client_ca_file), not both');
  }
  if (!cert && !certFile) r.fail(where, 'tls_server_config: missing one of cert or cert_file');
  if (!key && !keyFile) r.fail(where, 'tls_server_config: missing one of key or key_file');
  const readPem = (file: { text: string; node: unknown }, what: string): string => {
    const full = path.resolve(dir, file.text);
    try {
      return fs.readFileSync(full, 'utf8');
    } catch (err) {
      return r.fail(file.node, `failed to read ${what} (${full}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const certPem = certFile ? readPem(certFile, 'cert_file') : cert!.text;
  const keyPem = keyFile ? readPem(keyFile, 'key_file') : key!.text;
  const caPem = clientCaFile ? readPem(clientCaFile, 'client_ca_file') : clientCa ? clientCa.text : null;

  const authText = authNode?.text ?? '';
  const clientAuth = CLIENT_AUTH[authText];
  if (clientAuth === undefined) {
    r.fail(authNode!.node, `invalid client_auth_type ${JSON.stringify(authText)} (NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert)`);
  }
  if (caPem !== null && clientAuth === 'NoClientCert') r.fail((clientCaFile ?? clientCa)!.node, "client CA's have been configured without a client_auth_type");

  const version = (k: 'min_version' | 'max_version', dflt: tls.SecureVersion): tls.SecureVersion => {
    const v = str(k);
    if (!v) return dflt;
    const out = TLS_VERSIONS[v.text];
    if (out === undefined) r.fail(v.node, `unknown TLS version ${JSON.stringify(v.text)} (TLS10, TLS11, TLS12, TLS13)`);
    return out;
  };
  const minVersion = version('min_version', 'TLSv1.2');
  const maxVersion = version('max_version', 'TLSv1.3');
  if (VERSION_ORDER.indexOf(minVersion) > VERSION_ORDER.indexOf(maxVersion)) r.fail(m.get('max_version')?.value ?? where, 'max_version is below min_version');

  const list = (k: string): { text: string; node: unknown }[] => {
    const p = m.get(k);
    if (!p || r.isNull(p.value)) return [];
    const n = r.node(p.value);
    if (!isSeq(n)) r.fail(n, `tls_server_config.${k} must be a list`);
    return n.items.map((it) => ({ text: r.string(it, `tls_server_config.${k}`), node: it }));
  };
  const ciphers: string[] = [];
  for (const c of list('cipher_suites')) {
    const name = CIPHERS[c.text];
    if (name === undefined) r.fail(c.node, `unknown cipher: ${c.text} (Go's crypto/tls names, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)`);
    if (name !== null) ciphers.push(name);
  }
  const curves = list('curve_preferences').map((c) => CURVES[c.text] ?? r.fail(c.node, `unknown curve: ${c.text} (CurveP256, CurveP384, CurveP521, X25519)`));
  const sansNode = m.get('client_allowed_sans');
  const clientAllowedSans = sansNode && !r.isNull(sansNode.value) ? list('client_allowed_sans').map((s) => s.text) : null;
  const preferNode = m.get('prefer_server_cipher_suites');
  const honorCipherOrder = preferNode ? r.bool(preferNode.value, 'tls_server_config.prefer_server_cipher_suites') : true;

  const secureContext: tls.SecureContextOptions = {
    cert: certPem,
    key: keyPem,
    minVersion,
    maxVersion,
    honorCipherOrder,
    ...(caPem !== null ? { ca: caPem } : {}),
    ...(ciphers.length > 0 ? { ciphers: `${TLS13_SUITES}:${ciphers.join(':')}` } : {}),
    ...(curves.length > 0 ? { ecdhCurve: curves.join(':') } : {}),
  };
  // What tls.X509KeyPair checks in exporter-toolkit: the PEMs parse and the key fits the cert.
  try {
    tls.createSecureContext(secureContext);
  } catch (err) {
    r.fail((certFile ?? cert ?? keyFile ?? key)!.node, `failed to load the certificate and key: ${(err as Error).message}`);
  }
  return { secureContext, clientAuth, clientAllowedSans };
}

/** YAML reading with the file and line in every message. */
class Reader {
  constructor(
    private readonly file: string,
    private readonly lc: LineCounter,
  ) {}

  line(node: unknown): number | undefined {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? this.lc.linePos(range[0]).line : undefined;
  }

  fail(node: unknown, reason: string): never {
    throw new WebConfigError(this.file, this.line(node), reason);
  }

  node(n: unknown): YamlNode {
    return n as YamlNode;
  }

  isNull(n: unknown): boolean {
    return n === null || n === undefined || (isScalar(n) && n.value === null);
  }

  /** A mapping whose keys are all in `keys`; pairs by key. */
  map(n: unknown, what: string, keys: readonly string[]): { node: YAMLMap; get(k: string): { key: unknown; value: unknown } | undefined } {
    if (!isMap(n)) this.fail(n, `${what} must be a mapping`);
    const byKey = new Map<string, { key: unknown; value: unknown }>();
    for (const p of n.items) {
      const k = this.string(p.key, `${what}: a key`);
      if (!keys.includes(k)) this.fail(p.key, `unknown key ${JSON.stringify(k)} in ${what} (${keys.join(', ')})`);
      byKey.set(k, { key: p.key, value: p.value });
    }
    return { node: n, get: (k) => byKey.get(k) };
  }

  string(n: unknown, what: string): string {
    if (!isScalar(n) || n.value === null || typeof n.value === 'object') this.fail(n, `${what} must be a string`);
    return String(n.value);
  }

  bool(n: unknown, what: string): boolean {
    if (!isScalar(n) || typeof n.value !== 'boolean') this.fail(n, `${what} must be true or false`);
    return n.value;
  }

  int(n: unknown, what: string): number {
    if (!isScalar(n) || typeof n.value !== 'number' || !Number.isInteger(n.value) || n.value < 0) this.fail(n, `${what} must be a whole number`);
    return n.value;
  }

  /** A Go duration (`1s`, `500ms`); as yaml.v2 reads time.Duration, a bare number is nanoseconds. */
  duration(n: unknown, what: string): number {
    if (isScalar(n) && typeof n.value === 'number' && Number.isFinite(n.value) && n.value >= 0) return n.value / 1e6;
    const text = this.string(n, what).trim();
    const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
    const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
    let total = 0;
    let pos = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      total += Number(m[1]) * (unitMs[m[2] ?? ''] ?? NaN);
      pos = re.lastIndex;
    }
    if (text === '' || pos !== text.length || !Number.isFinite(total)) this.fail(n, `${what}: invalid duration ${JSON.stringify(text)} (e.g. 1s, 500ms)`);
    return total;
  }
}

/** Client-certificate checks Node's `rejectUnauthorized` does not make (RequireAny, VerifyIfGiven, SANs). */
export function clientCertRefusal(t: WebTls, socket: tls.TLSSocket): string | null {
  if (t.clientAuth === 'NoClientCert') return null;
  const peer = socket.getPeerCertificate();
  const given = peer !== null && typeof peer === 'object' && Object.keys(peer).length > 0;
  if (!given) {
    return t.clientAuth === 'RequireAnyClientCert' || t.clientAuth === 'RequireAndVerifyClientCert' ? 'a client certificate is required' : null;
  }
  if ((t.clientAuth === 'VerifyClientCertIfGiven' || t.clientAuth === 'RequireAndVerifyClientCert') && !socket.authorized) {
    return `the client certificate is not trusted: ${String(socket.authorizationError)}`;
  }
  if (t.clientAllowedSans !== null) {
    // Node writes SANs as "DNS:a, IP Address:127.0.0.1, email:x@y, URI:spiffe://…".
    const sans = (peer.subjectaltname ?? '')
      .split(', ')
      .map((s) => s.slice(s.indexOf(':') + 1))
      .filter((s) => s !== '');
    if (!sans.some((s) => t.clientAllowedSans!.includes(s))) return 'no allowed SAN in the client certificate';
  }
  return null;
}

/**
 * Node's server options for a policy. Node asks for a certificate and leaves every decision to
 * clientCertRefusal: with `rejectUnauthorized` Node would drop an untrusted certificate silently,
 * with no event to count it by.
 */
export function clientAuthOptions(t: WebTls): { requestCert: boolean; rejectUnauthorized: boolean } {
  return { requestCert: t.clientAuth !== 'NoClientCert', rejectUnauthorized: false };
}
