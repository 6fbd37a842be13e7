import t from 'tap';
import { createHmac } from 'node:crypto';
import { BODY, NOW, SECRET, runCommonCases, verify } from './harness.js';

// no official signer: node:crypto per Calendly's docs
const EVENT = Buffer.from('{"event":"invitee.created","created_at":"2023-11-14T22:13:20.000000Z","payload":{"uri":"https://api.calendly.com/x"}}');
const sign = (secret: string, ts: number) => `t=${ts},v1=${createHmac('sha256', secret).update(`${ts}.`).update(EVENT).digest('hex')}`;

runCommonCases(t, {
  name: 'calendly',
  other: 'other_secret',
  signer: 'node:crypto (Calendly has no signer)',
  sign: (secret, ts) => ({ headers: { 'Calendly-Webhook-Signature': sign(secret, ts) }, body: EVENT }),
  header: 'calendly-webhook-signature',
  timestamped: true,
  id: undefined,
});

t.test('calendly: the self-computed fixture of providers.md §5.2 verifies', async (t) => {
  const v = verify('calendly', [SECRET], { headers: { 'calendly-webhook-signature': 't=1700000000,v1=9b616d5acf058d8afccfb145315eaf717679e8f9d47bd43ba8243db316e93dd9' }, body: BODY });
  t.same(v, { ok: true, secretIndex: 0, timestamp: NOW });
});

t.test('calendly: a header without t= is malformed', async (t) => {
  const v = verify('calendly', [SECRET], { headers: { 'calendly-webhook-signature': 'v1=' + 'a'.repeat(64) }, body: EVENT });
  t.equal(!v.ok && v.code, 'malformed');
});
