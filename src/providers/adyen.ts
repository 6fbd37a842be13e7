// Adyen standard payment webhooks (catalog family K): the body is `{live, notificationItems: [{
// NotificationRequestItem: {…}}]}` and each item carries `additionalData.hmacSignature` = base64
// HMAC-SHA256, with the hex-decoded HMAC key, of eight of its fields joined by `:`:
// pspReference:originalReference:merchantAccountCode:merchantReference:amount.value:amount.currency:eventCode:success
// (missing → empty), as @adyen/api-library's HmacValidator computes it. Everything else in the body
// (additionalData, reason, paymentMethod, …) is NOT signed, so the scheme declares `signsBody: false`
// and the key is the digest of the signed strings of every item (a retry resends the same items).
// Every item must verify, with one of the route's keys; no timestamp is signed.
import { createHash, createSecretKey, type KeyObject } from 'node:crypto';
import { decodeBase64, decodeHex, fail, hmac, jsonObject, safeEqual } from './primitives.js';
import type { Scheme, SignInput, Verdict } from './types.js';

const FIELDS = 'pspReference:originalReference:merchantAccountCode:merchantReference:amount.value:amount.currency:eventCode:success';

type Item = Record<string, unknown> & { additionalData?: Record<string, unknown>; amount?: Record<string, unknown> };

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : typeof v === 'boolean' ? String(v) : '');

/** The string Adyen signs for one item. */
export function adyenDataToSign(i: Item): string {
  return [i.pspReference, i.originalReference, i.merchantAccountCode, i.merchantReference, i.amount?.value, i.amount?.currency, i.eventCode, i.success].map(str).join(':');
}

function items(body: Buffer): Item[] | null {
  const o = jsonObject(body) as { notificationItems?: unknown } | undefined;
  if (!o || !Array.isArray(o.notificationItems) || o.notificationItems.length === 0) return null;
  const out: Item[] = [];
  for (const w of o.notificationItems) {
    const i = (w as { NotificationRequestItem?: unknown } | null)?.NotificationRequestItem;
    if (i === null || typeof i !== 'object' || Array.isArray(i)) return null;
    out.push(i as Item);
  }
  return out;
}

function key(secret: string): KeyObject {
  const b = decodeHex(secret.trim());
  if (b === null || b.length === 0) throw new Error('adyen: the secret is the HMAC key as the Customer Area shows it (hex); this one is not hex');
  return createSecretKey(b);
}

export const adyen: Scheme<KeyObject> = {
  name: 'adyen',
  signedHeaders: [],
  signsBody: false,
  warnings: ['adyen signs eight fields of each notification item (pspReference, originalReference, merchantAccountCode, merchantReference, amount, eventCode, success); additionalData, reason and the rest of the body are not signed, so the handler must not trust them'],
  info: {
    family: 'key-in-body',
    docs: 'https://docs.adyen.com/development-resources/webhooks/secure-webhooks/verify-hmac-signatures',
    headers: ['(body) additionalData.hmacSignature'],
    signed: `each item's ${FIELDS.split(':').map((f) => `{${f}}`).join(':')}`,
    timestamp: null,
    id: 'digest',
    secret: 'hex',
    notes: ['Standard payment webhooks. Balance Platform and Management API webhooks (HmacSignature header) are `adyen-platform`.', 'Every item of a batch must carry a valid hmacSignature; the key is the digest of the signed strings of all items.'],
  },
  key,
  verify(req, keys): Verdict {
    const list = items(req.body);
    if (list === null) return fail('malformed', 'the body is not an Adyen notification (notificationItems[].NotificationRequestItem)');
    const sigs: Buffer[] = [];
    for (const i of list) {
      const s = i.additionalData?.hmacSignature;
      if (s === undefined) return fail('signature_missing', 'a notification item has no additionalData.hmacSignature');
      const b = typeof s === 'string' ? decodeBase64(s) : null;
      if (b === null || b.length === 0) return fail('malformed', 'additionalData.hmacSignature is not base64');
      sigs.push(b);
    }
    const data = list.map(adyenDataToSign);
    // one key must sign every item; each key is tried on all of them (no early exit on the first item)
    let found = -1;
    for (let k = 0; k < keys.length; k++) {
      let all = true;
      for (let j = 0; j < list.length; j++) if (!safeEqual(hmac('sha256', keys[k]!, data[j]!), sigs[j]!)) all = false;
      if (all && found < 0) found = k;
    }
    if (found < 0) return fail('signature_invalid', 'the signature does not match any configured secret');
    const h = createHash('sha256');
    for (const d of data) h.update(d).update('\n');
    return { ok: true, secretIndex: found, headers: [], digest: h.digest('hex') };
  },
  sign: () => ({ 'content-type': 'application/json' }),
  signBody(input: SignInput): Buffer {
    const k = key(input.secret);
    const o = jsonObject(input.body) as { notificationItems?: unknown } | undefined;
    const doc = o && Array.isArray(o.notificationItems) ? structuredClone(o) as { notificationItems: { NotificationRequestItem: Item }[] }
      : { live: 'false', notificationItems: [{ NotificationRequestItem: { pspReference: input.id, merchantAccountCode: 'TestMerchant', merchantReference: input.id, amount: { value: 1000, currency: 'EUR' }, eventCode: 'AUTHORISATION', success: 'true', eventDate: new Date(input.timestamp * 1000).toISOString() } as Item }] };
    for (const w of doc.notificationItems) {
      const i = w.NotificationRequestItem;
      i.additionalData = { ...(i.additionalData ?? {}), hmacSignature: hmac('sha256', k, adyenDataToSign(i)).toString('base64') };
    }
    return Buffer.from(JSON.stringify(doc));
  },
};
