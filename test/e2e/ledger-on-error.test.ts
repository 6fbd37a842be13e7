// ledger.onError when the ledger cannot be reached: `reject` fails closed (503 ledger_unavailable +
// Retry-After, nothing forwarded); `allow` fails open with only the hot LRU's protection: a duplicate
// of a key settled before the outage is still answered from memory, anything else is forwarded (and
// forwarded again when it comes again, since nothing can be recorded).
// The outage: the ledger's database is closed under the LRU (the running process's ledger object
// stays, as it does when PostgreSQL goes away), and a PostgreSQL ledger whose port starts refusing.
import t, { type Test } from 'tap';
import { request } from 'undici';
import Stripe from 'stripe';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { openLedger, CachedLedger } from '../../src/ledger/index.js';
import { openEmbeddedLedger } from '../../src/ledger/embedded.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { requirePostgres } from '../helpers/pg-service.js';
import type { Ledger } from '../../src/ledger/types.js';

const stripe = new Stripe('sk_test_dummy');
const SECRET = 'whsec_on_error_secret_0123';
const OPTS = { retentionMs: 3_600_000, leaseMs: 30_000, cache: 1000, migrate: true, retryBudgetMs: 300 };

function delivery(id: string) {
  const payload = JSON.stringify({ id, type: 'invoice.paid' });
  return { payload, headers: { 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET }) } };
}

async function setup(t: Test, onError: 'allow' | 'reject', ledger: Ledger) {
  const up = await startUpstream((_r, res) => {
    res.statusCode = 200;
    res.end('app ok');
  });
  t.teardown(() => up.close());
  const config = testConfig({ upstream: { url: up.url }, ledger: { onError }, routes: [{ path: '/hooks', provider: 'stripe', tenant: 'acme', secrets: ['env:S'] }] }, { S: SECRET });
  const gw = await startTestGateway(config, { ledger });
  t.teardown(() => gw.close());
  const send = async (d: ReturnType<typeof delivery>) => {
    const res = await request(`${gw.url}/hooks`, { method: 'POST', headers: d.headers, body: d.payload });
    return { status: res.statusCode, outcome: res.headers['hookgate-outcome'], retryAfter: res.headers['retry-after'], text: await res.body.text() };
  };
  const ready = async () => {
    const res = await request(`${gw.adminUrl}/readyz`);
    await res.body.dump();
    return res.statusCode;
  };
  const metric = async (name: string) => {
    const text = await (await request(`${gw.adminUrl}/metrics`)).body.text();
    const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  return { up, send, ready, metric };
}

/**
 * An embedded ledger whose database is then closed under its LRU: every ledger call fails, the LRU
 * still answers. SQLite in memory, as `HOOKGATE_LEDGER_MEMORY=sqlite` opens it: an outage needs a
 * database to lose, and the Map engine that `embedded` opens by default has none between it and its
 * table (its done keys go when it closes).
 */
async function ledgerThatGoesDown() {
  const ledger = new CachedLedger(openEmbeddedLedger({ url: 'embedded', ...OPTS }), OPTS.cache, OPTS.retentionMs);
  return { ledger, down: () => ledger.inner.close() };
}

t.test('onError: allow: with the ledger down, new deliveries are forwarded (LRU only), settled duplicates still answered', async (t) => {
  const { ledger, down } = await ledgerThatGoesDown();
  const { up, send, ready, metric } = await setup(t, 'allow', ledger);
  const before = delivery(`evt_allow_before_${Date.now()}`);
  t.equal((await send(before)).outcome, 'forwarded', 'settled while the ledger was up');
  await down();
  t.equal(await ready(), 503, '/readyz says the ledger is unreachable');

  const dup = await send(before);
  t.same([dup.status, dup.outcome, dup.text], [200, 'duplicate', '{"duplicate":true}'], 'a duplicate of a settled key is answered from the LRU');
  t.equal(up.received.length, 1);

  const during = delivery(`evt_allow_during_${Date.now()}`);
  const first = await send(during);
  t.same([first.status, first.outcome, first.text], [200, 'forwarded', 'app ok'], 'a new delivery is forwarded');
  const again = await send(during);
  t.equal(again.outcome, 'forwarded', 'and forwarded again: nothing could be recorded');
  t.equal(up.received.length, 3);
  t.ok((await metric('hookgate_ledger_errors_total')) >= 2, 'the failures are counted');
});

t.test('onError: reject (the default): with the ledger down, 503 ledger_unavailable with Retry-After, nothing forwarded', async (t) => {
  const { ledger, down } = await ledgerThatGoesDown();
  const { up, send } = await setup(t, 'reject', ledger);
  const before = delivery(`evt_reject_before_${Date.now()}`);
  t.equal((await send(before)).outcome, 'forwarded');
  await down();
  t.equal((await send(before)).outcome, 'duplicate', 'the LRU still answers a settled key');
  const r = await send(delivery(`evt_reject_during_${Date.now()}`));
  t.equal(r.status, 503);
  t.equal(r.outcome, 'ledger_unavailable');
  t.match(r.retryAfter, /^\d+$/, 'with Retry-After');
  t.equal(JSON.parse(r.text).error, 'ledger_unavailable');
  t.equal(up.received.length, 1, 'nothing new was forwarded');
});

t.test('a PostgreSQL ledger whose port starts refusing: allow forwards (LRU only), reject answers 503', async (t) => {
  const pg = await requirePostgres(t, 'on_error');
  if (!pg) return;
  const { schema, url: base } = pg;
  const u = new URL(base);
  for (const onError of ['allow', 'reject'] as const) {
    const proxy = await FaultProxy.start({ host: u.hostname, port: Number(u.port || 5432) });
    t.teardown(() => proxy.close());
    const ledger = await openLedger({ url: proxy.url(base), schema, ...OPTS, sweepIntervalMs: 0 });
    const { up, send } = await setup(t, onError, ledger);
    const settled = delivery(`evt_pg_${onError}_settled_${Date.now()}`);
    t.equal((await send(settled)).outcome, 'forwarded', `${onError}: forwarded while PostgreSQL answers`);
    await proxy.down('refuse');
    t.equal((await send(settled)).outcome, 'duplicate', `${onError}: a settled key is still answered from the LRU`);
    const d = delivery(`evt_pg_${onError}_down_${Date.now()}`);
    if (onError === 'allow') {
      t.equal((await send(d)).outcome, 'forwarded', 'allow: a new delivery is forwarded');
      t.equal((await send(d)).outcome, 'forwarded', 'allow: and again, nothing is recorded');
      t.equal(up.received.length, 3);
    } else {
      const r = await send(d);
      t.same([r.status, r.outcome], [503, 'ledger_unavailable'], 'reject: 503');
      t.equal(up.received.length, 1, 'reject: nothing new forwarded');
    }
  }
});
