// `idempotencyKey: json:PATH` at the gateway: on a scheme that signs the body, the key comes from the
// named field, so two deliveries with the same id and different bodies are one delivery (the second
// a duplicate, never forwarded), and different ids are two. The same traffic on a route without the
// override shows the override is what decides. (The key's spelling is not asserted: only behaviour.)
import t, { type Test } from 'tap';
import { createHmac } from 'node:crypto';
import { request } from 'undici';
import Stripe from 'stripe';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { openLedger } from '../../src/ledger/index.js';

const stripe = new Stripe('sk_test_dummy');
const STRIPE = 'whsec_idem_override_0123';
const GENERIC = 'idem-generic-secret';
const generic = { header: 'X-Signature', algorithm: 'sha256', encoding: 'hex', prefix: '', timestampHeader: '', separator: '.' };

async function setup(t: Test) {
  const up = await startUpstream((_r, res) => {
    res.statusCode = 202;
    res.end('taken');
  });
  t.teardown(() => up.close());
  const ledger = await openLedger({ url: 'embedded', retentionMs: 3_600_000, leaseMs: 30_000, cache: 1000, migrate: true });
  const config = testConfig(
    {
      upstream: { url: up.url },
      routes: [
        { path: '/generic/override', provider: 'generic', generic, tenant: 'acme', secrets: ['env:G'], idempotencyKey: 'json:idempotency_key' },
        { path: '/generic/default', provider: 'generic', generic, tenant: 'acme', secrets: ['env:G'] },
        { path: '/stripe/override', provider: 'stripe', tenant: 'acme', secrets: ['env:S'], idempotencyKey: 'json:data.object.id' },
        { path: '/stripe/default', provider: 'stripe', tenant: 'acme', secrets: ['env:S'] },
      ],
    },
    { G: GENERIC, S: STRIPE },
  );
  const gw = await startTestGateway(config, { ledger });
  t.teardown(() => gw.close());
  const post = async (path: string, body: string, headers: Record<string, string>) => {
    const res = await request(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    return { status: res.statusCode, outcome: res.headers['hookgate-outcome'], text: await res.body.text() };
  };
  const sendGeneric = (path: string, body: string) => post(path, body, { 'x-signature': createHmac('sha256', GENERIC).update(body).digest('hex') });
  const sendStripe = (path: string, body: string) => post(path, body, { 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload: body, secret: STRIPE }) });
  const forwardedTo = (path: string) => up.received.filter((r) => r.url === path).length;
  return { sendGeneric, sendStripe, forwardedTo };
}

t.test('generic, idempotencyKey json:idempotency_key: the same id with another body is a duplicate', async (t) => {
  const { sendGeneric, forwardedTo } = await setup(t);
  const id = `idem_${Date.now()}`;
  t.same(await sendGeneric('/generic/override', JSON.stringify({ idempotency_key: id, amount: 1 })), { status: 202, outcome: 'forwarded', text: 'taken' });
  t.same(await sendGeneric('/generic/override', JSON.stringify({ idempotency_key: id, amount: 2, note: 'resent' })), { status: 202, outcome: 'duplicate', text: '{"duplicate":true}' });
  t.same(await sendGeneric('/generic/override', JSON.stringify({ idempotency_key: `${id}_other`, amount: 1 })), { status: 202, outcome: 'forwarded', text: 'taken' }, 'another id is another delivery');
  t.equal(forwardedTo('/generic/override'), 2);
});

t.test('generic without the override: the same two bodies are two deliveries (keyed on the body digest)', async (t) => {
  const { sendGeneric, forwardedTo } = await setup(t);
  const id = `idem_${Date.now()}`;
  t.equal((await sendGeneric('/generic/default', JSON.stringify({ idempotency_key: id, amount: 1 }))).outcome, 'forwarded');
  t.equal((await sendGeneric('/generic/default', JSON.stringify({ idempotency_key: id, amount: 2, note: 'resent' }))).outcome, 'forwarded');
  t.equal(forwardedTo('/generic/default'), 2);
});

t.test('generic, idempotencyKey json:PATH: a signed body without the field is 400 malformed, not forwarded', async (t) => {
  const { sendGeneric, forwardedTo } = await setup(t);
  const r = await sendGeneric('/generic/override', JSON.stringify({ amount: 1 }));
  t.equal(r.status, 400);
  t.equal(r.outcome, 'malformed');
  t.equal(forwardedTo('/generic/override'), 0);
});

t.test('stripe, idempotencyKey json:data.object.id: two events about one object are one delivery; without it, two', async (t) => {
  const { sendStripe, forwardedTo } = await setup(t);
  const object = `in_${Date.now()}`;
  const event = (n: number) => JSON.stringify({ id: `evt_${object}_${n}`, type: 'invoice.paid', data: { object: { id: object } } });
  t.equal((await sendStripe('/stripe/override', event(1))).outcome, 'forwarded');
  const second = await sendStripe('/stripe/override', event(2));
  t.same([second.status, second.outcome], [202, 'duplicate'], 'another event id, the same object: duplicate');
  t.equal(forwardedTo('/stripe/override'), 1);
  t.equal((await sendStripe('/stripe/default', event(1))).outcome, 'forwarded');
  t.equal((await sendStripe('/stripe/default', event(2))).outcome, 'forwarded', 'the default keys on the event id');
  t.equal(forwardedTo('/stripe/default'), 2);
});
