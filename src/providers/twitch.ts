// Twitch EventSub (webhook transport): `Twitch-Eventsub-Message-Signature: sha256=<hex>`, HMAC-SHA256 over
// message id + timestamp + body, no separators; the timestamp is RFC 3339 with nanoseconds and is signed
// verbatim (providers.md §3.17).
import { randomUUID, type KeyObject } from 'node:crypto';
import { fail, hmac, jsonObject, jsonPath, matchAny, parseRfc3339, rfc3339Nano, signatureValues, single, utf8Key, verdict } from './primitives.js';
import type { Scheme } from './types.js';

const P = 'twitch-eventsub-message-';

export const twitch: Scheme<KeyObject> = {
  name: 'twitch',
  signedHeaders: [`${P}id`, `${P}timestamp`],
  signsBody: true,
  key: (secret) => utf8Key(secret),
  verify(req, keys, opts, nowMs) {
    const h = single(req.headers, `${P}signature`);
    if (!h.ok) return h;
    const id = single(req.headers, `${P}id`, 'malformed');
    if (!id.ok) return id;
    const ts = single(req.headers, `${P}timestamp`, 'malformed');
    if (!ts.ok) return ts;
    const timestampMs = parseRfc3339(ts.value);
    if (timestampMs === null) return fail('malformed', `header ${P}timestamp is not an RFC 3339 time`);
    const sigs = signatureValues(h.value, 'sha256=', 'hex');
    if (sigs === null) return fail('malformed', `header ${P}signature is not sha256=<hex>`);
    const i = matchAny(keys, sigs, (k) => hmac('sha256', k, id.value, ts.value, req.body));
    // the message id is signed and "the same if Twitch resends the message"
    return verdict(i, { timestampMs, nowMs, toleranceMs: opts.toleranceMs }, () => id.value);
  },
  sign(input) {
    const id = input.id || randomUUID();
    const ts = rfc3339Nano(input.timestamp);
    const body = jsonObject(input.body);
    const out: Record<string, string> = {
      [`${P}id`]: id,
      [`${P}retry`]: '0',
      // a body with a `challenge` is the callback verification handshake
      [`${P}type`]: body && jsonPath(body, 'challenge') !== undefined ? 'webhook_callback_verification' : 'notification',
      [`${P}signature`]: 'sha256=' + hmac('sha256', input.secret, id, ts, input.body).toString('hex'),
      [`${P}timestamp`]: ts,
    };
    const type = body && jsonPath(body, 'subscription.type');
    const version = body && jsonPath(body, 'subscription.version');
    if (type) out['twitch-eventsub-subscription-type'] = type;
    if (version) out['twitch-eventsub-subscription-version'] = version;
    return out;
  },
};
