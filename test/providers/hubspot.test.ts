import t from 'tap';
import { createHash } from 'node:crypto';
import { Signature } from '@hubspot/api-client';
import { hubspot } from '../../src/providers/hubspot.js';
import type { SchemeOptions, SignedRequest } from '../../src/providers/types.js';
import { runCommonCases } from './harness.js';

const opts = (publicUrl: string | null): SchemeOptions => ({ toleranceMs: 300_000, publicUrl });
const SECRET = 'test_secret_0123456789';
const PUB = 'https://gw.example.com/hubspot';
const FIXTURE = Buffer.from('{"id":"evt_123","type":"test.event","data":{"x":1}}');
const TS = 1_700_000_000;
const TS_MS = TS * 1000;

function signed(body: Buffer, url = `${PUB}?x=1`, target = '/hubspot?x=1', secret = SECRET, ts = TS): SignedRequest {
  const h = hubspot.sign({ secret, body, url, method: 'POST', timestamp: ts, id: '' });
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) headers[k.toLowerCase()] = v;
  return { method: 'POST', url: target, headers: { 'content-type': 'application/json', ...headers }, body };
}
const verify = (r: SignedRequest, keys: string[], nowMs = TS_MS, publicUrl: string | null = PUB) =>
  hubspot.verify(r, keys.map((k) => hubspot.key(k, opts(publicUrl))), opts(publicUrl), nowMs);

t.test('v3: the fixture verifies, and sign() agrees with @hubspot/api-client', async (t) => {
  const r = signed(FIXTURE);
  t.equal(r.headers['x-hubspot-signature-v3'], 'n6Z54mEsZojBggDlJZHn7m0dCa9qXjx0Y1JzVTZczEs=');
  t.equal(r.headers['x-hubspot-signature-v3'], Signature.getSignature('POST', 'v3', { signature: '', clientSecret: SECRET, url: `${PUB}?x=1`, requestBody: FIXTURE.toString(), timestamp: TS_MS }));
  const digest = createHash('sha256').update(`POST${PUB}?x=1`).update(FIXTURE).digest('hex');
  t.same(verify(r, [SECRET]), { ok: true, secretIndex: 0, timestamp: TS_MS, digest }, 'a batch: no id, the key is the digest of the signed method, URL and body (not the timestamp)');
  t.equal(r.headers['x-hubspot-request-timestamp'], String(TS_MS), 'the timestamp is in milliseconds');
});

t.test('v3: Signature.isValid accepts a fresh signature from sign()', async (t) => {
  const now = Math.floor(Date.now() / 1000);
  const batch = Buffer.from('[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123}]');
  const r = signed(batch, `${PUB}?x=1`, '/hubspot?x=1', SECRET, now);
  t.ok(
    Signature.isValid({
      signatureVersion: 'v3',
      signature: r.headers['x-hubspot-signature-v3'] as string,
      clientSecret: SECRET,
      method: 'POST',
      url: `${PUB}?x=1`,
      requestBody: batch.toString(),
      timestamp: now * 1000,
    }),
  );
  t.match(verify(r, [SECRET], now * 1000), { ok: true, secretIndex: 0 });
});

