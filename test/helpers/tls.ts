/**
 * Throwaway certificates for TLS tests, made with Debian's openssl in a temporary directory at
 * test time (no key is committed): a CA, a server certificate for 127.0.0.1/localhost signed by
 * it, a client certificate signed by it (SAN `client.redline.test`), and a self-signed client
 * certificate no CA vouches for.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface TestCerts {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  strangerCert: string;
  strangerKey: string;
}

const OPENSSL = process.env['OPENSSL'] ?? 'openssl';

function openssl(dir: string, args: string[]): void {
  execFileSync(OPENSSL, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

function keyAndCsr(dir: string, name: string, cn: string): void {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
}

function sign(dir: string, name: string, san: string): void {
  fs.writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
}

export function makeCerts(dir: string): TestCerts {
  fs.mkdirSync(dir, { recursive: true });
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=redline-test-ca']);
  keyAndCsr(dir, 'server', 'localhost');
  sign(dir, 'server', 'IP:127.0.0.1,DNS:localhost');
  keyAndCsr(dir, 'client', 'client');
  sign(dir, 'client', 'DNS:client.redline.test');
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'stranger.key', '-out', 'stranger.crt', '-days', '2', '-subj', '/CN=stranger', '-addext', 'subjectAltName=DNS:client.redline.test']);
  const p = (f: string): string => path.join(dir, f);
  return {
    dir,
    ca: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    strangerCert: p('stranger.crt'),
    strangerKey: p('stranger.key'),
  };
}
