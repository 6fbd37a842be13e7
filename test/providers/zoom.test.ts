import t from 'tap';
import { createHmac } from 'node:crypto';
import { BODY, NOW, SECRET, T, runCommonCases, verify } from './harness.js';

// no official signer: node:crypto per Zoom's webhook sample (over the raw bytes, not re-serialised JSON)
const EVENT = Buffer.from('{"event":"meeting.started","event_ts":1700000000123,"payload":{"account_id":"a","object":{"id":"1"}}}');
const sign = (secret: string, ts: number | string, body = EVENT) => 'v0=' + createHmac('sha256', secret).update(`v0:${ts}:`).update(body).digest('hex');

runCommonCases(t, {
  name: 'zoom',
  other: 'other_secret',
  signer: 'node:crypto (Zoom has no signer)',
  sign: (secret, ts) => ({ headers: { 'x-zm-signature': sign(secret, ts), 'x-zm-request-timestamp': String(ts) }, body: EVENT }),
  header: 'x-zm-signature',
  timestamped: true,
  id: undefined,
});

t.test('zoom: the self-computed fixture of providers.md §5.2 (identical to Slack\'s) verifies', async (t) => {
  const v = verify('zoom', [SECRET], { headers: { 'x-zm-signature': 'v0=98b305a3324f792a819e4f2e14288da0cd5b627cb9ce9eb039dd25c437ee4d7c', 'x-zm-request-timestamp': '1700000000' }, body: BODY });
  t.same(v, { ok: true, secretIndex: 0, timestamp: NOW });
});

t.test('zoom: a millisecond timestamp header is read as milliseconds', async (t) => {
  const ms = String(NOW + 250);
  const v = verify('zoom', [SECRET], { headers: { 'x-zm-signature': sign(SECRET, ms), 'x-zm-request-timestamp': ms }, body: EVENT });
  t.same(v, { ok: true, secretIndex: 0, timestamp: NOW + 250 });
});

t.test('zoom: the endpoint.url_validation handshake arrives signed and verifies like any delivery', async (t) => {
  const body = Buffer.from('{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1700000000123,"event":"endpoint.url_validation"}');
  const v = verify('zoom', [SECRET], { headers: { 'x-zm-signature': sign(SECRET, T, body), 'x-zm-request-timestamp': String(T) }, body });
  t.same(v, { ok: true, secretIndex: 0, timestamp: NOW });
  // what the upstream must answer (providers.md §5.2 fixture): encryptedToken = hex HMAC-SHA256(secret, plainToken)
  t.equal(createHmac('sha256', SECRET).update('qgg8vlvZRS6UYooatFL8Aw').digest('hex'), '18023db3fdde67132badfd9b4c83d079d3e830a28dc7bdd68d6943ab04198cc7');
});
