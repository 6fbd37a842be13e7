// Braintree (catalog family K): a form post of `bt_signature` and `bt_payload` (base64 XML).
// bt_signature = `publicKey|hex[&publicKey|hex…]`; hex = HMAC-SHA1 over bt_payload with the key
// SHA-1(private key), also accepted over bt_payload + "\n" (braintree_node's WebhookNotificationGateway
// and digest.js). The route's secret is `PUBLIC_KEY|PRIVATE_KEY` (the pair whose public key matches is
// checked), or the private key alone (every pair is tried). Only bt_payload is signed: the key is its
// digest, and `json:` rules are refused (the body is a form, and only one field of it is signed). The
// notification's timestamp is inside the XML, which hookgate does not parse: no window is checked.
import { createHash, createHmac } from 'node:crypto';
import { decodeHex, fail, safeEqual } from './primitives.js';
import type { Scheme, SignInput, Verdict } from './types.js';

interface BraintreeKey {
  publicKey: string | null;
  /** SHA-1 of the private key: the HMAC key */
  mac: Buffer;
}

function key(secret: string): BraintreeKey {
  const s = secret.trim();
  if (s === '') throw new Error('braintree: the secret is empty');
  const bar = s.indexOf('|');
  const [publicKey, privateKey] = bar < 0 ? [null, s] : [s.slice(0, bar), s.slice(bar + 1)];
  if (privateKey === '' || publicKey === '') throw new Error('braintree: the secret is PUBLIC_KEY|PRIVATE_KEY, or the private key alone');
  return { publicKey, mac: createHash('sha1').update(privateKey, 'utf8').digest() };
}

const sha1Hmac = (k: Buffer, ...parts: string[]) => {
  const h = createHmac('sha1', k);
  for (const p of parts) h.update(p, 'utf8');
  return h.digest();
};

/** The two fields, each sent exactly once, or why not. */
function fields(body: Buffer): { signature: string; payload: string } | Verdict {
  const form = new URLSearchParams(body.toString('utf8'));
  const sig = form.getAll('bt_signature');
  const payload = form.getAll('bt_payload');
  if (sig.length === 0 || payload.length === 0) return fail('signature_missing', 'the form has no bt_signature and bt_payload');
  if (sig.length > 1 || payload.length > 1) return fail('malformed', 'bt_signature or bt_payload was sent more than once');
  // braintree's own parsers refuse anything but base64 and newlines in the payload
  if (!/^[A-Za-z0-9+=/\n]+$/.test(payload[0]!)) return fail('malformed', 'bt_payload is not base64');
  return { signature: sig[0]!, payload: payload[0]! };
}

export const braintree: Scheme<BraintreeKey> = {
  name: 'braintree',
  signedHeaders: [],
  signsBody: false,
  warnings: ['braintree signs only bt_payload (the notification XML, timestamp included) and hookgate does not read the timestamp inside it: a captured notification replayed after ledger.retention is forwarded again'],
  info: {
    family: 'key-in-body',
    docs: 'https://developer.paypal.com/braintree/docs/guides/webhooks/parse/node',
    headers: ['(form) bt_signature'],
    signed: '{form:bt_payload} (HMAC-SHA1, key SHA-1(private key))',
    timestamp: null,
    id: 'digest',
    secret: 'utf8',
    notes: ['The secret is PUBLIC_KEY|PRIVATE_KEY of the API key pair (or the private key alone).', 'The GET ?bt_challenge= check (verify()) is not signed and needs the private key to answer: hookgate does not answer it, and refuses it on a POST-only route; answer it from the application on a route of its own if your integration uses it.'],
  },
  key,
  verify(req, keys): Verdict {
    const f = fields(req.body);
    if ('ok' in f) return f;
    const pairs: [string, Buffer][] = [];
    for (const part of f.signature.split('&')) {
      const bar = part.indexOf('|');
      if (bar <= 0) continue;
      const hex = decodeHex(part.slice(bar + 1));
      if (hex === null || hex.length !== 20) return fail('malformed', 'bt_signature is not publicKey|<hex>[&…]');
      pairs.push([part.slice(0, bar), hex]);
    }
    if (pairs.length === 0) return fail('malformed', 'bt_signature is not publicKey|<hex>[&…]');
    let found = -1;
    for (let k = 0; k < keys.length; k++) {
      const want = [sha1Hmac(keys[k]!.mac, f.payload), sha1Hmac(keys[k]!.mac, f.payload, '\n')];
      for (const [pub, sig] of pairs) {
        if (keys[k]!.publicKey !== null && pub !== keys[k]!.publicKey) continue;
        if ((safeEqual(want[0]!, sig) || safeEqual(want[1]!, sig)) && found < 0) found = k;
      }
    }
    if (found < 0) return fail('signature_invalid', 'the signature does not match any configured secret');
    return { ok: true, secretIndex: found, headers: [], digest: createHash('sha256').update(f.payload, 'utf8').digest('hex') };
  },
  sign: () => ({ 'content-type': 'application/x-www-form-urlencoded' }),
  signBody(input: SignInput): Buffer {
    const k = key(input.secret);
    // a body that is already Braintree's form keeps its payload; any other body becomes the payload
    const existing = new URLSearchParams(input.body.toString('utf8')).get('bt_payload');
    const payload = existing ?? input.body.toString('base64');
    const sig = `${k.publicKey ?? 'public_key'}|${sha1Hmac(k.mac, payload).toString('hex')}`;
    return Buffer.from(new URLSearchParams({ bt_signature: sig, bt_payload: payload }).toString());
  },
};
