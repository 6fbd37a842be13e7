// mode: monitor with a ledger (as `hookgate run` always has one): docs/configuration.md, "Monitor
// mode": it neither claims deliveries in the ledger nor applies tenant limits. So the same genuine
// delivery sent twice is forwarded twice, each with hookgate-verdict: ok, and the ledger holds nothing
// for it afterwards (an enforce gateway on the same ledger then sees the delivery as new).
import t from 'tap';
import { request } from 'undici';
import Stripe from 'stripe';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { openLedger } from '../../src/ledger/index.js';

const stripe = new Stripe('sk_test_dummy');
const SECRET = 'whsec_monitor_ledger_0123';

t.test('monitor mode with a ledger: a delivery sent twice is forwarded twice and nothing is claimed', async (t) => {
  const up = await startUpstream((_r, res) => {
    res.statusCode = 201;
    res.end('app ok');
  });
  t.teardown(() => up.close());
  const ledger = await openLedger({ url: 'embedded', retentionMs: 3_600_000, leaseMs: 30_000, cache: 1000, migrate: true });
  const gw = await startTestGateway(
    testConfig({ mode: 'monitor', upstream: { url: up.url }, routes: [{ path: '/hooks', provider: 'stripe', tenant: 'acme', secrets: ['env:S'] }] }, { S: SECRET }),
    { ledger },
  );
  t.teardown(() => gw.close());
  const payload = JSON.stringify({ id: `evt_monitor_${Date.now()}`, type: 'invoice.paid' });
  const headers = { 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET }) };
  for (const n of [1, 2]) {
    const res = await request(`${gw.url}/hooks`, { method: 'POST', headers, body: payload });
    t.equal(res.statusCode, 201, `#${n}: the upstream's answer`);
    t.equal(res.headers['hookgate-outcome'], 'forwarded', `#${n}`);
    t.equal(res.headers['hookgate-verdict'], 'ok', `#${n}`);
    t.equal(await res.body.text(), 'app ok');
  }
  t.equal(up.received.length, 2, 'the upstream received both');
  t.equal(up.received[1]!.headers['hookgate-attempt'], '1', 'no claim counted attempts');
  const key = up.received[0]!.headers['hookgate-idempotency-key'] as string;
  t.type(key, 'string', 'the upstream is told the key');
  t.equal(up.received[1]!.headers['hookgate-idempotency-key'], key, 'the same key both times');

  // The same ledger under an enforce gateway: the delivery is new to it (monitor recorded nothing), then a duplicate.
  const enforce = await startTestGateway(
    testConfig({ upstream: { url: up.url }, routes: [{ path: '/hooks', provider: 'stripe', tenant: 'acme', secrets: ['env:S'] }] }, { S: SECRET }),
    { ledger },
  );
  t.teardown(() => enforce.close());
  const first = await request(`${enforce.url}/hooks`, { method: 'POST', headers, body: payload });
  t.equal(first.headers['hookgate-outcome'], 'forwarded', 'enforce on the same ledger: the delivery is new to it');
  await first.body.dump();
  const again = await request(`${enforce.url}/hooks`, { method: 'POST', headers, body: payload });
  t.equal(again.headers['hookgate-outcome'], 'duplicate', 'and its retry a duplicate (the ledger works)');
  await again.body.dump();
  t.equal(up.received.length, 3);

  const forged = await request(`${gw.url}/hooks`, { method: 'POST', headers: { ...headers, 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_wrong' }) }, body: payload });
  t.equal(forged.headers['hookgate-outcome'], 'forwarded');
  t.equal(forged.headers['hookgate-verdict'], 'signature_invalid', 'a forgery is forwarded with its verdict');
  await forged.body.dump();
  t.equal(up.received.length, 4);
});
