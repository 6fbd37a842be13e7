import t from 'tap';
import Stripe from 'stripe';
import { getScheme } from '../../src/providers/index.js';
import { BODY, NOW, T, runCommonCases, verify } from './harness.js';

const SECRET = 'whsec_test_secret_0123456789';
const stripe = new Stripe('sk_test_dummy');
const official = (secret: string, ts: number, body = BODY) =>
  stripe.webhooks.generateTestHeaderString({ payload: body.toString('utf8'), secret, timestamp: ts });

runCommonCases(t, {
  name: 'stripe',
  secret: SECRET,
  other: 'whsec_other_secret_9876543210',
  signer: 'stripe.webhooks.generateTestHeaderString',
  sign: (secret, ts) => ({ headers: { 'Stripe-Signature': official(secret, ts) }, body: BODY }),
  header: 'stripe-signature',
  timestamped: true,
  id: 'evt_123',
  joined: 'malformed', // two t= values
});

t.test('stripe: the self-computed fixture of providers.md §5.2 verifies', async (t) => {
  const v = verify('stripe', [SECRET], { headers: { 'stripe-signature': 't=1700000000,v1=39f34b52103e69ace4fc334192f963ec3233b3184e22a402eda4447f912df37a' }, body: BODY });
  t.same(v, { ok: true, secretIndex: 0, id: 'evt_123', timestamp: NOW });
});

t.test('stripe: the whsec_ secret is the key as is, not base64-decoded', async (t) => {
  t.equal(verify('stripe', ['test_secret_0123456789'], { headers: { 'stripe-signature': official(SECRET, T) }, body: BODY }).ok, false);
});

t.test('stripe: any of several v1 values matches (rolled secret), v0 never counts', async (t) => {
  const good = official(SECRET, T).split(',v1=')[1]!;
  const bad = 'a'.repeat(64);
  t.equal(verify('stripe', [SECRET], { headers: { 'stripe-signature': `t=${T},v1=${bad},v1=${good}` }, body: BODY }).ok, true, 'second v1');
  // the right MAC under the test-mode v0 label is a downgrade, not a signature
  const v = verify('stripe', [SECRET], { headers: { 'stripe-signature': `t=${T},v0=${good}` }, body: BODY });
  t.equal(!v.ok && v.code, 'signature_invalid');
});

t.test('stripe: a signed body that is not JSON is malformed (the id is needed)', async (t) => {
  const body = Buffer.from('not json');
  const v = verify('stripe', [SECRET], { headers: { 'stripe-signature': official(SECRET, T, body) }, body });
  t.equal(!v.ok && v.code, 'malformed');
});

t.test('stripe: our sign() is accepted by stripe.webhooks.constructEvent', async (t) => {
  const now = Math.floor(Date.now() / 1000);
  const h = getScheme('stripe')!.sign({ secret: SECRET, body: BODY, url: '', method: 'POST', timestamp: now, id: '' });
  const event = stripe.webhooks.constructEvent(BODY.toString('utf8'), h['stripe-signature']!, SECRET);
  t.equal(event.id, 'evt_123');
});
