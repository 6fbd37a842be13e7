import t from 'tap';
import { createHash, createHmac } from 'node:crypto';
import { WebhooksHelper } from 'square';
import { square } from '../../src/providers/square.js';
import type { SchemeOptions, SignedRequest } from '../../src/providers/types.js';
import { runCommonCases } from './harness.js';

const opts = (publicUrl: string | null): SchemeOptions => ({ toleranceMs: 300_000, publicUrl });
const KEY = 'test_secret_0123456789';
const PUB = 'https://gw.example.com/square';
// providers.md §5.2 fixture body
const FIXTURE = Buffer.from('{"id":"evt_123","type":"test.event","data":{"x":1}}');
const EVENT = Buffer.from('{"merchant_id":"M1","type":"payment.updated","event_id":"6a8f5f28-54a1-4eb0-a98a-3111513fd4fc","created_at":"2024-01-01T00:00:00Z","data":{}}');

const req = (body: Buffer, headers: Record<string, string | string[]>, url = '/square'): SignedRequest => ({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, body });
const verify = (r: SignedRequest, keys: string[], publicUrl: string | null = PUB) =>
  square.verify(r, keys.map((k) => square.key(k, opts(publicUrl))), opts(publicUrl), 0);
const sign = (body: Buffer, url = PUB, secret = KEY) =>
  square.sign({ secret, body, url, method: 'POST', timestamp: 0, id: '' })['X-Square-Hmacsha256-Signature']!;

t.test('the fixture signature verifies and square\'s WebhooksHelper accepts sign()', async (t) => {
  const sig = sign(FIXTURE);
  t.equal(sig, 'IQeWcgEOvftMGpmQgXM0ilahlgqr7mhK38e7OPvC/Mk=');
  t.ok(await WebhooksHelper.verifySignature({ requestBody: FIXTURE.toString(), signatureHeader: sig, signatureKey: KEY, notificationUrl: PUB }));
  const v = verify(req(FIXTURE, { 'x-square-hmacsha256-signature': sig }), [KEY]);
  const digest = createHash('sha256').update(PUB).update(FIXTURE).digest('hex');
  t.same(v, { ok: true, secretIndex: 0, digest }, 'no event_id in this body: the key is the digest of the signed URL and body');
});

t.test('the id is the body\'s event_id', async (t) => {
  const sig = sign(EVENT);
  t.ok(await WebhooksHelper.verifySignature({ requestBody: EVENT.toString(), signatureHeader: sig, signatureKey: KEY, notificationUrl: PUB }));
  t.same(verify(req(EVENT, { 'x-square-hmacsha256-signature': sig }), [KEY]), { ok: true, secretIndex: 0, id: '6a8f5f28-54a1-4eb0-a98a-3111513fd4fc' });
});

t.test('a changed byte, a wrong key fail; rotation reports the index', async (t) => {
  const sig = sign(EVENT);
  const changed = Buffer.from(EVENT);
  changed[5] = changed[5]! ^ 1;
  t.match(verify(req(changed, { 'x-square-hmacsha256-signature': sig }), [KEY]), { ok: false, code: 'signature_invalid' });
  t.match(verify(req(EVENT, { 'x-square-hmacsha256-signature': sig }), ['other']), { ok: false, code: 'signature_invalid' });
  t.match(verify(req(EVENT, { 'x-square-hmacsha256-signature': sig }), ['other', KEY]), { ok: true, secretIndex: 1 });
});

t.test('the notification URL is byte-exact: publicUrl, its trailing slash, the request query', async (t) => {
  const sig = sign(EVENT);
  t.match(verify(req(EVENT, { 'x-square-hmacsha256-signature': sig }), [KEY], PUB + '/'), { ok: false, code: 'signature_invalid' });
  t.match(verify(req(EVENT, { 'x-square-hmacsha256-signature': sig }, '/internal/path'), [KEY]), { ok: true }, 'the pod\'s path does not matter');
  const withQuery = sign(EVENT, PUB + '?tenant=acme');
  t.match(verify(req(EVENT, { 'x-square-hmacsha256-signature': withQuery }, '/square?tenant=acme'), [KEY]), { ok: true });
  t.match(verify(req(EVENT, { 'x-square-hmacsha256-signature': withQuery }, '/square?tenant=other'), [KEY]), { ok: false });
  t.match(verify(req(EVENT, { 'x-square-hmacsha256-signature': withQuery }, '/square?tenant=other'), [KEY], PUB + '?tenant=acme'), { ok: true }, 'a publicUrl with a query is used as is');
  t.match(verify(req(EVENT, { 'x-square-hmacsha256-signature': sig }), [KEY], null), { ok: false, code: 'signature_invalid', message: /publicUrl/ });
  t.equal(square.urlSigned, true);
});

t.test('the legacy x-square-signature (HMAC-SHA1) is used only when the SHA-256 header is absent', async (t) => {
  const legacy = createHmac('sha1', KEY).update(PUB).update(EVENT).digest('base64');
  t.match(verify(req(EVENT, { 'x-square-signature': legacy }), [KEY]), { ok: true, id: '6a8f5f28-54a1-4eb0-a98a-3111513fd4fc' });
  t.match(verify(req(EVENT, { 'x-square-signature': legacy, 'x-square-hmacsha256-signature': sign(EVENT, PUB, 'other') }), [KEY]), {
    ok: false,
    code: 'signature_invalid',
  });
});

t.test('missing, duplicated and unparseable signature headers', async (t) => {
  const sig = sign(EVENT);
  t.match(verify(req(EVENT, {}), [KEY]), { ok: false, code: 'signature_missing' });
  t.match(verify(req(EVENT, { 'x-square-hmacsha256-signature': [sig, sig] }), [KEY]), { ok: false, code: 'malformed' });
  t.match(verify(req(EVENT, { 'x-square-hmacsha256-signature': 'n0t*base64' }), [KEY]), { ok: false, code: 'malformed' });
  t.throws(() => square.key('', opts(PUB)), /empty/);
});

t.test('a signed body that is not a JSON object is malformed', async (t) => {
  // The signature covers publicUrl + query + body concatenated, so bytes can move between the query and
  // the body; no proper suffix of a JSON object is one, so such a body cannot shed its event_id and be
  // keyed on a digest instead.
  for (const text of [EVENT.toString().slice(1), '[1]', 'not json']) {
    const body = Buffer.from(text);
    t.match(verify(req(body, { 'x-square-hmacsha256-signature': sign(body) }), [KEY]), { ok: false, code: 'malformed' }, text.slice(0, 12));
  }
});

// the cases every scheme passes (test/providers/harness.ts); Square publishes no signer, only a verifier
runCommonCases(t, {
  name: 'square',
  other: 'other_signature_key',
  signer: 'node:crypto (Square has no signer; WebhooksHelper cross-checks above)',
  sign: (secret) => ({
    headers: { 'x-square-hmacsha256-signature': createHmac('sha256', secret).update('https://hooks.example.com/hook').update(EVENT).digest('base64') },
    body: EVENT,
  }),
  header: 'x-square-hmacsha256-signature',
  timestamped: false,
  id: '6a8f5f28-54a1-4eb0-a98a-3111513fd4fc',
  opts: { publicUrl: 'https://hooks.example.com/hook' },
});
