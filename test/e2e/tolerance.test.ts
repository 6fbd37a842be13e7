// A route's `tolerance` at the edge, over HTTP: the same Stripe delivery signed 2 minutes ago is
// refused (401 timestamp_out_of_tolerance, nothing forwarded) on a route with tolerance 1m and
// forwarded on one with 5m; the default window is 5 minutes.
import t, { type Test } from 'tap';
import { request } from 'undici';
import Stripe from 'stripe';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';

const stripe = new Stripe('sk_test_dummy');
const SECRET = 'whsec_tolerance_secret_0123';

async function setup(t: Test) {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const route = (path: string, tolerance?: string) => ({ path, provider: 'stripe', tenant: 'acme', secrets: ['env:S'], ...(tolerance ? { tolerance } : {}) });
  const gw = await startTestGateway(testConfig({ upstream: { url: up.url }, routes: [route('/short', '1m'), route('/long', '5m'), route('/default')] }, { S: SECRET }));
  t.teardown(() => gw.close());
  let n = 0;
  const send = async (path: string, ageSeconds: number) => {
    const payload = JSON.stringify({ id: `evt_tol_${++n}_${Date.now()}`, type: 'invoice.paid' });
    const header = stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET, timestamp: Math.floor(Date.now() / 1000) - ageSeconds });
    const res = await request(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': header }, body: payload });
    return { status: res.statusCode, outcome: res.headers['hookgate-outcome'], text: await res.body.text() };
  };
  const forwardedTo = (path: string) => up.received.filter((r) => r.url === path).length;
  return { send, forwardedTo };
}

t.test('tolerance 1m: a delivery signed 2 minutes ago is refused 401 and not forwarded', async (t) => {
  const { send, forwardedTo } = await setup(t);
  const r = await send('/short', 120);
  t.equal(r.status, 401);
  t.equal(r.outcome, 'timestamp_out_of_tolerance');
  t.equal(JSON.parse(r.text).error, 'timestamp_out_of_tolerance');
  t.equal(forwardedTo('/short'), 0);
});

t.test('tolerance 1m: a delivery signed 2 minutes in the future is refused too', async (t) => {
  const { send, forwardedTo } = await setup(t);
  t.equal((await send('/short', -120)).outcome, 'timestamp_out_of_tolerance');
  t.equal(forwardedTo('/short'), 0);
});

t.test('tolerance 1m: a fresh delivery is forwarded (the route works)', async (t) => {
  const { send, forwardedTo } = await setup(t);
  t.equal((await send('/short', 0)).outcome, 'forwarded');
  t.equal(forwardedTo('/short'), 1);
});

t.test('tolerance 5m: a delivery signed 2 minutes ago is forwarded', async (t) => {
  const { send, forwardedTo } = await setup(t);
  const r = await send('/long', 120);
  t.equal(r.status, 200);
  t.equal(r.outcome, 'forwarded');
  t.equal(forwardedTo('/long'), 1);
});

t.test('the default window (5m): 2 minutes old is forwarded, 6 minutes old refused', async (t) => {
  const { send, forwardedTo } = await setup(t);
  t.equal((await send('/default', 120)).outcome, 'forwarded');
  t.equal((await send('/default', 360)).outcome, 'timestamp_out_of_tolerance');
  t.equal(forwardedTo('/default'), 1);
});
