// Mailgun: the signature travels INSIDE the body (providers.md §3.16):
//   JSON webhooks:     {"signature":{"timestamp","token","signature"},"event-data":{…}}
//   legacy form posts: fields timestamp, token, signature (urlencoded or multipart/form-data)
// signature = hex HMAC-SHA256(webhook signing key, timestamp + token). The event data is NOT signed:
// a captured signature can be replayed with another body. So the delivery key is the token (what is
// signed; Mailgun: cache tokens to stop replays) and the timestamp (unix s) must be in the window.
// Subaccounts: JSON bodies may also carry `parent-signature`, made with the primary account's key;
// it is tried when `signature` matches no configured key.
import { randomBytes } from 'node:crypto';
import { decodeHex, fail, hmac, invalid, matchAny, outOfTolerance, parseForm, parseJson, parseUnixSeconds, parseUnverifiedJson, withinTolerance } from './primitives.js';
import type { Scheme, SignInput, SignedRequest, Verdict } from './types.js';

interface Fields {
  timestamp?: string;
  token?: string;
  signature?: string;
}
type Parsed = { ok: true; sets: Fields[] } | { ok: false; code: 'malformed'; message: string };

const NAMES = ['timestamp', 'token', 'signature'] as const;

/** Members and elements of a JSON webhook parsed before its MAC: an event has tens; 10,000 parse in ~3 ms. */
const MAX_EVENT_ITEMS = 10_000;

function mediaType(ct: string | string[] | undefined): string {
  const v = Array.isArray(ct) ? ct[0] ?? '' : ct ?? '';
  return v.split(';')[0]!.trim().toLowerCase();
}

function fromObject(o: unknown): Fields | undefined {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return undefined;
  const out: Fields = {};
  for (const n of NAMES) {
    const v = (o as Record<string, unknown>)[n];
    if (typeof v === 'string') out[n] = v;
    else if (typeof v === 'number' && Number.isSafeInteger(v)) out[n] = String(v);
  }
  return out;
}

function fromForm(get: (name: string) => string[]): Parsed {
  const f: Fields = {};
  for (const n of NAMES) {
    const vs = get(n);
    if (vs.length > 1) return { ok: false, code: 'malformed', message: `form field ${n} was sent more than once` };
    if (vs.length === 1) f[n] = vs[0]!;
  }
  return { ok: true, sets: [f] };
}

/** The text fields of a multipart/form-data body (RFC 7578); enough for Mailgun's three fields. */
function multipartFields(body: Buffer, contentType: string): Map<string, string[]> | null {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!m) return null;
  const delimiter = Buffer.from(`--${m[1] ?? m[2]}`);
  const out = new Map<string, string[]>();
  let at = body.indexOf(delimiter);
  if (at < 0) return null;
  for (let parts = 0; parts < 1000; parts++) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') return out;
    const next = body.indexOf(delimiter, start);
    if (next < 0) return null;
    const part = body.subarray(start, next);
    const sep = part.indexOf('\r\n\r\n');
    if (sep >= 0) {
      const head = part.subarray(0, sep).toString('utf8');
      const name = /content-disposition:[^\r\n]*?\bname="([^"]*)"/i.exec(head)?.[1];
      if (name !== undefined && !/filename=/i.test(head)) {
        let value = part.subarray(sep + 4);
        if (value.subarray(-2).toString() === '\r\n') value = value.subarray(0, -2);
        const vs = out.get(name) ?? [];
        vs.push(value.toString('utf8'));
        out.set(name, vs);
      }
    }
    at = next;
  }
  return null;
}

function parse(req: SignedRequest): Parsed {
  const type = mediaType(req.headers['content-type']);
  if (type === 'application/x-www-form-urlencoded') {
    const form = parseForm(req.body);
    if (!form.ok) return { ok: false, code: 'malformed', message: form.message };
    return fromForm((n) => form.value.getAll(n));
  }
  if (type === 'multipart/form-data') {
    const fields = multipartFields(req.body, String(req.headers['content-type']));
    if (fields === null) return { ok: false, code: 'malformed', message: 'the multipart body cannot be parsed' };
    return fromForm((n) => fields.get(n) ?? []);
  }
  // The signature travels in the body, so the whole body is parsed before any MAC: bounded first.
  // Mailgun's JSON webhooks are one small event (tens of members), hence the tight item bound.
  const parsed = parseUnverifiedJson(req.body, undefined, MAX_EVENT_ITEMS);
  if (!parsed.ok) return { ok: false, code: 'malformed', message: parsed.message };
  const json = parsed.value;
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    return { ok: false, code: 'malformed', message: 'mailgun bodies must be a JSON object or a form carrying the signature fields' };
  const sets: Fields[] = [];
  for (const k of ['signature', 'parent-signature']) {
    const f = fromObject((json as Record<string, unknown>)[k]);
    if (f) sets.push(f);
  }
  return { ok: true, sets };
}

export const mailgun: Scheme<Buffer> = {
  name: 'mailgun',
  signedHeaders: [],
  signsBody: false,
  warnings: [
    'mailgun signs only timestamp + token, not the event data: within the tolerance window anyone holding a captured signature can send it with another body, and the body forwarded under a token is not proven to be the one Mailgun sent. The delivery key is the signed token, so this route forwards each token at most once while the ledger remembers it; the tenant and the idempotency key cannot come from the body (json:)',
  ],
  key(secret) {
    if (secret === '') throw new Error('mailgun: the webhook signing key is empty');
    return Buffer.from(secret, 'utf8');
  },
  verify(req, keys, opts, nowMs): Verdict {
    const p = parse(req);
    if (!p.ok) return fail(p.code, p.message);
    const sets = p.sets.filter((f) => f.signature !== undefined || f.token !== undefined || f.timestamp !== undefined);
    if (sets.length === 0 || sets[0]!.signature === undefined || sets[0]!.signature === '')
      return fail('signature_missing', 'the body carries no mailgun signature');
    for (const f of sets) {
      if (!f.timestamp || !f.token || !f.signature) return fail('malformed', 'the mailgun signature needs timestamp, token and signature');
      if (parseUnixSeconds(f.timestamp) === null) return fail('malformed', 'the mailgun signature timestamp is not a unix timestamp');
      const sig = decodeHex(f.signature);
      if (sig === null || sig.length !== 32) return fail('malformed', 'the mailgun signature is not a hex SHA-256 HMAC');
      const found = matchAny(keys, [sig], (k) => hmac('sha256', k, f.timestamp!, f.token!));
      if (found < 0) continue;
      const ts = parseUnixSeconds(f.timestamp)!;
      if (!withinTolerance(ts, nowMs, opts.toleranceMs)) return outOfTolerance();
      return { ok: true, secretIndex: found, id: f.token, timestamp: ts };
    }
    return invalid();
  },
  // The signature lives in the body; signBody() below writes it there.
  sign() {
    return {};
  },
  signBody(input: SignInput): Buffer {
    const timestamp = String(input.timestamp);
    const token = input.id || randomBytes(25).toString('hex');
    const signature = hmac('sha256', input.secret, timestamp, token).toString('hex');
    const text = input.body.toString('utf8');
    const json = text.trim() === '' ? {} : parseJson(input.body);
    if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
      const obj: Record<string, unknown> = { ...(json as Record<string, unknown>), signature: { timestamp, token, signature } };
      if (!('event-data' in obj)) obj['event-data'] = {};
      return Buffer.from(JSON.stringify(obj));
    }
    const form = new URLSearchParams(text);
    form.set('timestamp', timestamp);
    form.set('token', token);
    form.set('signature', signature);
    return Buffer.from(form.toString());
  },
};