t.test('sign() also sends the v1 header HubSpot sends; it matches the published v1 vector', async (t) => {
  const body = Buffer.from(
    '[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]',
  );
  const h = hubspot.sign({ secret: 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy', body, url: PUB, method: 'POST', timestamp: TS, id: '' });
  t.equal(h['X-HubSpot-Signature-Version'], 'v1');
  t.equal(h['X-HubSpot-Signature'], '232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de');
});

t.test('v1/v2 alone are not accepted (no timestamp: a downgrade would reopen replays)', async (t) => {
  const r = signed(FIXTURE);
  const { ['x-hubspot-signature-v3']: _drop, ...rest } = r.headers;
  t.match(verify({ ...r, headers: rest }, [SECRET]), { ok: false, code: 'signature_missing', message: /v3/ });
});

t.test('a changed byte, a wrong secret, another method fail; rotation reports the index', async (t) => {
  const r = signed(FIXTURE);
  const changed = Buffer.from(FIXTURE);
  changed[3] = changed[3]! ^ 1;
  t.match(verify({ ...r, body: changed }, [SECRET]), { ok: false, code: 'signature_invalid' });
  t.match(verify(r, ['other']), { ok: false, code: 'signature_invalid' });
  t.match(verify({ ...r, method: 'PUT' }, [SECRET]), { ok: false, code: 'signature_invalid' });
  t.match(verify({ ...r, headers: { ...r.headers, 'x-hubspot-request-timestamp': String(TS_MS + 1) } }, [SECRET]), { ok: false, code: 'signature_invalid' });
  t.match(verify(r, ['other', SECRET]), { ok: true, secretIndex: 1 });
});

t.test('stale and future timestamps are refused (ms)', async (t) => {
  const r = signed(FIXTURE);
  t.match(verify(r, [SECRET], TS_MS + 300_000), { ok: true });
  t.match(verify(r, [SECRET], TS_MS + 300_001), { ok: false, code: 'timestamp_out_of_tolerance' });
  t.match(verify(r, [SECRET], TS_MS - 300_001), { ok: false, code: 'timestamp_out_of_tolerance' });
});

t.test('the URI: publicUrl + the request query; percent-decoded form also accepted', async (t) => {
  const r = signed(FIXTURE);
  t.match(verify({ ...r, url: '/pod/path?x=1' }, [SECRET]), { ok: true }, 'the pod path does not matter');
  t.match(verify({ ...r, url: '/hubspot?x=2' }, [SECRET]), { ok: false, code: 'signature_invalid' });
  t.match(verify({ ...r, url: '/hubspot' }, [SECRET], TS_MS, `${PUB}?x=1`), { ok: true }, 'publicUrl with a query is used as is');
  t.match(verify(r, [SECRET], TS_MS, null), { ok: false, code: 'signature_invalid', message: /publicUrl/ });
  // HubSpot's guide: the verifier decodes %3A %2F … in the URI before signing
  const decoded = signed(FIXTURE, `${PUB}?next=https://a.example/b`, '/hubspot?next=https%3A%2F%2Fa.example%2Fb');
  t.match(verify(decoded, [SECRET]), { ok: true });
  const verbatim = signed(FIXTURE, `${PUB}?next=https%3A%2F%2Fa.example%2Fb`, '/hubspot?next=https%3A%2F%2Fa.example%2Fb');
  t.match(verify(verbatim, [SECRET]), { ok: true });
  t.equal(hubspot.urlSigned, true);
});

t.test('missing, duplicated and unparseable headers', async (t) => {
  const r = signed(FIXTURE);
  const sig = r.headers['x-hubspot-signature-v3'] as string;
  t.match(verify({ ...r, headers: { 'x-hubspot-signature-v3': sig } }, [SECRET]), { ok: false, code: 'signature_missing' });
  t.match(verify({ ...r, headers: { ...r.headers, 'x-hubspot-signature-v3': [sig, sig] } }, [SECRET]), { ok: false, code: 'malformed' });
  t.match(verify({ ...r, headers: { ...r.headers, 'x-hubspot-signature-v3': '***' } }, [SECRET]), { ok: false, code: 'malformed' });
  t.match(verify({ ...r, headers: { ...r.headers, 'x-hubspot-request-timestamp': '1700000000.5' } }, [SECRET]), { ok: false, code: 'malformed' });
});

// the cases every scheme passes (test/providers/harness.ts), with the delivery signed by @hubspot/api-client
runCommonCases(t, {
  name: 'hubspot',
  other: 'other_client_secret',
  signer: '@hubspot/api-client Signature.getSignature',
  sign: (secret, ts) => ({
    headers: {
      'X-HubSpot-Signature-v3': Signature.getSignature('POST', 'v3', { signature: '', clientSecret: secret, url: 'https://hooks.example.com/hook', requestBody: FIXTURE.toString(), timestamp: ts * 1000 }),
      'X-HubSpot-Request-Timestamp': String(ts * 1000),
    },
    body: FIXTURE,
  }),
  header: 'x-hubspot-signature-v3',
  timestamped: true,
  id: undefined,
  opts: { publicUrl: 'https://hooks.example.com/hook' },
});
