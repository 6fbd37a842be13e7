// PayPal REST webhooks (provider-catalog.md family H, high): PAYPAL-TRANSMISSION-SIG = base64
// SHA256withRSA over `<transmission id>|<transmission time>|<webhook id>|<CRC-32 of the body, unsigned
// decimal>`, verified with the certificate at PAYPAL-CERT-URL (fetched only from PayPal's API hosts,
// chained to a trusted root, CN messageverificationcerts[.sandbox].paypal.com as PayPal's Java SDK
// checks; src/providers/cert-url.ts). The route's secrets are its webhook ids (the simulator signs with
// the literal WEBHOOK_ID).
// The body is bound only through CRC-32, which anyone can match with four chosen bytes: so the scheme
// does not count as signing the body (no json: keys or tenants), and the key is the signed transmission
// id, so a captured signature replayed over a CRC-matched body within the window is a duplicate.
import { createPrivateKey, sign as rsaSign, verify as rsaVerify } from 'node:crypto';
import { certRemote, crc32, materialFor, type CertPolicy } from './cert-url.js';
import { decodeBase64, fail, invalid, outOfTolerance, parseRfc3339, single, withinTolerance } from './primitives.js';
import type { Scheme, SignedRequest } from './types.js';

const ID = 'paypal-transmission-id';
const TIME = 'paypal-transmission-time';
const SIG = 'paypal-transmission-sig';
const CERT = 'paypal-cert-url';
const ALGO = 'paypal-auth-algo';

export const PAYPAL_CERTS: CertPolicy = {
  name: 'PayPal',
  allowed: (u) =>
    u.protocol === 'https:' && (u.host === 'api.paypal.com' || u.host === 'api.sandbox.paypal.com') && u.pathname.startsWith('/v1/notifications/certs/') && !u.username && !u.password && !u.search && !u.hash,
  identities: ['messageverificationcerts.paypal.com', 'messageverificationcerts.sandbox.paypal.com'],
  chain: 'root',
};

const certUrl = (req: SignedRequest): string | null => {
  const h = single(req.headers, CERT);
  return h.ok ? h.value : null;
};

const DOCS = 'https://developer.paypal.com/api/rest/webhooks/rest/#link-verifysignatureoffline';

export const paypal: Scheme<string> = {
  name: 'paypal',
  docs: DOCS,
  info: {
    family: 'cert-url',
    docs: DOCS,
    headers: ['PAYPAL-TRANSMISSION-SIG'],
    signed: '{header:paypal-transmission-id}|{timestamp}|{secret}|CRC-32 of {body} (unsigned decimal), SHA256withRSA',
    timestamp: 'header PAYPAL-TRANSMISSION-TIME, RFC 3339',
    id: 'header:paypal-transmission-id',
    secret: 'utf8',
    notes: [
      "The route's secrets are its webhook ids (developer dashboard; the simulator signs with `WEBHOOK_ID`), not keys: the signature is verified with the certificate at `PAYPAL-CERT-URL`, fetched only from `api.paypal.com` or `api.sandbox.paypal.com` and chained to a trusted root. `hookgate sign --secret` takes an RSA private key.",
      'The body is bound only by CRC-32, which a forger can match: `json:` keys and tenants are refused, and the key is the signed transmission id.',
    ],
  },
  signedHeaders: [ID, TIME],
  signsBody: false,
  asymmetric: true,
  warnings: ['paypal: the signature binds the body only through CRC-32, which a forger can match: json: keys and tenants are refused, and the key is the signed transmission id'],
  key(secret) {
    const id = secret.trim();
    if (!/^[\x21-\x7e]{1,128}$/.test(id)) throw new Error("paypal: the secret is the webhook's id (from the developer dashboard), printable, without spaces");
    return id;
  },
  remote: (_opts, fetcher) => certRemote(PAYPAL_CERTS, fetcher, certUrl),
  verify(req, keys, opts, nowMs, fetched) {
    const sig = single(req.headers, SIG);
    if (!sig.ok) return sig.code === 'signature_missing' ? fail(sig.code, sig.message) : fail('malformed', sig.message);
    const parts = [ID, TIME, CERT, ALGO].map((h) => single(req.headers, h, 'malformed'));
    for (const p of parts) if (!p.ok) return fail(p.code, p.message);
    const [id, time, cert, algo] = parts.map((p) => (p as { value: string }).value) as [string, string, string, string];
    if (algo !== 'SHA256withRSA') return fail('signature_invalid', `${ALGO} ${JSON.stringify(algo.slice(0, 32))} is not SHA256withRSA`);
    const material = materialFor(fetched, cert);
    if (!material) return fail('signature_invalid', 'the certificate was not resolved for this delivery');
    const ts = parseRfc3339(time);
    if (ts === null) return fail('malformed', `header ${TIME} is not an RFC 3339 time`);
    const signature = decodeBase64(sig.value.trim());
    if (!signature || signature.length === 0) return fail('malformed', `header ${SIG} is not base64`);
    const crc = crc32(req.body);
    let found = -1;
    for (let i = 0; i < keys.length && found < 0; i++) {
      try {
        if (rsaVerify('sha256', Buffer.from(`${id}|${time}|${keys[i]}|${crc}`, 'utf8'), material.key, signature)) found = i;
      } catch {
        /* not an RSA signature of this key: no match */
      }
    }
    if (found < 0) return invalid();
    if (!withinTolerance(ts, nowMs, opts.toleranceMs)) return outOfTolerance();
    return { ok: true, secretIndex: found, id, timestamp: ts };
  },
  sign(input) {
    // as PayPal's simulator: webhook id WEBHOOK_ID; the certificate URL names where the signing
    // certificate would be (a gateway fetches it from PayPal, so only tests with their own fetcher use it)
    const key = createPrivateKey(input.secret);
    if (key.asymmetricKeyType !== 'rsa') throw new Error('paypal: signing needs an RSA private key (PEM)');
    const time = new Date(input.timestamp * 1000).toISOString().replace('.000Z', 'Z');
    const msg = `${input.id}|${time}|WEBHOOK_ID|${crc32(input.body)}`;
    return {
      'PAYPAL-TRANSMISSION-ID': input.id,
      'PAYPAL-TRANSMISSION-TIME': time,
      'PAYPAL-TRANSMISSION-SIG': rsaSign('sha256', Buffer.from(msg), key).toString('base64'),
      'PAYPAL-CERT-URL': 'https://api.sandbox.paypal.com/v1/notifications/certs/CERT-hookgate-sign',
      'PAYPAL-AUTH-ALGO': 'SHA256withRSA',
    };
  },
};
