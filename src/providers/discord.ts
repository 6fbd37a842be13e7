// Discord (interactions endpoint and webhook events): X-Signature-Ed25519 = hex Ed25519 signature of
// X-Signature-Timestamp + raw body, verified with the application's public key (providers.md §3.7).
// The configured "secret" is that public key (64 hex characters), not a secret at all.
// Id: an interaction's body carries its snowflake `id` (signed, since the body is); webhook events
// carry none, so they key on the digest. PING (interactions type 1, webhook events type 0) arrives
// signed and is forwarded like any delivery: the upstream answers it ({"type":1}, or 204).
import { createPrivateKey, createPublicKey, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { decodeHex, fail, invalid, jsonPath, outOfTolerance, parseJson, parseUnixSeconds, single, withinTolerance } from './primitives.js';
import type { Scheme, SignedRequest, Verdict } from './types.js';

const SIGNATURE = 'x-signature-ed25519';
const TIMESTAMP = 'x-signature-timestamp';
/** DER SubjectPublicKeyInfo header for an Ed25519 key (RFC 8410 §4); the 32 raw key bytes follow. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function discordPublicKey(hex: string): KeyObject {
  const raw = decodeHex(hex.trim());
  if (raw === null || raw.length !== 32)
    throw new Error('discord: the key must be the application\'s public key from the Developer Portal: 64 hex characters (32 bytes)');
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export const discord: Scheme<KeyObject> = {
  name: 'discord',
  signedHeaders: [TIMESTAMP],
  signsBody: true,
  asymmetric: true,
  key(secret) {
    return discordPublicKey(secret);
  },
  verify(req: SignedRequest, keys, opts, nowMs): Verdict {
    const sigH = single(req.headers, SIGNATURE);
    if (!sigH.ok) return fail(sigH.code, sigH.message);
    const tsH = single(req.headers, TIMESTAMP);
    if (!tsH.ok) return fail(tsH.code, tsH.message);
    const sig = decodeHex(sigH.value.trim());
    if (sig === null || sig.length !== 64) return fail('malformed', `header ${SIGNATURE} is not a 64-byte hex signature`);
    const ts = parseUnixSeconds(tsH.value);
    if (ts === null) return fail('malformed', `header ${TIMESTAMP} is not a unix timestamp`);
    const signed = Buffer.concat([Buffer.from(tsH.value, 'utf8'), req.body]);
    let found = -1;
    for (let i = 0; i < keys.length; i++) if (edVerify(null, signed, keys[i]!, sig) && found < 0) found = i;
    if (found < 0) return invalid();
    if (!withinTolerance(ts, nowMs, opts.toleranceMs)) return outOfTolerance();
    const id = jsonPath(parseJson(req.body), 'id');
    return id === undefined ? { ok: true, secretIndex: found, timestamp: ts } : { ok: true, secretIndex: found, timestamp: ts, id };
  },
  sign(input) {
    const key = createPrivateKey(input.secret);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('discord: signing needs an Ed25519 private key (PEM)');
    const ts = String(input.timestamp);
    return {
      'X-Signature-Ed25519': edSign(null, Buffer.concat([Buffer.from(ts, 'utf8'), input.body]), key).toString('hex'),
      'X-Signature-Timestamp': ts,
    };
  },
};
