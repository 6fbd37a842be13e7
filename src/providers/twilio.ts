// Twilio: X-Twilio-Signature = base64 HMAC-SHA1(auth token, URL + sorted form parameters).
// Facts: providers.md §3.6; the reference is twilio-node lib/webhooks/webhooks.js.
// - Form POSTs: each parameter name immediately followed by its value, sorted by name; a repeated
//   name's values are de-duplicated and sorted (twilio-node toFormUrlEncodedParam).
// - JSON bodies: the URL carries `bodySHA256=<hex sha256(body)>`, the signature covers the URL only,
//   and the body must hash to that value (validateRequestWithBody).
// - SharedKey webhook rules add `X-Twilio-Webhooks-Signature-Settings: key=…,algorithm=HMAC_SHA256`:
//   same signed string, other hash; the SharedKey secret is configured as one of the route's secrets.
// - No timestamp. No signed id: `I-Twilio-Idempotency-Token` is NOT covered by the signature, so the
//   delivery key is the digest of what was signed: the URL (with its query) and the parameters.
import { createHash } from 'node:crypto';
import { parse as qsParse, stringify as qsStringify } from 'node:querystring';
import { FORM_NOT_UTF8, decodeBase64, decodeHex, fail, formDecodesToUtf8, hmac, invalid, parseForm, safeEqual, single } from './primitives.js';
import { NO_PUBLIC_URL, fragmentOf, signedUrl } from './public-url.js';
import type { Scheme, SignInput, SignedRequest, Verdict } from './types.js';

const SIGNATURE = 'x-twilio-signature';
const SETTINGS = 'x-twilio-webhooks-signature-settings';

type Alg = 'sha1' | 'sha256';

/** The algorithm named by the SharedKey settings header; absent means the Auth Token's HMAC-SHA1. */
function algorithmOf(settings: string | undefined): Alg | null {
  for (const part of (settings ?? '').split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== 'algorithm') continue;
    const a = part.slice(eq + 1).trim().toUpperCase();
    if (a === '') break;
    return a === 'HMAC_SHA1' ? 'sha1' : a === 'HMAC_SHA256' ? 'sha256' : null;
  }
  return 'sha1';
}

/** The sorted `name+value…` string twilio-node appends to the URL. */
export function paramString(form: URLSearchParams): string {
  const byName = new Map<string, string[]>();
  for (const [k, v] of form) {
    const vs = byName.get(k);
    if (vs) vs.push(v);
    else byName.set(k, [v]);
  }
  let out = '';
  for (const name of [...byName.keys()].sort()) {
    const vs = byName.get(name)!;
    const values = vs.length === 1 ? vs : [...new Set(vs)].sort();
    for (const v of values) out += name + v;
  }
  return out;
}

// twilio-node's URL tolerance: the URL as signed, with and without the default port; then the URL as
// `new URL()` normalises it, and that with Node's legacy querystring re-encoding.
const SPLIT = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)/i;
function portVariants(url: string): string[] {
  const m = SPLIT.exec(url);
  if (!m) return [url];
  const [prefix, scheme, authority] = m as unknown as [string, string, string];
  const at = authority.lastIndexOf('@');
  const userInfo = authority.slice(0, at + 1);
  const hostPort = authority.slice(at + 1);
  const colon = hostPort.indexOf(':', hostPort.lastIndexOf(']') + 1);
  const host = colon < 0 ? hostPort : hostPort.slice(0, colon);
  const rest = url.slice(prefix.length);
  const without = scheme + userInfo + host + rest;
  const withPort = colon >= 0 ? url : scheme + userInfo + host + (scheme.toLowerCase() === 'https://' ? ':443' : ':80') + rest;
  return [without, withPort];
}
function legacyQuery(url: string): string {
  const q = url.indexOf('?');
  if (q < 0 || q === url.length - 1) return url;
  return url.slice(0, q) + '?' + qsStringify(qsParse(url.slice(q + 1)));
}
export function urlCandidates(url: string): string[] {
  const out = new Set(portVariants(url));
  let normalized: string | null = null;
  try {
    normalized = new URL(url).toString();
  } catch {
    /* not a URL: only the as-received variants */
  }
  if (normalized !== null) {
    for (const v of portVariants(normalized)) {
      out.add(v);
      out.add(legacyQuery(v));
    }
  }
  return [...out];
}

