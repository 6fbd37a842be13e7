// A certificate authority made for one test run with the openssl CLI: a root, and leaf certificates
// it issues (or self-signed ones, as a forger would make), with their private keys. For the
// certificate-URL schemes (PayPal, AWS SNS), whose certificates tests cannot fetch from the provider.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Issued {
  /** the certificate, PEM */
  cert: string;
  /** its private key, PEM (PKCS#8) */
  key: string;
}

export interface TestCa {
  root: string;
  issue(cn: string, opts?: { days?: number; selfSigned?: boolean }): Issued;
  close(): void;
}

export function testCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-ca-'));
  const p = (f: string) => join(dir, f);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '3', '-subj', '/CN=hookgate test root', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  let n = 0;
  return {
    root: readFileSync(p('ca.crt'), 'utf8'),
    issue(cn, opts = {}) {
      const i = ++n;
      const days = String(opts.days ?? 2);
      if (opts.selfSigned) {
        ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p(`${i}.key`), '-out', p(`${i}.crt`), '-days', days, '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn}`);
      } else {
        ssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', p(`${i}.key`), '-out', p(`${i}.csr`), '-subj', `/CN=${cn}`);
        writeFileSync(p(`${i}.ext`), `subjectAltName=DNS:${cn}\nbasicConstraints=CA:FALSE\n`);
        ssl('x509', '-req', '-in', p(`${i}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-set_serial', String(1000 + i), '-days', days, '-out', p(`${i}.crt`), '-extfile', p(`${i}.ext`));
      }
      return { cert: readFileSync(p(`${i}.crt`), 'utf8'), key: readFileSync(p(`${i}.key`), 'utf8') };
    },
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}
