// Apple App Store Server Notifications V2: the body is {"signedPayload": "<JWS>"}, ES256, the signing
// chain in the protected header's x5c: leaf, Apple WWDR intermediate, Apple Root CA - G3. As Apple's
// App Store Server Library verifies it (SignedDataVerifier / ChainVerifier): the root is pinned (not
// "any trusted root"), the intermediate must carry OID 1.2.840.113635.100.6.2.1 and the leaf
// 1.2.840.113635.100.6.11.1 (without them any Apple-issued certificate, a developer's included, would
// pass), each certificate signs the next, all are valid now, and the JWS verifies with the leaf's key.
// The route's secrets are the app bundle ids it accepts (every app's notifications are Apple-signed).
// Id: notificationUUID (signed). Only the token is signed, not the wrapper: no json: keys on the body.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { parseCompact, signCompact, verifySignature } from './jws.js';
import { decodeBase64, fail, invalid, jsonPath, parseJson } from './primitives.js';
import type { RemoteKeys } from './remote.js';
import type { Scheme, Verdict } from './types.js';

/** Apple Root CA - G3, https://www.apple.com/certificateauthority/ (SHA-256 fingerprint 63:34:3A:BF:…:91:79, checked in the tests). */
export const APPLE_ROOT_CA_G3 = `-----BEGIN CERTIFICATE-----
MIICQzCCAcmgAwIBAgIILcX8iNLFS5UwCgYIKoZIzj0EAwMwZzEbMBkGA1UEAwwS
QXBwbGUgUm9vdCBDQSAtIEczMSYwJAYDVQQLDB1BcHBsZSBDZXJ0aWZpY2F0aW9u
IEF1dGhvcml0eTETMBEGA1UECgwKQXBwbGUgSW5jLjELMAkGA1UEBhMCVVMwHhcN
MTQwNDMwMTgxOTA2WhcNMzkwNDMwMTgxOTA2WjBnMRswGQYDVQQDDBJBcHBsZSBS
b290IENBIC0gRzMxJjAkBgNVBAsMHUFwcGxlIENlcnRpZmljYXRpb24gQXV0aG9y
aXR5MRMwEQYDVQQKDApBcHBsZSBJbmMuMQswCQYDVQQGEwJVUzB2MBAGByqGSM49
AgEGBSuBBAAiA2IABJjpLz1AcqTtkyJygRMc3RCV8cWjTnHcFBbZDuWmBSp3ZHtf
TjjTuxxEtX/1H7YyYl3J6YRbTzBPEVoA/VhYDKX1DyxNB0cTddqXl5dvMVztK517
IDvYuVTZXpmkOlEKMaNCMEAwHQYDVR0OBBYEFLuw3qFYM4iapIqZ3r6966/ayySr
MA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgEGMAoGCCqGSM49BAMDA2gA
MGUCMQCD6cHEFl4aXTQY2e3v9GwOAEZLuN+yRhHFD/3meoyhpmvOwgPUnPWTxnS4
at+qIxUCMG1mihDK1A3UT82NQz60imOlM27jbdoXt2QfyFMm+YhidDkLF1vLUagM
6BgD56KyKA==
-----END CERTIFICATE-----
`;

// DER of the marker OIDs (tag 06, length 0a): searched for in each certificate's encoding
const LEAF_OID = Buffer.from('060a2a864886f76364060b01', 'hex');
const INTERMEDIATE_OID = Buffer.from('060a2a864886f76364060201', 'hex');

let pinned: X509Certificate[] | null = null;

const validNow = (c: X509Certificate, nowMs: number) => nowMs >= Date.parse(c.validFrom) && nowMs <= Date.parse(c.validTo);

/** Why the x5c chain is not Apple's App Store signing chain, or null (then its leaf key). */
export function appleChain(x5c: unknown, roots: readonly X509Certificate[], nowMs: number): { key: KeyObject } | { problem: string } {
  if (!Array.isArray(x5c) || x5c.length !== 3 || !x5c.every((c) => typeof c === 'string')) return { problem: 'the token has no x5c chain of three certificates' };
  let certs: X509Certificate[];
  try {
    certs = (x5c as string[]).map((c) => {
      const der = decodeBase64(c);
      if (!der) throw new Error('not base64');
      return new X509Certificate(der);
    });
  } catch {
    return { problem: 'the x5c chain holds something that is not a certificate' };
  }
  const [leaf, inter, top] = certs as [X509Certificate, X509Certificate, X509Certificate];
  const root = roots.find((r) => r.raw.equals(top.raw));
  if (!root) return { problem: 'the chain does not end in Apple Root CA - G3' };
  if (!inter.ca || !inter.checkIssued(root) || !inter.verify(root.publicKey)) return { problem: 'the intermediate is not issued by Apple Root CA - G3' };
  if (!leaf.checkIssued(inter) || !leaf.verify(inter.publicKey)) return { problem: 'the signing certificate is not issued by the intermediate' };
  if (!inter.raw.includes(INTERMEDIATE_OID) || !leaf.raw.includes(LEAF_OID)) return { problem: "the chain is Apple's, but not App Store signing" };
  if (!validNow(leaf, nowMs) || !validNow(inter, nowMs)) return { problem: 'a certificate of the chain is not valid now' };
  return { key: leaf.publicKey };
}