function sha256Hex(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

function bodyHash(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

function isForm(contentType: string | string[] | undefined): boolean {
  if (contentType === undefined) return true;
  const ct = (Array.isArray(contentType) ? contentType[0] ?? '' : contentType).split(';')[0]!.trim().toLowerCase();
  return ct === '' || ct === 'application/x-www-form-urlencoded';
}

function queryParams(url: string): URLSearchParams {
  const q = url.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : url.slice(q + 1).split('#')[0]);
}

export const twilio: Scheme<Buffer> = {
  name: 'twilio',
  signedHeaders: [],
  signsBody: true,
  urlSigned: true,
  key(secret) {
    if (secret === '') throw new Error('twilio: the auth token (or SharedKey secret) is empty');
    return Buffer.from(secret, 'utf8');
  },
  verify(req: SignedRequest, keys, opts): Verdict {
    const sigH = single(req.headers, SIGNATURE);
    if (!sigH.ok) return fail(sigH.code, sigH.message);
    const sig = decodeBase64(sigH.value.trim());
    if (sig === null || sig.length === 0) return fail('malformed', `header ${SIGNATURE} is not base64`);
    let alg: Alg | null = 'sha1';
    if (req.headers[SETTINGS] !== undefined) {
      const s = single(req.headers, SETTINGS, 'malformed');
      if (!s.ok) return fail('malformed', s.message);
      alg = algorithmOf(s.value);
      if (alg === null) return fail('malformed', `header ${SETTINGS} names an unsupported algorithm`);
    }
    if (opts.publicUrl === null) return fail('signature_invalid', NO_PUBLIC_URL);

    const url = signedUrl(opts.publicUrl, req.url);
    const declared = queryParams(url).getAll('bodySHA256');
    if (declared.length > 1) return fail('malformed', 'the URL carries bodySHA256 more than once');
    let params = '';
    if (declared.length === 0 && req.body.length > 0) {
      if (!isForm(req.headers['content-type']))
        return fail('malformed', 'twilio signs form parameters: the body must be application/x-www-form-urlencoded, or the URL must carry bodySHA256');
      const form = parseForm(req.body);
      if (!form.ok) return fail('malformed', form.message);
      if (!formDecodesToUtf8(req.body)) return fail('malformed', FORM_NOT_UTF8);
      params = paramString(form.value);
    }

    const frag = fragmentOf(opts.publicUrl);
    const urls = urlCandidates(url);
    if (frag) for (const u of [...urls]) urls.push(u + frag);
    let found = -1;
    let signed = '';
    for (let i = 0; i < keys.length; i++) {
      for (const u of urls) if (safeEqual(hmac(alg, keys[i]!, u, params), sig) && found < 0) (found = i), (signed = u);
    }
    if (found < 0) return invalid();
    if (declared.length === 1) {
      const want = decodeHex(declared[0]!.toLowerCase());
      if (want === null || !safeEqual(want, Buffer.from(bodyHash(req.body), 'hex')))
        return fail('signature_invalid', 'the body does not match the signed bodySHA256');
    }
    // The key: what was signed, URL (query included) + parameters, as signed. Not the body: a GET has
    // none, and a form body re-encoded or reordered is the same signed delivery (bodySHA256 in the
    // signed URL binds a JSON body).
    return { ok: true, secretIndex: found, digest: sha256Hex(signed, params) };
  },
  sign(input: SignInput) {
    const declared = queryParams(input.url).getAll('bodySHA256');
    let params = '';
    if (declared.length > 0) {
      if (declared.length > 1 || declared[0] !== bodyHash(input.body))
        throw new Error(`twilio: the URL's bodySHA256 must be the body's SHA-256 (${bodyHash(input.body)})`);
    } else if (input.body.length > 0) {
      const text = input.body.toString('utf8').trimStart();
      if (text.startsWith('{') || text.startsWith('['))
        throw new Error(`twilio: a JSON body is signed through the URL; call it with ?bodySHA256=${bodyHash(input.body)} (or &bodySHA256=… after an existing query)`);
      params = paramString(new URLSearchParams(input.body.toString('utf8')));
    }
    const headers: Record<string, string> = {
      'X-Twilio-Signature': hmac('sha1', input.secret, input.url, params).toString('base64'),
    };
    if (input.id) headers['I-Twilio-Idempotency-Token'] = input.id;
    return headers;
  },
};
