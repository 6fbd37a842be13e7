import t from 'tap';
import { createHmac } from 'node:crypto';
import { Paddle } from '@paddle/paddle-node-sdk';
import { getScheme } from '../../src/providers/index.js';
import { BODY, NOW, SECRET, T, runCommonCases, verify } from './harness.js';

// Paddle ships no signer; node:crypto per Paddle's docs, and Paddle's SDK verifier cross-checks our sign()
const EVENT = Buffer.from('{"event_id":"evt_01h8bzakzx3hm2fmen703n5q45","event_type":"transaction.completed","notification_id":"ntf_01","data":{}}');
const h1 = (secret: string, ts: number, body = EVENT) => createHmac('sha256', secret).update(`${ts}:`).update(body).digest('hex');

runCommonCases(t, {
  name: 'paddle',
  secret: 'pdl_ntfset_01h8bz_test_secret',
  other: 'pdl_ntfset_01h8bz_other_secret',
  signer: 'node:crypto (Paddle has no signer)',
  sign: (secret, ts) => ({ headers: { 'Paddle-Signature': `ts=${ts};h1=${h1(secret, ts)}` }, body: EVENT }),
  header: 'paddle-signature',
  timestamped: true,
  id: 'evt_01h8bzakzx3hm2fmen703n5q45',
});

t.test('paddle: the self-computed fixture of providers.md §5.2 verifies', async (t) => {
  const v = verify('paddle', [SECRET], { headers: { 'paddle-signature': 'ts=1700000000;h1=a2d742a1b1243468baafae8bbcdc9754242456fa17d0ba40eb16f76316dc8aea' }, body: BODY });
  t.equal(v.ok && v.timestamp, NOW);
});

t.test('paddle: every h1 is tried (rotation), wherever the valid one is', async (t) => {
  const good = h1(SECRET, T);
  const bad = 'b'.repeat(64);
  for (const header of [`ts=${T};h1=${good};h1=${bad}`, `ts=${T};h1=${bad};h1=${good}`]) {
    t.equal(verify('paddle', [SECRET], { headers: { 'paddle-signature': header }, body: EVENT }).ok, true, header.slice(0, 20));
  }
});

t.test("paddle: our sign() is accepted by the SDK's isSignatureValid", async (t) => {
  // the SDK reads the clock and only refuses old timestamps (5 s): a minute ahead keeps this test clock-proof
  const ts = Math.floor(Date.now() / 1000) + 60;
  const h = getScheme('paddle')!.sign({ secret: SECRET, body: EVENT, url: '', method: 'POST', timestamp: ts, id: '' });
  // the Paddle instance installs the SDK's Node crypto provider; a bare Webhooks() answers false for everything
  const webhooks = new Paddle('pdl_sdbx_apikey_dummy').webhooks;
  t.equal(await webhooks.isSignatureValid(EVENT.toString('utf8'), SECRET, h['paddle-signature']!), true);
  t.equal(await webhooks.isSignatureValid(EVENT.toString('utf8'), 'wrong', h['paddle-signature']!), false, 'and the SDK refuses a wrong secret');
});
