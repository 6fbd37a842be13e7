import t from 'tap';
import { createHmac } from 'node:crypto';
import { mailgun } from '../../src/providers/mailgun.js';
import type { SchemeOptions, SignedRequest } from '../../src/providers/types.js';

const opts: SchemeOptions = { toleranceMs: 300_000, publicUrl: null };
const KEY = 'test_secret_0123456789';
const TS = 1_700_000_000;
const NOW = TS * 1000;
const TOKEN = 'a'.repeat(50);
// providers.md §5.2: key, timestamp 1700000000, token a×50
const FIXTURE_SIG = '8a754d200e0c5612336bb31748f9d9752ba3a2dc859bd04830ab94b4c34c8399';

const sig = (key = KEY, ts = String(TS), token = TOKEN) => createHmac('sha256', key).update(ts + token).digest('hex');
const jsonBody = (signature: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}) =>
  Buffer.from(JSON.stringify({ ...(signature ? { signature } : {}), 'event-data': { id: 'ev-1', event: 'delivered' }, ...extra }));
const req = (body: Buffer | string, contentType = 'application/json'): SignedRequest => ({
  method: 'POST',
  url: '/webhooks/mailgun',
  headers: { 'content-type': contentType },
  body: Buffer.from(body),
});
const verify = (r: SignedRequest, keys: string[], now = NOW) => mailgun.verify(r, keys.map((k) => mailgun.key(k, opts)), opts, now);

t.test('a JSON webhook verifies; the id is the signed token', async (t) => {
  t.equal(sig(), FIXTURE_SIG);
  const v = verify(req(jsonBody({ timestamp: String(TS), token: TOKEN, signature: FIXTURE_SIG })), [KEY]);
  t.same(v, { ok: true, secretIndex: 0, id: TOKEN, timestamp: NOW });
});

t.test('the body is not signed: the event data can change and still verify (hence the warning)', async (t) => {
  const other = Buffer.from(JSON.stringify({ signature: { timestamp: String(TS), token: TOKEN, signature: FIXTURE_SIG }, 'event-data': { id: 'forged' } }));
  t.match(verify(req(other), [KEY]), { ok: true, id: TOKEN });
  t.match(mailgun.warnings?.join(' '), /not the event data/);
});

t.test('a changed token, timestamp or signature, a wrong key fail; rotation reports the index', async (t) => {
  t.match(verify(req(jsonBody({ timestamp: String(TS), token: 'b' + TOKEN.slice(1), signature: FIXTURE_SIG })), [KEY]), { ok: false, code: 'signature_invalid' });
  t.match(verify(req(jsonBody({ timestamp: String(TS + 1), token: TOKEN, signature: FIXTURE_SIG })), [KEY]), { ok: false, code: 'signature_invalid' });
  t.match(verify(req(jsonBody({ timestamp: String(TS), token: TOKEN, signature: sig('other') })), [KEY]), { ok: false, code: 'signature_invalid' });
  t.match(verify(req(jsonBody({ timestamp: String(TS), token: TOKEN, signature: FIXTURE_SIG })), ['other']), { ok: false, code: 'signature_invalid' });
  t.match(verify(req(jsonBody({ timestamp: String(TS), token: TOKEN, signature: FIXTURE_SIG })), ['other', KEY]), { ok: true, secretIndex: 1 });
});

t.test('stale and future timestamps are refused', async (t) => {
  const r = req(jsonBody({ timestamp: String(TS), token: TOKEN, signature: FIXTURE_SIG }));
  t.match(verify(r, [KEY], NOW + 301_000), { ok: false, code: 'timestamp_out_of_tolerance' });
  t.match(verify(r, [KEY], NOW - 301_000), { ok: false, code: 'timestamp_out_of_tolerance' });
});

