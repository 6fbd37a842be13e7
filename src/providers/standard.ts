// Standard Webhooks (Svix, Clerk, Resend, OpenAI, GitLab's signing token; providers.md §3.3):
// `webhook-signature: v1,<base64>[ v1,<base64>…]` (space-separated, rotation), HMAC-SHA256 over
// `${webhook-id}.${webhook-timestamp}.${body}`, timestamp in unix seconds, secret `whsec_<base64>` decoded.
// Svix's brand sends the same headers as `svix-*`; both spellings are read (never mixed in one delivery).
import { createSecretKey, randomUUID, type KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { decodeBase64, fail, hmac, matchAny, parseUnixSeconds, single, verdict } from './primitives.js';
import type { Scheme, SignInput, Verdict } from './types.js';

/** `whsec_` (optional) + base64 → the HMAC key. Throws without quoting the secret. */
export function standardKey(secret: string): KeyObject {
  const b64 = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  const key = decodeBase64(b64);
  if (key === null || key.length === 0) throw new Error('a Standard Webhooks secret is whsec_ followed by base64; this one is not valid base64');
  return createSecretKey(key);
}

/** Which header family carries the signature: `webhook-*` first, else `svix-*`; null when neither. */
function family(headers: IncomingHttpHeaders): 'webhook' | 'svix' | null {
  if (headers['webhook-signature'] !== undefined) return 'webhook';
  if (headers['svix-signature'] !== undefined) return 'svix';
  return null;
}

// What one delivery's signature covered: its own family's names only. A delivery verified under the
// svix-* names says nothing about a webhook-id header sent beside them (anyone can add one).
const COVERED = {
  webhook: Object.freeze(['webhook-id', 'webhook-timestamp']),
  svix: Object.freeze(['svix-id', 'svix-timestamp']),
} as const;

/** Verification shared with gitlab (its signing token is this scheme). */
export function verifyStandard(headers: IncomingHttpHeaders, body: Buffer, keys: readonly KeyObject[], toleranceMs: number, nowMs: number): Verdict {
  const f = family(headers) ?? 'webhook';
  const sig = single(headers, `${f}-signature`);
  if (!sig.ok) return sig;
  const id = single(headers, `${f}-id`, 'malformed');
  if (!id.ok) return id;
  const ts = single(headers, `${f}-timestamp`, 'malformed');
  if (!ts.ok) return ts;
  const timestampMs = parseUnixSeconds(ts.value);
  if (timestampMs === null) return fail('malformed', `header ${f}-timestamp is not unix seconds`);

  const candidates: Buffer[] = [];
  for (const entry of sig.value.split(' ')) {
    if (entry === '') continue;
    const comma = entry.indexOf(',');
    if (comma <= 0) return fail('malformed', `header ${f}-signature is not a list of <version>,<signature>`);
    // other versions (v1a: Ed25519) are skipped, as the reference library does
    if (entry.slice(0, comma) !== 'v1') continue;
    const b = decodeBase64(entry.slice(comma + 1));
    if (b === null || b.length === 0) return fail('malformed', `header ${f}-signature has a v1 value that is not base64`);
    candidates.push(b);
  }
  const i = matchAny(keys, candidates, (k) => hmac('sha256', k, id.value, '.', ts.value, '.', body));
  // webhook-id is signed and stays the same across retries: the spec's idempotency key
  const v = verdict(i, { timestampMs, nowMs, toleranceMs }, () => id.value);
  if (v.ok) v.headers = COVERED[f];
  return v;
}

export function signStandard(input: SignInput, prefix: 'webhook' | 'svix' = 'webhook', keyOf: (secret: string) => KeyObject = standardKey): Record<string, string> {
  const ts = String(input.timestamp);
  const id = input.id || `msg_${randomUUID().replaceAll('-', '')}`;
  const mac = hmac('sha256', keyOf(input.secret), id, '.', ts, '.', input.body).toString('base64');
  return { [`${prefix}-id`]: id, [`${prefix}-timestamp`]: ts, [`${prefix}-signature`]: `v1,${mac}` };
}

export const standard: Scheme<KeyObject> = {
  name: 'standard',
  signedHeaders: ['webhook-id', 'webhook-timestamp', 'svix-id', 'svix-timestamp'],
  signsBody: true,
  key: (secret) => standardKey(secret),
  verify: (req, keys, opts, nowMs) => verifyStandard(req.headers, req.body, keys, opts.toleranceMs, nowMs),
  sign: (input) => signStandard(input),
};
