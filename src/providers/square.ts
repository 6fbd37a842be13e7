// Square: x-square-hmacsha256-signature = base64 HMAC-SHA256(signature key, notification URL + raw body)
// (providers.md §3.10; square's WebhooksHelper: payload = notificationUrl + requestBody). The URL is
// the subscription's notification URL, byte for byte (a trailing slash matters): the route's
// publicUrl, combined with the request's query as public-url.ts says. The legacy
// x-square-signature (HMAC-SHA1 over the same bytes) is accepted only when the SHA-256 one is absent;
// it signs the same content with the same key, so accepting it lowers nothing but the hash.
// No timestamp. Id: the body's `event_id` ("use the generated idempotency value … event_id").
import { createHash } from 'node:crypto';
import { decodeBase64, fail, hmac, invalid, jsonPath, matchAny, parseJson, single } from './primitives.js';
import { NO_PUBLIC_URL, signedUrl } from './public-url.js';
import type { Scheme, SignedRequest, Verdict } from './types.js';

const SIGNATURE = 'x-square-hmacsha256-signature';
const LEGACY = 'x-square-signature';

export const square: Scheme<Buffer> = {
  name: 'square',
  signedHeaders: [],
  signsBody: true,
  urlSigned: true,
  key(secret) {
    if (secret === '') throw new Error('square: the subscription signature key is empty');
    return Buffer.from(secret, 'utf8');
  },
  verify(req: SignedRequest, keys, opts): Verdict {
    const legacy = req.headers[SIGNATURE] === undefined && req.headers[LEGACY] !== undefined;
    const name = legacy ? LEGACY : SIGNATURE;
    const h = single(req.headers, name);
    if (!h.ok) return fail(h.code, h.message);
    const sig = decodeBase64(h.value.trim());
    if (sig === null || sig.length === 0) return fail('malformed', `header ${name} is not base64`);
    if (opts.publicUrl === null) return fail('signature_invalid', NO_PUBLIC_URL);
    const url = signedUrl(opts.publicUrl, req.url);
    const found = matchAny(keys, [sig], (k) => hmac(legacy ? 'sha1' : 'sha256', k, url, req.body));
    if (found < 0) return invalid();
    // Square sends JSON objects. Insisting on one also stops bytes moved between the signed URL's query
    // and the body (the signature covers only their concatenation) from turning an event_id delivery
    // into one keyed on a digest: no proper suffix of a JSON object is one.
    const json = parseJson(req.body);
    if (json === null || typeof json !== 'object' || Array.isArray(json)) return fail('malformed', 'the signed body is not the JSON object square sends');
    const id = jsonPath(json, 'event_id');
    if (id !== undefined) return { ok: true, secretIndex: found, id };
    // no id: the key is the digest of what was signed, the notification URL and the body
    return { ok: true, secretIndex: found, digest: createHash('sha256').update(url).update(req.body).digest('hex') };
  },
  sign(input) {
    return { 'X-Square-Hmacsha256-Signature': hmac('sha256', input.secret, input.url, input.body).toString('base64') };
  },
};