t.test('legacy form posts: urlencoded and multipart fields', async (t) => {
  const form = new URLSearchParams({ event: 'delivered', recipient: 'a@example.com', timestamp: String(TS), token: TOKEN, signature: FIXTURE_SIG });
  t.same(verify(req(form.toString(), 'application/x-www-form-urlencoded'), [KEY]), { ok: true, secretIndex: 0, id: TOKEN, timestamp: NOW });
  form.append('signature', sig('other'));
  t.match(verify(req(form.toString(), 'application/x-www-form-urlencoded'), [KEY]), { ok: false, code: 'malformed' }, 'a field sent twice');

  const boundary = '----hookgate7MA4YWxk';
  const part = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const multipart = part('event', 'delivered') + part('timestamp', String(TS)) + part('token', TOKEN) + part('signature', FIXTURE_SIG) + `--${boundary}--\r\n`;
  t.same(verify(req(multipart, `multipart/form-data; boundary=${boundary}`), [KEY]), { ok: true, secretIndex: 0, id: TOKEN, timestamp: NOW });
  t.match(verify(req(multipart.replace(FIXTURE_SIG, sig('other')), `multipart/form-data; boundary=${boundary}`), [KEY]), { ok: false, code: 'signature_invalid' });
  t.match(verify(req('garbage', `multipart/form-data; boundary=${boundary}`), [KEY]), { ok: false, code: 'malformed' });
});

t.test('bodies without the signature, with parts of it, or not JSON/form', async (t) => {
  t.match(verify(req(jsonBody(undefined)), [KEY]), { ok: false, code: 'signature_missing' });
  t.match(verify(req('event=delivered', 'application/x-www-form-urlencoded'), [KEY]), { ok: false, code: 'signature_missing' });
  t.match(verify(req(jsonBody({ timestamp: String(TS), signature: FIXTURE_SIG })), [KEY]), { ok: false, code: 'malformed' });
  t.match(verify(req(jsonBody({ timestamp: 'yesterday', token: TOKEN, signature: FIXTURE_SIG })), [KEY]), { ok: false, code: 'malformed' });
  t.match(verify(req(jsonBody({ timestamp: String(TS), token: TOKEN, signature: 'xyz' })), [KEY]), { ok: false, code: 'malformed' });
  t.match(verify(req('not json'), [KEY]), { ok: false, code: 'malformed' });
  t.match(verify(req('[1,2]'), [KEY]), { ok: false, code: 'malformed' });
});

t.test('subaccounts: parent-signature, made with the primary account key, is tried too', async (t) => {
  const body = jsonBody(
    { timestamp: String(TS), token: TOKEN, signature: sig('subaccount-key') },
    { 'parent-signature': { timestamp: String(TS), token: 'p'.repeat(50), signature: sig('primary-key', String(TS), 'p'.repeat(50)) } },
  );
  t.match(verify(req(body), ['primary-key']), { ok: true, secretIndex: 0, id: 'p'.repeat(50) });
  t.match(verify(req(body), ['subaccount-key']), { ok: true, secretIndex: 0, id: TOKEN });
  t.match(verify(req(body), ['neither']), { ok: false, code: 'signature_invalid' });
});

t.test('signBody() writes a valid signature into a JSON or form body; sign() has no headers', async (t) => {
  const input = { secret: KEY, url: '', method: 'POST', timestamp: TS, id: TOKEN };
  const json = mailgun.signBody!({ ...input, body: Buffer.from('{"event-data":{"event":"opened"}}') });
  t.match(JSON.parse(json.toString()), { signature: { timestamp: String(TS), token: TOKEN, signature: FIXTURE_SIG }, 'event-data': { event: 'opened' } });
  t.match(verify(req(json), [KEY]), { ok: true, id: TOKEN });
  const empty = mailgun.signBody!({ ...input, body: Buffer.alloc(0), id: '' });
  const v = verify(req(empty), [KEY]);
  t.match(v, { ok: true });
  t.ok(v.ok && v.id && v.id.length === 50, 'a fresh 50-character token when no id is given');
  const form = mailgun.signBody!({ ...input, body: Buffer.from('event=delivered') });
  t.match(verify(req(form, 'application/x-www-form-urlencoded'), [KEY]), { ok: true, id: TOKEN });
  t.same(mailgun.sign({ ...input, body: json }), {});
});
