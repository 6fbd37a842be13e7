// upstream.completeOn: the upstream answers that settle a delivery (done: its retry is a duplicate
// answered with the first status) and those that release it (the retry is forwarded again). 408 and
// 429 always release, whatever completeOn says: the upstream asked for the retry.
import t, { type Test } from 'tap';
import { request } from 'undici';
import Stripe from 'stripe';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { openLedger } from '../../src/ledger/index.js';

const stripe = new Stripe('sk_test_dummy');
const SECRET = 'whsec_complete_on_secret_0123';
let n = 0;

/** A gateway with a ledger, in front of an upstream that answers the given statuses in turn (the last one from then on). */
async function setup(t: Test, statuses: number[], completeOn?: string[]) {
  const queue = [...statuses];
  const up = await startUpstream((_r, res) => {
    res.statusCode = queue.length > 1 ? queue.shift()! : queue[0]!;
    res.end(`app said ${res.statusCode}`);
  });
  t.teardown(() => up.close());
  const ledger = await openLedger({ url: 'embedded', retentionMs: 3_600_000, leaseMs: 30_000, cache: 1000, migrate: true });
  const config = testConfig(
    { upstream: { url: up.url, ...(completeOn ? { completeOn } : {}) }, routes: [{ path: '/hooks', provider: 'stripe', tenant: 'acme', secrets: ['env:S'] }] },
    { S: SECRET },
  );
  const gw = await startTestGateway(config, { ledger });
  t.teardown(() => gw.close());
  // one delivery, sent again as the provider's retry would be (the same bytes and signature)
  const payload = JSON.stringify({ id: `evt_complete_${++n}_${Date.now()}`, type: 'invoice.paid' });
  const headers = { 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET }) };
  const send = async () => {
    const res = await request(`${gw.url}/hooks`, { method: 'POST', headers, body: payload });
    return { status: res.statusCode, outcome: res.headers['hookgate-outcome'], text: await res.body.text() };
  };
  return { up, send };
}

t.test('completeOn [2xx, 4xx] (the default): a 404 settles the delivery; its retry is a duplicate answered 404', async (t) => {
  const { up, send } = await setup(t, [404, 200]);
  t.same(await send(), { status: 404, outcome: 'forwarded', text: 'app said 404' }, "the upstream's 404, forwarded");
  t.same(await send(), { status: 404, outcome: 'duplicate', text: '{"duplicate":true}' }, 'the retry: the first status, duplicate');
  t.equal(up.received.length, 1, 'the upstream saw the delivery once');
});

t.test('completeOn [2xx, 4xx]: a 408 releases the delivery; its retry is forwarded again', async (t) => {
  const { up, send } = await setup(t, [408, 200], ['2xx', '4xx']);
  t.same(await send(), { status: 408, outcome: 'forwarded', text: 'app said 408' });
  t.same(await send(), { status: 200, outcome: 'forwarded', text: 'app said 200' }, 'the retry reaches the upstream');
  t.equal(up.received.length, 2);
  t.equal(up.received[1]!.headers['hookgate-attempt'], '2', 'as the second attempt');
  t.same(await send(), { status: 200, outcome: 'duplicate', text: '{"duplicate":true}' }, 'the 200 settled it');
  t.equal(up.received.length, 2);
});

t.test('completeOn [2xx, 4xx]: a 429 releases the delivery; its retry is forwarded again', async (t) => {
  const { up, send } = await setup(t, [429, 201], ['2xx', '4xx']);
  t.same(await send(), { status: 429, outcome: 'forwarded', text: 'app said 429' });
  t.same(await send(), { status: 201, outcome: 'forwarded', text: 'app said 201' });
  t.equal(up.received.length, 2);
  t.equal(up.received[1]!.headers['hookgate-attempt'], '2');
});

t.test('408 and 429 release even when completeOn names them exactly', async (t) => {
  for (const status of [408, 429]) {
    const { up, send } = await setup(t, [status, 200], ['2xx', '408', '429']);
    t.equal((await send()).status, status);
    t.same(await send(), { status: 200, outcome: 'forwarded', text: 'app said 200' }, `${status}: the retry is forwarded`);
    t.equal(up.received.length, 2);
  }
});

t.test('completeOn [2xx]: a 404 releases the delivery; its retry is forwarded again', async (t) => {
  const { up, send } = await setup(t, [404, 200], ['2xx']);
  t.same(await send(), { status: 404, outcome: 'forwarded', text: 'app said 404' });
  t.same(await send(), { status: 200, outcome: 'forwarded', text: 'app said 200' });
  t.equal(up.received.length, 2);
});

t.test('completeOn [2xx, 409]: an exact status settles, another of its class releases', async (t) => {
  {
    const { up, send } = await setup(t, [409, 200], ['2xx', '409']);
    t.equal((await send()).status, 409);
    t.same(await send(), { status: 409, outcome: 'duplicate', text: '{"duplicate":true}' }, '409 settled');
    t.equal(up.received.length, 1);
  }
  {
    const { up, send } = await setup(t, [410, 200], ['2xx', '409']);
    t.equal((await send()).status, 410);
    t.equal((await send()).outcome, 'forwarded', '410 released');
    t.equal(up.received.length, 2);
  }
});

t.test('a 500 releases under the default completeOn; the retry is forwarded', async (t) => {
  const { up, send } = await setup(t, [500, 200]);
  t.same(await send(), { status: 500, outcome: 'forwarded', text: 'app said 500' });
  t.same(await send(), { status: 200, outcome: 'forwarded', text: 'app said 200' });
  t.equal(up.received.length, 2);
});
