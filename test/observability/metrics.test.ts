// /metrics after real deliveries: each counter and histogram moves the way an operator reads it.
import t from 'tap';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import Stripe from 'stripe';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { scrape } from '../helpers/metrics.js';
import { openLedger, type CachedLedger } from '../../src/ledger/index.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createLogger } from '../../src/observability/logger.js';
import { ledgerHooks } from '../../src/observability/ledger-hooks.js';
import { reloadFrom } from '../../src/cli/run.js';

const stripe = new Stripe('sk_test_dummy');
const NEW = 'whsec_metrics_new_secret_0001';
const OLD = 'whsec_metrics_old_secret_0002';
const SHOP = 'shopify-metrics-secret';
const env = { NEW, OLD, SHOP };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('metrics after real deliveries', async (t) => {
  let hold: Promise<void> | null = null;
  const up = await startUpstream(async (r, res) => {
    if (r.url.includes('hold=1') && hold) await hold;
    res.statusCode = r.url.includes('fail=1') ? 503 : 200;
    res.end('ok');
  });
  t.teardown(() => up.close());

  const doc = {
    upstream: { url: up.url },
    ledger: { url: 'embedded', cache: 1000 },
    limits: { tenants: { '*': '1000/s', acme: '1000/s', globex: '1000/s' } },
    routes: [
      { path: '/webhooks/stripe', provider: 'stripe', tenant: 'acme', secrets: ['env:NEW', 'env:OLD'] },
      { path: '/webhooks/shop', provider: 'shopify', tenant: 'json:shop_domain', secrets: ['env:SHOP'] },
    ],
  };
  const config = testConfig(doc, env);
  const metrics = createMetrics({ defaultMetrics: false });
  const log = createLogger('silent');
  const ledger = await openLedger(config.ledger, ledgerHooks(metrics, log));
  const gw = await startTestGateway(config, { ledger, metrics });
  t.teardown(() => gw.close());

  const sendStripe = async (id: string, secret: string, query = '') => {
    const payload = JSON.stringify({ id, type: 'invoice.paid' });
    const res = await request(`${gw.url}/webhooks/stripe${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret }) },
      body: payload,
    });
    await res.body.dump();
    return res;
  };
  const sendShop = async (shop: string, n: number) => {
    const body = JSON.stringify({ shop_domain: shop, n });
    const res = await request(`${gw.url}/webhooks/shop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-shopify-hmac-sha256': createHmac('sha256', SHOP).update(body).digest('base64') },
      body,
    });
    await res.body.dump();
    return res;
  };
  const stripeLabels = (outcome: string) => ({ route: '/webhooks/stripe', provider: 'stripe', tenant: 'acme', outcome });
  // Each subtest sends its own deliveries and reads what they moved (after minus before), so none
  // depends on what an earlier one sent.
  let unique = 0;
  const id = (tag: string) => `evt_m_${tag}_${++unique}_${Date.now()}`;
  const moved = async (act: () => Promise<unknown>) => {
    const before = await scrape(gw.adminUrl);
    await act();
    const after = await scrape(gw.adminUrl);
    return {
      after,
      get: (name: string, labels?: Record<string, string>) => (after.get(name, labels) ?? 0) - (before.get(name, labels) ?? 0),
      sum: (name: string, labels?: Record<string, string>) => after.sum(name, labels) - before.sum(name, labels),
    };
  };

  t.test('a forwarded delivery: request, upstream and ledger timings, the first secret matched', async (t) => {
    let status = 0;
    const m = await moved(async () => (status = (await sendStripe(id('fwd'), NEW)).statusCode));
    t.equal(status, 200);
    t.equal(m.get('hookgate_requests_total', stripeLabels('forwarded')), 1);
    t.equal(m.get('hookgate_secret_matches_total', { route: '/webhooks/stripe', index: '0' }), 1);
    t.equal(m.get('hookgate_secret_matches_total', { route: '/webhooks/stripe', index: '1' }), 0, 'the second secret did not match');
    t.equal(m.get('hookgate_request_duration_seconds_count', { outcome: 'forwarded' }), 1);
    t.equal(m.get('hookgate_upstream_duration_seconds_count'), 1);
    t.equal(m.get('hookgate_ledger_duration_seconds_count', { op: 'claim' }), 1);
    t.equal(m.get('hookgate_ledger_duration_seconds_count', { op: 'complete' }), 1);
    t.equal(m.get('hookgate_cache_hits_total'), 0);
    t.equal(m.after.get('hookgate_deliveries_in_flight'), 0);
  });

  t.test('a delivery signed with the second secret counts index 1', async (t) => {
    let status = 0;
    const m = await moved(async () => (status = (await sendStripe(id('old'), OLD)).statusCode));
    t.equal(status, 200);
    t.equal(m.get('hookgate_secret_matches_total', { route: '/webhooks/stripe', index: '1' }), 1);
    t.equal(m.get('hookgate_secret_matches_total', { route: '/webhooks/stripe', index: '0' }), 0);
  });

  t.test('a duplicate is answered from the hot LRU without a ledger round trip', async (t) => {
    const first = id('dup');
    t.equal((await sendStripe(first, NEW)).statusCode, 200, 'the first delivery');
    let outcome: unknown;
    const m = await moved(async () => (outcome = (await sendStripe(first, NEW)).headers['hookgate-outcome']));
    t.equal(outcome, 'duplicate');
    t.equal(m.get('hookgate_cache_hits_total'), 1);
    t.equal(m.get('hookgate_requests_total', stripeLabels('duplicate')), 1);
    t.equal(m.get('hookgate_ledger_duration_seconds_count', { op: 'claim' }), 0, 'no claim reached the database');
    t.equal(m.get('hookgate_upstream_duration_seconds_count'), 0, 'nothing forwarded');
  });

  t.test('failures are counted by their outcome code', async (t) => {
    const statuses: number[] = [];
    const m = await moved(async () => {
      statuses.push((await sendStripe(id('bad'), 'whsec_not_configured_anywhere')).statusCode);
      statuses.push((await sendStripe(id('fail'), NEW, '?fail=1')).statusCode);
    });
    t.same(statuses, [401, 503], 'refused, then the upstream answer');
    t.equal(m.sum('hookgate_requests_total', { route: '/webhooks/stripe', outcome: 'signature_invalid' }), 1);
    t.equal(m.get('hookgate_requests_total', stripeLabels('forwarded')), 1, 'the upstream\'s 503 was forwarded');
    t.equal(m.get('hookgate_ledger_duration_seconds_count', { op: 'release' }), 1, 'the 503 released the claim');
  });

  t.test('tenant labels stay bounded: a tenant nobody configured is "other"', async (t) => {
    const statuses: number[] = [];
    const m = await moved(async () => {
      for (let i = 0; i < 3; i++) statuses.push((await sendShop(`random-${i}-${unique++}.myshopify.com`, i)).statusCode);
      statuses.push((await sendShop('globex', ++unique)).statusCode);
    });
    t.same(statuses, [200, 200, 200, 200]);
    t.equal(m.get('hookgate_requests_total', { route: '/webhooks/shop', provider: 'shopify', tenant: 'other', outcome: 'forwarded' }), 3);
    t.equal(m.get('hookgate_requests_total', { route: '/webhooks/shop', provider: 'shopify', tenant: 'globex', outcome: 'forwarded' }), 1);
    const tenants = new Set(m.after.labels('hookgate_requests_total').map((l) => l.tenant));
    for (const name of tenants) t.ok(['acme', 'globex', 'other', 'none'].includes(name!), `tenant label ${name} is bounded`);
  });

  t.test('deliveries in flight', async (t) => {
    let release!: () => void;
    hold = new Promise((r) => (release = r));
    const pending = sendStripe(id('hold'), NEW, '?hold=1');
    let seen: number | undefined;
    for (let i = 0; i < 500 && seen !== 1; i++) {
      if (i) await sleep(10);
      seen = (await scrape(gw.adminUrl)).get('hookgate_deliveries_in_flight');
    }
    t.equal(seen, 1, 'one delivery is being forwarded');
    release();
    t.equal((await pending).statusCode, 200);
    hold = null;
    let after: number | undefined;
    for (let i = 0; i < 500 && after !== 0; i++) {
      if (i) await sleep(10);
      after = (await scrape(gw.adminUrl)).get('hookgate_deliveries_in_flight');
    }
    t.equal(after, 0, 'and done');
  });

  t.test('reloads by result', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'hookgate-metrics-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'hookgate.yaml');
    writeFileSync(file, JSON.stringify(doc)); // JSON is YAML
    const m = await moved(async () => {
      t.equal(await reloadFrom(file, gw, log, env), true);
      writeFileSync(file, JSON.stringify({ ...doc, routes: [{ ...doc.routes[0], provider: 'no-such-provider' }] }));
      t.equal(await reloadFrom(file, gw, log, env), false);
    });
    t.equal(m.get('hookgate_config_reloads_total', { result: 'success' }), 1);
    t.equal(m.get('hookgate_config_reloads_total', { result: 'failure' }), 1);
    t.equal((await sendStripe(id('after_reload'), NEW)).statusCode, 200, 'the valid configuration still serves');
  });

});

