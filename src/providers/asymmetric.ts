// Public-key providers beyond discord (Ed25519) and sendgrid (ECDSA): the route's secret is the public
// key in the form the provider publishes it, `hookgate sign --secret @private.pem` signs.
//   telnyx  Ed25519 over `<telnyx-timestamp>|<body>`, signature and key base64 (official telnyx SDKs,
//           webhook.py: `timestamp + b"|" + payload`, VerifyKey(public_key, Base64Encoder)); id: data.id.
//   wise    SHA256withRSA over the body, X-Signature-SHA256 base64, Wise's published public key (PEM);
//           no timestamp and no signed id (X-Delivery-Id is not signed): the key is the body's digest.
import { createPrivateKey, createPublicKey, sign as cSign, verify as cVerify, type KeyObject } from 'node:crypto';
import { decodeBase64, fail, invalid, jsonPath, outOfTolerance, parseJson, parseUnixSeconds, single, withinTolerance } from './primitives.js';
import type { Scheme, Verdict } from './types.js';

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function telnyxKey(secret: string): KeyObject {
  const BAD = 'telnyx: the key must be the public key from the Mission Control portal (base64 of 32 bytes) or a PEM Ed25519 public key';
  const text = secret.trim();
  try {
    if (text.startsWith('-----BEGIN')) {
      const k = createPublicKey(text);
      if (k.asymmetricKeyType !== 'ed25519') throw new Error();
      return k;
    }
    const raw = decodeBase64(text);
    if (!raw || raw.length !== 32) throw new Error();
    return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch {
    throw new Error(BAD);
  }
}

const TELNYX_DOCS = 'https://developers.telnyx.com/docs/messaging/messages/receiving-webhooks#webhook-signing';
const WISE_DOCS = 'https://docs.wise.com/guides/developer/webhooks/event-handling';

export const telnyx: Scheme<KeyObject> = {
  name: 'telnyx',
  docs: TELNYX_DOCS,
  info: {
    family: 'ed25519',
    docs: TELNYX_DOCS,
    headers: ['telnyx-signature-ed25519'],
    signed: '{timestamp}|{body}',
    timestamp: 'header telnyx-timestamp, unix s',
    id: 'json:data.id',
    secret: 'public-key',
    notes: ["The route's secret is the public key from the Mission Control portal (base64 of 32 bytes) or a PEM; `hookgate sign --secret` takes an Ed25519 private key (PEM or @file)."],
  },
  signedHeaders: ['telnyx-timestamp'],
  signsBody: true,
  asymmetric: true,
  key: telnyxKey,
  verify(req, keys, opts, nowMs): Verdict {
    const s = single(req.headers, 'telnyx-signature-ed25519');
    if (!s.ok) return fail(s.code, s.message);
    const t = single(req.headers, 'telnyx-timestamp', 'malformed');
    if (!t.ok) return fail(t.code, t.message);
    const sig = decodeBase64(s.value.trim());
    if (!sig || sig.length !== 64) return fail('malformed', 'header telnyx-signature-ed25519 is not a base64 Ed25519 signature');
    const ts = parseUnixSeconds(t.value);
    if (ts === null) return fail('malformed', 'header telnyx-timestamp is not a unix timestamp');
    const signed = Buffer.concat([Buffer.from(`${t.value}|`, 'utf8'), req.body]);
    const found = keys.findIndex((k) => cVerify(null, signed, k, sig));
    if (found < 0) return invalid();
    if (!withinTolerance(ts, nowMs, opts.toleranceMs)) return outOfTolerance();
    const id = jsonPath(parseJson(req.body), 'data.id');
    return id === undefined ? { ok: true, secretIndex: found, timestamp: ts } : { ok: true, secretIndex: found, timestamp: ts, id };
  },
  sign(input) {
    const key = createPrivateKey(input.secret);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('telnyx: signing needs an Ed25519 private key (PEM)');
    const ts = String(input.timestamp);
    return { 'telnyx-signature-ed25519': cSign(null, Buffer.concat([Buffer.from(`${ts}|`), input.body]), key).toString('base64'), 'telnyx-timestamp': ts };
  },
};

export const wise: Scheme<KeyObject> = {
  name: 'wise',
  docs: WISE_DOCS,
  info: {
    family: 'rsa',
    docs: WISE_DOCS,
    headers: ['X-Signature-SHA256'],
    signed: '{body}, SHA256withRSA',
    timestamp: null,
    id: 'digest',
    deliveryIdHeader: 'X-Delivery-Id',
    secret: 'public-key',
    notes: ["The route's secret is Wise's webhook public key (PEM); sandbox and production keys differ: list both to accept both. `hookgate sign --secret` takes an RSA private key."],
  },
  signedHeaders: [],
  signsBody: true,
  asymmetric: true,
  key(secret) {
    try {
      const k = createPublicKey(secret.trim());
      if (k.asymmetricKeyType === 'rsa' && (k.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return k;
    } catch {
      /* reported below */
    }
    throw new Error("wise: the key must be Wise's webhook public key (PEM, RSA), for the environment (sandbox or production) that calls this route");
  },
  verify(req, keys): Verdict {
    const s = single(req.headers, 'x-signature-sha256');
    if (!s.ok) return fail(s.code, s.message);
    const sig = decodeBase64(s.value.trim());
    if (!sig || sig.length === 0) return fail('malformed', 'header x-signature-sha256 is not base64');
    const found = keys.findIndex((k) => {
      try {
        return cVerify('sha256', req.body, k, sig);
      } catch {
        return false;
      }
    });
    return found < 0 ? invalid() : { ok: true, secretIndex: found };
  },
  sign(input) {
    const key = createPrivateKey(input.secret);
    if (key.asymmetricKeyType !== 'rsa') throw new Error('wise: signing needs an RSA private key (PEM)');
    return { 'X-Signature-SHA256': cSign('sha256', input.body, key).toString('base64'), 'X-Delivery-Id': input.id };
  },
};