const bundleOf = (claims: unknown): string | undefined =>
  jsonPath(claims, 'data.bundleId') ?? jsonPath(claims, 'summary.bundleId') ?? jsonPath(claims, 'externalPurchaseToken.bundleId');

const DOCS = 'https://developer.apple.com/documentation/appstoreservernotifications/responsebodyv2';

export const appleAppStore: Scheme<string> = {
  name: 'apple-app-store',
  docs: DOCS,
  info: {
    family: 'jws-x5c',
    docs: DOCS,
    headers: ['(body) signedPayload'],
    signed: 'the JWS in the body\'s signedPayload (ES256, x5c chain to Apple Root CA - G3); not the JSON around it',
    // signedDate is signed, but Apple resends the same notification for days: no window applies
    timestamp: null,
    id: 'json:notificationUUID of the signed payload',
    secret: 'utf8',
    notes: [
      "The route's secrets are the app bundle ids it accepts (`com.example.app`), not keys: every app's notifications are Apple-signed. Nothing is fetched: Apple Root CA - G3 is pinned, and the chain must carry the App Store signing OIDs.",
      '`signedDate` is signed but not held to `tolerance`: Apple resends the same signed notification for days.',
      '`hookgate sign --secret` takes a PEM file with a P-256 private key and its three certificates (leaf, intermediate, root), for handlers tested against a root of their own.',
    ],
  },
  signedHeaders: [],
  signsBody: false,
  asymmetric: true,
  warnings: ['apple-app-store: retries resend the same signed notification days later, so no time window applies; a capture is refused as a duplicate (notificationUUID) for ledger.retention only'],
  key(secret) {
    const id = secret.trim();
    if (!/^[A-Za-z0-9.-]{1,255}$/.test(id)) throw new Error("apple-app-store: each secret is an app's bundle id (com.example.app) this route accepts");
    return id;
  },
  // the trust anchor: Apple's root, pinned; tests replace it through the fetcher's trustedRoots
  remote(_opts, fetcher): RemoteKeys {
    const roots = fetcher.trustedRoots ? fetcher.trustedRoots.map((p) => new X509Certificate(p)) : (pinned ??= [new X509Certificate(APPLE_ROOT_CA_G3)]);
    return { resolve: () => ({ ok: true, material: roots }) };
  },
  verify(req, keys, _opts, nowMs, fetched): Verdict {
    const token = jsonPath(parseJson(req.body), 'signedPayload');
    if (token === undefined) return fail('signature_missing', 'the body has no signedPayload');
    const jws = parseCompact(token);
    if (!jws) return fail('malformed', 'signedPayload is not a compact JWS');
    if (jws.alg !== 'ES256') return fail('signature_invalid', 'signedPayload is not ES256');
    const roots = Array.isArray(fetched) ? (fetched as X509Certificate[]) : (pinned ??= [new X509Certificate(APPLE_ROOT_CA_G3)]);
    const chain = appleChain(jws.header.x5c, roots, nowMs);
    if ('problem' in chain) return fail('signature_invalid', chain.problem);
    if (chain.key.asymmetricKeyDetails?.namedCurve !== 'prime256v1' || !verifySignature('ES256', chain.key, jws.signingInput, jws.signature)) return invalid('token signature');
    const claims = parseJson(jws.payload);
    const bundle = bundleOf(claims);
    const found = bundle === undefined ? -1 : keys.indexOf(bundle);
    if (found < 0) return fail('signature_invalid', 'the notification is for an app this route does not accept');
    const id = jsonPath(claims, 'notificationUUID');
    const signed = Number(jsonPath(claims, 'signedDate'));
    const out: Verdict = { ok: true, secretIndex: found };
    if (id !== undefined) out.id = id;
    if (Number.isFinite(signed)) out.timestamp = signed;
    return out;
  },
  sign: () => ({ 'Content-Type': 'application/json' }),
  signBody(input) {
    // --secret: a PEM file with the leaf's private key and the chain (leaf, intermediate, root);
    // --body: the decoded payload to sign (default: a TEST notification)
    const certs = input.secret.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (certs.length !== 3) throw new Error('apple-app-store: --secret must hold the private key and the three certificates (leaf, intermediate, root) as PEM');
    const key = createPrivateKey(input.secret);
    const x5c = certs.map((c) => new X509Certificate(c).raw.toString('base64'));
    const given = parseJson(input.body);
    const payload = given && typeof given === 'object' && !Array.isArray(given)
      ? (given as Record<string, unknown>)
      : { notificationType: 'TEST', notificationUUID: input.id, data: { bundleId: 'com.example.hookgate', environment: 'Sandbox' }, version: '2.0', signedDate: input.timestamp * 1000 };
    return Buffer.from(JSON.stringify({ signedPayload: signCompact({ alg: 'ES256', x5c }, payload, key) }));
  },
};
