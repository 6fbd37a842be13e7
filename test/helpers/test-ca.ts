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

export interface AppleLikeChain {
  /** root, intermediate, leaf certificates (PEM) */
  root: string;
  inter: string;
  leaf: string;
  /** the leaf's private key (PEM, P-256) */
  leafKey: string;
  close(): void;
}

/**
 * A chain shaped like Apple's App Store signing chain (EC root, intermediate with OID
 * 1.2.840.113635.100.6.2.1, P-256 leaf with 1.2.840.113635.100.6.11.1); `oids: false` leaves the
 * marker extensions out (an Apple-rooted certificate that is not for App Store signing).
 */
export function appleLikeChain(opts: { oids?: boolean } = {}): AppleLikeChain {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-apple-'));
  const p = (f: string) => join(dir, f);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const oids = opts.oids ?? true;
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-keyout', p('root.key'), '-out', p('root.crt'), '-days', '3', '-subj', '/CN=Test Root CA - G3', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  ssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('inter.key'), '-out', p('inter.csr'), '-subj', '/CN=Test WWDR');
  writeFileSync(p('inter.ext'), `basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n${oids ? '1.2.840.113635.100.6.2.1=ASN1:NULL\n' : ''}`);
  ssl('x509', '-req', '-in', p('inter.csr'), '-CA', p('root.crt'), '-CAkey', p('root.key'), '-set_serial', '2', '-days', '2', '-out', p('inter.crt'), '-extfile', p('inter.ext'));
  ssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('leaf.key'), '-out', p('leaf.csr'), '-subj', '/CN=Test App Store Signing');
  writeFileSync(p('leaf.ext'), `basicConstraints=CA:FALSE\n${oids ? '1.2.840.113635.100.6.11.1=ASN1:NULL\n' : ''}`);
  ssl('x509', '-req', '-in', p('leaf.csr'), '-CA', p('inter.crt'), '-CAkey', p('inter.key'), '-set_serial', '3', '-days', '2', '-out', p('leaf.crt'), '-extfile', p('leaf.ext'));
  const read = (f: string) => readFileSync(p(f), 'utf8');
  return { root: read('root.crt'), inter: read('inter.crt'), leaf: read('leaf.crt'), leafKey: read('leaf.key'), close: () => rmSync(dir, { recursive: true, force: true }) };
}
