// Linear: `Linear-Signature: <hex>`, HMAC-SHA256 of the raw body; the replay timestamp is
// `webhookTimestamp` (ms) inside that signed body, the `Linear-Timestamp` header being deprecated
// (providers.md §3.12, @linear/sdk's verifier).
import type { KeyObject } from 'node:crypto';
import { fail, hmac, invalid, jsonObject, matchAny, signatureValues, single, utf8Key, verdict } from './primitives.js';
import type { Scheme } from './types.js';

const HEADER = 'linear-signature';

export const linear: Scheme<KeyObject> = {
  name: 'linear',
  signedHeaders: [],
  signsBody: true,
  key: (secret) => utf8Key(secret),
  verify(req, keys, opts, nowMs) {
    const h = single(req.headers, HEADER);
    if (!h.ok) return h;
    const sigs = signatureValues(h.value, '', 'hex');
    if (sigs === null) return fail('malformed', `header ${HEADER} is not hex`);
    const i = matchAny(keys, sigs, (k) => hmac('sha256', k, req.body));
    if (i < 0) return invalid();
    // the body is authentic from here on; its timestamp decides freshness
    const ts = (jsonObject(req.body) as { webhookTimestamp?: unknown } | undefined)?.webhookTimestamp;
    if (typeof ts !== 'number' || !Number.isSafeInteger(ts)) return fail('malformed', 'the signed body has no numeric webhookTimestamp');
    // No id: the body's `webhookId` names the webhook subscription (the same on every delivery), not the
    // delivery, and the Linear-Delivery header is not signed; the key is the digest of the signed bytes.
    return verdict(i, { timestampMs: ts, nowMs, toleranceMs: opts.toleranceMs });
  },
  sign: (input) => ({
    [HEADER]: hmac('sha256', input.secret, input.body).toString('hex'),
    ...(input.id ? { 'linear-delivery': input.id } : {}),
  }),
};
