import t from 'tap';
import { createHmac } from 'node:crypto';
import { getScheme } from '../../src/providers/index.js';
import { BODY, SECRET, T, runCommonCases, verify } from './harness.js';

// no npm signer (Twitch's is its CLI): node:crypto, id + timestamp + body as the CLI signs them
const ID = 'e76c6bd4-55c9-4987-8304-da1588d8988b';
const EVENT = Buffer.from('{"subscription":{"id":"f1c2","type":"channel.follow","version":"2","status":"enabled"},"event":{"user_id":"1337"}}');
const iso = (ts: number, frac = '.123456789') => new Date(ts * 1000).toISOString().replace(/\.\d{3}Z$/, `${frac}Z`);
const sign = (secret: string, ts: string, body = EVENT, id = ID) => 'sha256=' + createHmac('sha256', secret).update(id + ts).update(body).digest('hex');
const headers = (secret: string, ts: string, body = EVENT) => ({
  'Twitch-Eventsub-Message-Id': ID,
  'Twitch-Eventsub-Message-Retry': '0',
  'Twitch-Eventsub-Message-Type': 'notification',
  'Twitch-Eventsub-Message-Signature': sign(secret, ts, body),
  'Twitch-Eventsub-Message-Timestamp': ts,
});

runCommonCases(t, {
  name: 'twitch',
  other: 'other_secret_0123',
  signer: 'node:crypto (Twitch signs with its CLI)',
  // the fraction is sub-millisecond; the window works on milliseconds
  sign: (secret, ts) => ({ headers: headers(secret, iso(ts, '.000456789')), body: EVENT }),
  header: 'twitch-eventsub-message-signature',
  timestamped: true,
  id: ID, // the message id is signed and stays the same when Twitch resends
});

t.test('twitch: the self-computed fixture of providers.md §5.2 verifies', async (t) => {
  const v = verify('twitch', [SECRET], {
    headers: { 'twitch-eventsub-message-id': ID, 'twitch-eventsub-message-timestamp': '2023-11-14T22:13:20.123456789Z', 'twitch-eventsub-message-signature': 'sha256=9260daa0d5730d42a39f8f842a20b999d6620745a3b1b60293070b9d5170fd0f' },
    body: BODY,
  });
  t.same(v, { ok: true, secretIndex: 0, id: ID, timestamp: T * 1000 + 123 });
});

t.test('twitch: the timestamp is signed verbatim (RFC 3339 spellings of the same instant differ)', async (t) => {
  const h = headers(SECRET, iso(T, '.120000000'));
  h['Twitch-Eventsub-Message-Timestamp'] = iso(T, '.12');
  const v = verify('twitch', [SECRET], { headers: h, body: EVENT });
  t.equal(!v.ok && v.code, 'signature_invalid');
});

t.test('twitch: timestamps without a fraction or with an offset are read; other forms are malformed', async (t) => {
  t.equal(verify('twitch', [SECRET], { headers: headers(SECRET, '2023-11-14T22:13:20Z'), body: EVENT }).ok, true, 'no fraction');
  t.equal(verify('twitch', [SECRET], { headers: headers(SECRET, '2023-11-14T23:13:20.5+01:00'), body: EVENT }).ok, true, 'offset');
  for (const ts of ['1700000000', '2023-11-14 22:13:20Z', '2023-11-14T22:13:20.1234567890Z']) {
    const v = verify('twitch', [SECRET], { headers: headers(SECRET, ts), body: EVENT });
    t.equal(!v.ok && v.code, 'malformed', ts);
  }
});

t.test('twitch: a missing message id is malformed', async (t) => {
  const { 'Twitch-Eventsub-Message-Id': _, ...h } = headers(SECRET, iso(T));
  const v = verify('twitch', [SECRET], { headers: h, body: EVENT });
  t.equal(!v.ok && v.code, 'malformed');
});

t.test('twitch: the callback verification handshake verifies; sign() labels it as Twitch does', async (t) => {
  const body = Buffer.from('{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2","type":"channel.follow","version":"2","status":"webhook_callback_verification_pending"}}');
  const h = getScheme('twitch')!.sign({ secret: SECRET, body, url: '', method: 'POST', timestamp: T, id: ID });
  t.equal(h['twitch-eventsub-message-type'], 'webhook_callback_verification');
  t.equal(h['twitch-eventsub-subscription-type'], 'channel.follow');
  t.equal(h['twitch-eventsub-message-timestamp'], '2023-11-14T22:13:20.000000000Z');
  t.same(verify('twitch', [SECRET], { headers: h, body }), { ok: true, secretIndex: 0, id: ID, timestamp: T * 1000 });
  t.equal(h['twitch-eventsub-message-signature'], sign(SECRET, '2023-11-14T22:13:20.000000000Z', body), 'sign() agrees with the independent computation');
});
