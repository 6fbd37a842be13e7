// SendGrid Event Webhook: X-Twilio-Email-Event-Webhook-Signature = base64 DER ECDSA (P-256, SHA-256)
// signature of X-Twilio-Email-Event-Webhook-Timestamp + raw body (providers.md §3.8). The raw body
// matters: SendGrid bodies end in \r\n and separate events with },\r\n{.
// The configured "secret" is the verification key from Mail Settings: base64 DER SubjectPublicKeyInfo
// (PEM accepted too). A delivery is a batch of events (each with its sg_event_id), so it has no
// single id: the key is the digest of the signed bytes.
import { createPrivateKey, createPublicKey, sign as ecSign, verify as ecVerify, type KeyObject } from 'node:crypto';
import { decodeBase64, fail, invalid, outOfTolerance, parseUnixSeconds, single, withinTolerance } from './primitives.js';
import type { Scheme, SignedRequest, Verdict } from './types.js';

const SIGNATURE = 'x-twilio-email-event-webhook-signature';
const TIMESTAMP = 'x-twilio-email-event-webhook-timestamp';

function isP256(k: KeyObject): boolean {
  return k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

export function sendgridPublicKey(secret: string): KeyObject {
  const BAD = 'sendgrid: the key must be the Event Webhook verification key (base64 DER public key, ECDSA P-256)';
  const text = secret.trim();
  let key: KeyObject;
  try {
    if (text.startsWith('-----BEGIN')) key = createPublicKey(text);
    else {
      const der = decodeBase64(text.replace(/\s+/g, ''));
      if (der === null || der.length === 0) throw new Error('not base64');
      key = createPublicKey({ key: der, format: 'der', type: 'spki' });
    }
  } catch {
    throw new Error(BAD);
  }
  if (!isP256(key)) throw new Error(BAD);
  return key;
}

export const sendgrid: Scheme<KeyObject> = {
  name: 'sendgrid',
  signedHeaders: [TIMESTAMP],
  signsBody: true,
  asymmetric: true,
  key(secret) {
    return sendgridPublicKey(secret);
  },
  verify(req: SignedRequest, keys, opts, nowMs): Verdict {
    const sigH = single(req.headers, SIGNATURE);
    if (!sigH.ok) return fail(sigH.code, sigH.message);
    const tsH = single(req.headers, TIMESTAMP);
    if (!tsH.ok) return fail(tsH.code, tsH.message);
    const sig = decodeBase64(sigH.value.trim());
    if (sig === null || sig.length === 0) return fail('malformed', `header ${SIGNATURE} is not base64`);
    const ts = parseUnixSeconds(tsH.value);
    if (ts === null) return fail('malformed', `header ${TIMESTAMP} is not a unix timestamp`);
    const signed = Buffer.concat([Buffer.from(tsH.value, 'utf8'), req.body]);
    let found = -1;
    for (let i = 0; i < keys.length; i++) {
      let ok = false;
      try {
        ok = ecVerify('sha256', signed, { key: keys[i]!, dsaEncoding: 'der' }, sig);
      } catch {
        ok = false; // a signature that is not DER: simply not a match
      }
      if (ok && found < 0) found = i;
    }
    if (found < 0) return invalid();
    if (!withinTolerance(ts, nowMs, opts.toleranceMs)) return outOfTolerance();
    return { ok: true, secretIndex: found, timestamp: ts };
  },
  sign(input) {
    const key = createPrivateKey(input.secret);
    if (!isP256(key)) throw new Error('sendgrid: signing needs an ECDSA P-256 private key (PEM)');
    const ts = String(input.timestamp);
    return {
      'X-Twilio-Email-Event-Webhook-Signature': ecSign('sha256', Buffer.concat([Buffer.from(ts, 'utf8'), input.body]), { key, dsaEncoding: 'der' }).toString('base64'),
      'X-Twilio-Email-Event-Webhook-Timestamp': ts,
    };
  },
};