t.test('a ledger failure is counted once, and answered 503', async (t) => {
  // A gateway of its own: this one breaks its database.
  const up = await startUpstream();
  t.teardown(() => up.close());
  const config = testConfig({ upstream: { url: up.url }, routes: [{ path: '/webhooks/stripe', provider: 'stripe', tenant: 'acme', secrets: ['env:NEW'] }] }, env);
  const metrics = createMetrics({ defaultMetrics: false });
  const ledger = await openLedger(config.ledger, ledgerHooks(metrics, createLogger('silent')));
  const gw = await startTestGateway(config, { ledger, metrics });
  t.teardown(() => gw.close());
  // Break the database under the LRU: claims now fail past the ledger's own handling.
  await (ledger as CachedLedger).inner.close();
  const payload = JSON.stringify({ id: 'evt_m_ledger_down', type: 'invoice.paid' });
  const res = await request(`${gw.url}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: NEW }) },
    body: payload,
  });
  await res.body.dump();
  t.equal(res.statusCode, 503);
  t.equal(res.headers['hookgate-outcome'], 'ledger_unavailable');
  const m = await scrape(gw.adminUrl);
  t.equal(m.get('hookgate_ledger_errors_total'), 1, 'one failed claim, one count (not one from the stage and one from the ledger hook)');
  t.equal(m.get('hookgate_requests_total', { route: '/webhooks/stripe', provider: 'stripe', tenant: 'acme', outcome: 'ledger_unavailable' }), 1);
});
