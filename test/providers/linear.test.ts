import t from 'tap';
import { createHmac } from 'node:crypto';
import { NOW, SECRET, T, runCommonCases, verify } from './harness.js';

// no official signer (@linear/sdk only verifies, and is not a dependency): node:crypto
const event = (tsMs: number) => Buffer.from(`{"action":"create","type":"Issue","data":{"id":"x"},"webhookId":"wh_1","webhookTimestamp":${tsMs}}`);
const sign = (secret: string, body: Buffer) => createHmac('sha256', secret).update(body).digest('hex');

runCommonCases(t, {
  name: 'linear',
  other: 'other_secret',
  signer: 'node:crypto (Linear has no signer)',
  // the timestamp lives in the signed body, in milliseconds
  sign: (secret, ts) => ({ headers: { 'Linear-Signature': sign(secret, event(ts * 1000)), 'Linear-Delivery': 'd-1' }, body: event(ts * 1000) }),
  header: 'linear-signature',
  timestamped: true,
  id: undefined, // webhookId names the subscription, not the delivery; Linear-Delivery is not signed
});

t.test('linear: the self-computed fixture of providers.md §5.2 verifies', async (t) => {
  const body = Buffer.from('{"action":"create","type":"Issue","data":{"id":"x"},"webhookTimestamp":1700000000000}');
  const v = verify('linear', [SECRET], { headers: { 'linear-signature': 'bad6d3f136719c645b8085fcb54c42a942adec7164b420be7423e192ef828b4b' }, body });
  t.same(v, { ok: true, secretIndex: 0, timestamp: NOW });
});

t.test('linear: the Linear-Timestamp header is ignored; only the signed webhookTimestamp counts', async (t) => {
  const body = event(NOW - 3_600_000);
  const v = verify('linear', [SECRET], { headers: { 'linear-signature': sign(SECRET, body), 'linear-timestamp': String(NOW) }, body });
  t.equal(!v.ok && v.code, 'timestamp_out_of_tolerance');
});

t.test('linear: a signed body that is not JSON, or has no numeric webhookTimestamp, is malformed', async (t) => {
  for (const raw of ['not json', '{"action":"create"}', `{"webhookTimestamp":"${T * 1000}"}`]) {
    const body = Buffer.from(raw);
    const v = verify('linear', [SECRET], { headers: { 'linear-signature': sign(SECRET, body) }, body });
    t.equal(!v.ok && v.code, 'malformed', raw);
  }
});

t.test('linear: an unsigned body that is not JSON is signature_invalid (nothing is read before the signature)', async (t) => {
  const v = verify('linear', [SECRET], { headers: { 'linear-signature': sign('other', Buffer.from('x')) }, body: Buffer.from('x') });
  t.equal(!v.ok && v.code, 'signature_invalid');
});
