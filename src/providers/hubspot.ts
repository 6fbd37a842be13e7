// HubSpot v3: X-HubSpot-Signature-v3 = base64 HMAC-SHA256(client secret,
//   METHOD + URI + raw body + X-HubSpot-Request-Timestamp), the timestamp in milliseconds
// (providers.md §3.18; @hubspot/api-client Signature.getSignature; HubSpot's changelog "Introducing
// version 3 of webhook signatures": reject timestamps older than 5 minutes).
// URI: the full URL HubSpot called, query included: the route's publicUrl combined with the request's
// query (public-url.ts). HubSpot's guide also tells verifiers to decode a few percent-encoded
// characters in the URI, while the SDK signs the URL verbatim: both forms are tried.
// Only v3 is accepted. v1/v2 (X-HubSpot-Signature) sign no timestamp and HubSpot still sends them
// beside v3 "for backward compatibility": accepting them would let anyone holding a captured delivery
// strip the v3 headers and replay it outside the window. sign() still emits the v1 headers HubSpot sends.
// Bodies are batches (arrays of events with eventId): the key is the digest of the signed method, URI and body.
import { createHash } from 'node:crypto';
import { decodeBase64, fail, hmac, invalid, outOfTolerance, safeEqual, single, withinTolerance } from './primitives.js';
import { NO_PUBLIC_URL, signedUrl } from './public-url.js';
import type { Scheme, SignedRequest, Verdict } from './types.js';

const SIGNATURE = 'x-hubspot-signature-v3';
const TIMESTAMP = 'x-hubspot-request-timestamp';

// The characters HubSpot's validating-requests guide lists for decoding in the request URI.
const DECODE: Record<string, string> = {
  '%3A': ':', '%2F': '/', '%3F': '?', '%40': '@', '%21': '!', '%24': '$',
  '%27': "'", '%28': '(', '%29': ')', '%2A': '*', '%2C': ',', '%3B': ';',
};
export function hubspotDecodeUri(uri: string): string {
  return uri.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (m) => DECODE[m.toUpperCase()]!);
}

export const hubspot: Scheme<Buffer> = {
  name: 'hubspot',
  signedHeaders: [TIMESTAMP],
  signsBody: true,
  urlSigned: true,
  key(secret) {
    if (secret === '') throw new Error('hubspot: the app client secret is empty');
    return Buffer.from(secret, 'utf8');
  },
  verify(req: SignedRequest, keys, opts, nowMs): Verdict {
    const sigH = single(req.headers, SIGNATURE);
    if (!sigH.ok)
      return fail(sigH.code, sigH.code === 'signature_missing' ? `header ${SIGNATURE} is missing (only v3 signatures are accepted)` : sigH.message);
    const tsH = single(req.headers, TIMESTAMP);
    if (!tsH.ok) return fail(tsH.code, tsH.message);
    const sig = decodeBase64(sigH.value.trim());
    if (sig === null || sig.length === 0) return fail('malformed', `header ${SIGNATURE} is not base64`);
    if (!/^\d{1,16}$/.test(tsH.value)) return fail('malformed', `header ${TIMESTAMP} is not a timestamp in milliseconds`);
    const ts = Number(tsH.value);
    if (opts.publicUrl === null) return fail('signature_invalid', NO_PUBLIC_URL);
    const uri = signedUrl(opts.publicUrl, req.url);
    const uris = [uri];
    const decoded = hubspotDecodeUri(uri);
    if (decoded !== uri) uris.push(decoded);
    let found = -1;
    let signed = '';
    for (let i = 0; i < keys.length; i++)
      for (const u of uris) if (safeEqual(hmac('sha256', keys[i]!, req.method, u, req.body, tsH.value), sig) && found < 0) (found = i), (signed = u);
    if (found < 0) return invalid();
    if (!withinTolerance(ts, nowMs, opts.toleranceMs)) return outOfTolerance();
    // The key: the digest of the signed method + URI + body, as signed (the same body on two URLs is two
    // deliveries). The timestamp is left out, so a retry signed afresh keeps its key.
    const digest = createHash('sha256').update(req.method).update(signed).update(req.body).digest('hex');
    return { ok: true, secretIndex: found, timestamp: ts, digest };
  },
  sign(input) {
    const ts = String(input.timestamp * 1000);
    return {
      'X-HubSpot-Signature-v3': hmac('sha256', input.secret, input.method.toUpperCase(), input.url, input.body, ts).toString('base64'),
      'X-HubSpot-Request-Timestamp': ts,
      // v1, as HubSpot still sends it for webhooks (hex SHA-256 of client secret + body; not verified here)
      'X-HubSpot-Signature-Version': 'v1',
      'X-HubSpot-Signature': createHash('sha256').update(input.secret).update(input.body).digest('hex'),
    };
  },
};
