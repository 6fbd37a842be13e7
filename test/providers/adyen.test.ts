// Adyen standard payment webhooks: hmacSignature inside each notification item, over eight of its fields.
import t from 'tap';
import { createHmac } from 'node:crypto';
import { getScheme } from '../../src/providers/index.js';
import type { Verdict } from '../../src/providers/types.js';

const scheme = getScheme('adyen')!;
const OPTS = { toleranceMs: 300_000, publicUrl: null };
// Adyen's published vector (adyen-php-api-library HmacSignatureTest::testNotificationRequestItemHmac)
const KEY = 'DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00';
const OTHER = '0FB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00';
const ITEM = { pspReference: '7914073381342284', merchantAccountCode: 'TestMerchant', merchantReference: 'TestPayment-1407325143704', amount: { value: 1130, currency: 'EUR' }, eventCode: 'AUTHORISATION', success: 'true' };
const PUBLISHED = 'Ny9gS2veKo5E4w8/OL6xz1/wvT/hYkAXy1xNc/QvO4I=';

const body = (...items: object[]) => Buffer.from(JSON.stringify({ live: 'false', notificationItems: items.map((i) => ({ NotificationRequestItem: i })) }));
const signed = (i: Record<string, unknown>, key = KEY) => {
  const data = [i.pspReference, i.originalReference, i.merchantAccountCode, i.merchantReference, (i.amount as { value?: number })?.value, (i.amount as { currency?: string })?.currency, i.eventCode, i.success].map((v) => (v === undefined ? '' : String(v))).join(':');
  return { ...i, additionalData: { ...(i.additionalData as object), hmacSignature: createHmac('sha256', Buffer.from(key, 'hex')).update(data).digest('base64') } };
};
const verify = (b: Buffer, keys = [KEY]): Verdict => scheme.verify({ method: 'POST', url: '/a', headers: {}, body: b }, keys.map((k) => scheme.key(k, OPTS)), OPTS, Date.now());
const code = (v: Verdict) => (v.ok ? 'ok' : v.code);

t.test("adyen: the published vector verifies; what it does not sign may change, what it signs may not", async (t) => {
  t.equal(signed(ITEM).additionalData.hmacSignature, PUBLISHED, 'the test signer reproduces the published value');
  const item = { ...ITEM, additionalData: { hmacSignature: PUBLISHED } };
  const v = verify(body(item));
  t.match(v, { ok: true, secretIndex: 0 });
  t.equal(v.ok && v.id, undefined, 'no id: the key is the digest of the signed strings');
  t.match(v.ok && v.digest, /^[0-9a-f]{64}$/);
  t.equal(code(verify(body({ ...item, reason: 'changed' }))), 'ok', 'reason is not signed (documented in check)');
  t.equal(code(verify(body({ ...item, merchantReference: 'TestPayment-1407325143705' }))), 'signature_invalid');
  t.equal(code(verify(body({ ...item, amount: { value: 1131, currency: 'EUR' } }))), 'signature_invalid');
  t.equal(code(verify(body(item), [OTHER])), 'signature_invalid');
  const rotated = verify(body(item), [OTHER, KEY]);
  t.equal(rotated.ok && rotated.secretIndex, 1);
});

t.test('adyen: every item of a batch must be signed by the same key', async (t) => {
  const a = signed(ITEM);
  const b = signed({ ...ITEM, pspReference: '8814073381342285', eventCode: 'CAPTURE' });
  t.equal(code(verify(body(a, b))), 'ok');
  t.equal(code(verify(body(a, { ...ITEM, pspReference: '1' }))), 'signature_missing', 'an item without hmacSignature');
  t.equal(code(verify(body(a, { ...b, pspReference: '1' }))), 'signature_invalid', 'an item whose signed field changed');
  t.equal(code(verify(body(a, signed(ITEM, OTHER)), [KEY, OTHER])), 'signature_invalid', 'items signed by two different keys');
  const one = verify(body(a, b));
  const again = verify(body(a, b));
  const other = verify(body(b, a));
  t.equal(one.ok && one.digest, again.ok && again.digest, 'a retry has the same key');
  t.not(one.ok && one.digest, other.ok && other.digest);
});

t.test('adyen: what is not a notification is malformed; a non-base64 signature too', async (t) => {
  t.equal(code(verify(Buffer.from('{"id":1}'))), 'malformed');
  t.equal(code(verify(Buffer.from('not json'))), 'malformed');
  t.equal(code(verify(body({ ...ITEM, additionalData: { hmacSignature: 'no!' } }))), 'malformed');
});

t.test('adyen: hookgate sign writes a valid hmacSignature into every item', async (t) => {
  const input = { secret: KEY, url: '', method: 'POST', timestamp: 1_700_000_000, id: 'psp_1' };
  const b = scheme.signBody!({ ...input, body: body(ITEM, { ...ITEM, pspReference: '2' }) });
  t.equal(code(verify(b)), 'ok');
  t.equal(JSON.parse(b.toString()).notificationItems[0].NotificationRequestItem.additionalData.hmacSignature, PUBLISHED, 'the published value');
  t.equal(code(verify(scheme.signBody!({ ...input, body: Buffer.from('{"any":"thing"}') }))), 'ok', 'any other body becomes a sample notification');
});

t.test('adyen: a secret that is not hex is refused at load, without quoting it', async (t) => {
  t.throws(() => scheme.key('not-hex-secret', OPTS), /adyen: the secret is the HMAC key .* \(hex\); this one is not hex/);
});
