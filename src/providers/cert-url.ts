// Certificate-URL schemes (PayPal, AWS SNS): the delivery names the URL of the X.509 certificate whose
// key signed it. That URL is attacker-controlled input, so:
//   - it is fetched only over https from the provider's own hosts (an explicit allowlist per provider),
//     checked before anything is fetched; no redirect is followed (src/providers/remote.ts);
//   - the certificate must be valid now and name the provider's signing identity (SAN/CN);
//   - its chain is checked: PayPal's document must chain to a trusted root; SNS serves the leaf alone,
//     so its authenticity rests on the TLS connection to an SNS host (as AWS's SDK validators do);
//   - certificates are cached per URL until they expire (at most a day), failures for a minute; new
//     URLs are fetched at most `NEW_PER_MINUTE` a minute per route, so varied paths cannot make the
//     gateway a fetch amplifier towards the provider.
import { X509Certificate, type KeyObject } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { DEFAULT_LIMITS, unavailable, type Fetcher, type RemoteKeys, type Resolved } from './remote.js';
import type { SignedRequest, VerifyFailure } from './types.js';

export interface CertPolicy {
  /** provider name, for messages */
  name: string;
  /** the URL is acceptable (https, allowlisted host, expected path shape) */
  allowed: (url: URL) => boolean;
  /** the leaf must carry one of these DNS names (empty: not checked; SNS publishes no rule for it) */
  identities: readonly string[];
  chain: 'root' | 'tls';
}

export interface CertMaterial {
  url: string;
  key: KeyObject;
}

const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const NEW_PER_MINUTE = 10;
const DAY = 86_400_000;

let defaultRoots: X509Certificate[] | null = null;
const roots = (fetcher: Fetcher): X509Certificate[] =>
  fetcher.trustedRoots ? fetcher.trustedRoots.map((p) => new X509Certificate(p)) : (defaultRoots ??= rootCertificates.map((p) => new X509Certificate(p)));

/** Why a fetched certificate document is not the provider's signing certificate, or null. */
export function certProblem(pem: string, policy: CertPolicy, trusted: readonly X509Certificate[], nowMs: number): string | null {
  const certs = (pem.match(PEM) ?? []).map((p) => new X509Certificate(p));
  const leaf = certs[0];
  if (!leaf) return 'the certificate URL did not serve a certificate';
  for (const c of certs) {
    if (nowMs < Date.parse(c.validFrom) || nowMs > Date.parse(c.validTo)) return 'the signing certificate is not valid now';
  }
  if (policy.identities.length && !policy.identities.some((name) => leaf.checkHost(name, { subject: 'default' }) === name)) return `the certificate is not ${policy.name}'s signing certificate`;
  // every certificate the document carries is signed by the next one
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!certs[i]!.checkIssued(certs[i + 1]!) || !certs[i]!.verify(certs[i + 1]!.publicKey)) return 'the certificate chain is broken';
  }
  if (policy.chain === 'tls') return null;
  const top = certs[certs.length - 1]!;
  const root = trusted.find((r) => top.checkIssued(r) && top.verify(r.publicKey));
  if (!root) return 'the certificate does not chain to a trusted root';
  if (certs.some((c, i) => i > 0 && !c.ca)) return 'an intermediate certificate is not a CA';
  return null;
}

type Entry = { ok: true; key: KeyObject; until: number } | { ok: false; code: VerifyFailure | 'keys_unavailable'; message: string; until: number };

/** One route's certificate cache and fetch budget. */
export class CertCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<Entry>>();
  private window = { start: -Infinity, count: 0 };
  /** fetches made (tests: refused URLs never fetch) */
  fetches = 0;

  constructor(private readonly policy: CertPolicy, private readonly fetcher: Fetcher) {}

  resolve(raw: string, nowMs: number): Resolved | Promise<Resolved> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return { ok: false, code: 'malformed', message: 'the certificate URL is not a URL' };
    }
    // refused before any fetch: only the provider's own hosts
    if (!this.policy.allowed(url)) return { ok: false, code: 'signature_invalid', message: `the certificate URL is not on ${this.policy.name}'s hosts` };
    const key = url.href;
    const hit = this.entries.get(key);
    if (hit && nowMs < hit.until) return answer(hit, key);
    const pending = this.inFlight.get(key);
    if (pending) return pending.then((e) => answer(e, key));
    if (nowMs - this.window.start >= 60_000) this.window = { start: nowMs, count: 0 };
    if (this.window.count >= NEW_PER_MINUTE) return unavailable('too many new certificate URLs; retry later');
    this.window.count++;
    this.fetches++;
    const p = this.fetcher(url, DEFAULT_LIMITS).then(
      (bytes): Entry => {
        const pem = bytes.toString('utf8');
        let problem: string | null;
        try {
          problem = certProblem(pem, this.policy, roots(this.fetcher), nowMs);
        } catch {
          problem = 'the certificate URL served something that is not a certificate';
        }
        if (problem) return { ok: false, code: 'signature_invalid', message: problem, until: nowMs + 60_000 };
        const leaf = new X509Certificate(pem.match(PEM)![0]!);
        return { ok: true, key: leaf.publicKey, until: Math.min(Date.parse(leaf.validTo), nowMs + DAY) };
      },
      (): Entry => ({ ok: false, code: 'keys_unavailable', message: `the ${this.policy.name} certificate could not be fetched; retry later`, until: nowMs + 60_000 }),
    );
    this.inFlight.set(key, p);
    return p.then((e) => {
      this.inFlight.delete(key);
      // bounded: the URLs that can enter are few (allowlisted hosts, NEW_PER_MINUTE)
      if (this.entries.size >= 256) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(key, e);
      return answer(e, key);
    });
  }
}

/** The certificate resolved for this URL, if it is the one (a verifier never throws on a bad URL). */
export function materialFor(fetched: unknown, url: unknown): CertMaterial | null {
  const m = fetched as CertMaterial | null | undefined;
  if (!m || typeof url !== 'string') return null;
  try {
    return m.url === new URL(url).href ? m : null;
  } catch {
    return null;
  }
}

function answer(e: Entry, url: string): Resolved {
  return e.ok ? { ok: true, material: { url, key: e.key } satisfies CertMaterial } : { ok: false, code: e.code, message: e.message };
}

/** A RemoteKeys that reads the certificate URL from the request (null: the verifier reports what is missing). */
export function certRemote(policy: CertPolicy, fetcher: Fetcher, urlOf: (req: SignedRequest) => string | null): RemoteKeys {
  const cache = new CertCache(policy, fetcher);
  return {
    resolve(req, nowMs) {
      const url = urlOf(req);
      return url === null ? { ok: true, material: null } : cache.resolve(url, nowMs);
    },
  };
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE), unsigned: PayPal signs the body only through it (node:zlib's crc32 needs Node 20.15). */
export function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const byte of b) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
