// Square: x-square-hmacsha256-signature = base64 HMAC-SHA256(signature key, notification URL + raw body)
// (providers.md §3.10; square's WebhooksHelper: payload = notificationUrl + requestBody). The URL is
// the subscription's notification URL, byte for byte (a trailing slash matters): the route's
// publicUrl, combined with the request's query as public-url.ts says. The legacy
// x-square-signature (HMAC-SHA1 over the same bytes) is accepted only when the SHA-256 one is absent;
// it signs the same content with the same key, so accepting it lowers nothing but the hash.
// No timestamp. Id: the body's `event_id` ("use the generated idempotency value … event_id").
import { decodeBase64, fail, hmac, invalid, jsonPath, matchAny, parseJson, single } from './primitives.js';
import { NO_PUBLIC_URL, signedUrl } from './public-url.js';
import type { Scheme, SignedRequest, Verdict } from './types.js';

const SIGNATURE = 'x-square-hmacsha256-signature';
const LEGACY = 'x-square-signature';

export const square: Scheme<Buffer> = {
  name: 'square',
  signedHeaders: [],
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
    const id = jsonPath(parseJson(req.body), 'event_id');
    return id === undefined ? { ok: true, secretIndex: found } : { ok: true, secretIndex: found, id };
  },
  sign(input) {
    return { 'X-Square-Hmacsha256-Signature': hmac('sha256', input.secret, input.url, input.body).toString('base64') };
  },
};
