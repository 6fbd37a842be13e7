// The memory store on one replica: a flooded tenant gets 429s while another tenant's deliveries pass;
// the unverified tier counts per client address; forged deliveries never spend a tenant's quota.
import t from 'tap';
import { startUpstream } from '../helpers/upstream.js';
import { testConfig } from '../helpers/gateway.js';
import { ENV, ROUTES, deliver, deliverSigned, forge, metricsText, sample, startLimitedGateway, tally } from '../helpers/limits.js';

t.test('a tenant flooded past its quota gets 429s; another tenant is untouched', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const config = testConfig({ upstream: { url: up.url }, limits: { unverified: '10000/m', tenants: { '*': '1000/m', acme: '5/m' } }, routes: ROUTES }, ENV);
  const { gw, close } = await startLimitedGateway(config);
  t.teardown(close);

  // Interleaved, so the other tenant's deliveries arrive while acme is over its quota.
  const acme = [];
  const globex = [];
  for (let i = 0; i < 40; i++) {
    acme.push(await deliver(gw.url, 'acme'));
    if (i % 2 === 0) globex.push(await deliver(gw.url, 'globex'));
  }
  t.same(acme.slice(0, 5).map((a) => a.status), [200, 200, 200, 200, 200], 'the first 5 acme deliveries pass');
  t.equal(acme.filter((a) => a.status === 200).length, 5, 'exactly the quota passes');
  const refused = acme.slice(5);
  t.ok(refused.every((a) => a.status === 429), 'every acme delivery past the quota is refused with 429');
  t.ok(refused.every((a) => a.outcome === 'rate_limited'), 'hookgate-outcome: rate_limited');
  t.ok(refused.every((a) => Number(a.retryAfter) >= 1 && Number(a.retryAfter) <= 60), 'Retry-After: seconds until the 1 minute window resets');
  t.same(JSON.parse(refused[0]!.body), { error: 'rate_limited', message: 'tenant acme is over its rate of 5/m; retry later' });
  t.equal(globex.length, 20);
  t.ok(globex.every((a) => a.status === 200 && a.outcome === 'forwarded'), 'every globex delivery is forwarded');
  t.equal(up.received.filter((r) => r.headers['hookgate-tenant'] === 'acme').length, 5, 'the upstream saw only acme\'s quota');
  t.equal(up.received.filter((r) => r.headers['hookgate-tenant'] === 'globex').length, 20);

  const m = await metricsText(gw);
  t.equal(sample(m, 'hookgate_rate_limited_total', { tier: 'tenant', tenant: 'acme' }), 35);
  t.equal(sample(m, 'hookgate_rate_limited_total', { tier: 'tenant', tenant: 'globex' }), 0);
  t.equal(sample(m, 'hookgate_requests_total', { route: '/webhooks/:tenant/github', provider: 'github', tenant: 'acme', outcome: 'rate_limited' }), 35);
});

t.test('tenants not named share the "*" rate, each with its own count, labelled other', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const config = testConfig({ upstream: { url: up.url }, limits: { tenants: { '*': '3/m' } }, routes: ROUTES }, ENV);
  const { gw, close } = await startLimitedGateway(config);
  t.teardown(close);

  const zeta = await tally(6, () => deliverSigned(gw.url, 'zeta'));
  const eta = await tally(6, () => deliverSigned(gw.url, 'eta'));
  t.same(zeta.byStatus, { 200: 3, 429: 3 }, 'zeta: its own 3/m');
  t.same(eta.byStatus, { 200: 3, 429: 3 }, 'eta: its own 3/m, not what zeta left');
  const m = await metricsText(gw);
  t.equal(sample(m, 'hookgate_rate_limited_total', { tier: 'tenant', tenant: 'other' }), 6, 'tenants not in the config are labelled other');
});

t.test('hundreds of badly signed requests naming a tenant leave its quota untouched', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const config = testConfig({ upstream: { url: up.url }, limits: { unverified: '10000/m', tenants: { acme: '5/m' } }, routes: ROUTES }, ENV);
  const { gw, close } = await startLimitedGateway(config);
  t.teardown(close);

  const forged = await tally(300, () => forge(gw.url, 'acme'));
  t.same(forged.byStatus, { 401: 300 }, 'all refused by verification, none by the tenant limit');
  t.ok(forged.answers.every((a) => a.outcome === 'signature_invalid'));
  t.equal(up.received.length, 0, 'nothing forwarded');

  const valid = await tally(7, () => deliver(gw.url, 'acme'));
  t.same(valid.answers.map((a) => a.status), [200, 200, 200, 200, 200, 429, 429], 'acme still has its whole quota of 5');
  const m = await metricsText(gw);
  t.equal(sample(m, 'hookgate_rate_limited_total', { tier: 'tenant', tenant: 'acme' }), 2);
});

t.test('the unverified tier limits per client address, before verification', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());

  t.test('behind a trusted proxy, x-forwarded-for names the address', async (t) => {
    const config = testConfig({ upstream: { url: up.url }, trustProxy: true, limits: { unverified: '4/m' }, routes: ROUTES }, ENV);
    const { gw, close } = await startLimitedGateway(config);
    t.teardown(close);
    const a = await tally(6, (i) => (i % 2 ? deliver(gw.url, 'acme', { 'x-forwarded-for': '203.0.113.7' }) : forge(gw.url, 'acme', { 'x-forwarded-for': '203.0.113.7' })));
    t.same(a.answers.map((x) => x.status), [401, 200, 401, 200, 429, 429], 'forged and valid requests alike count against the address');
    t.equal(a.answers[4]!.outcome, 'rate_limited');
    t.ok(Number(a.answers[4]!.retryAfter) >= 1 && Number(a.answers[4]!.retryAfter) <= 60, 'Retry-After in seconds');
    t.same(JSON.parse(a.answers[5]!.body), { error: 'rate_limited', message: 'more than 4/m from this address; retry later' });
    const b = await deliver(gw.url, 'acme', { 'x-forwarded-for': '198.51.100.9' });
    t.equal(b.status, 200, 'another address has its own count');
    const c = await deliver(gw.url, 'acme', { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' });
    t.equal(c.status, 429, 'the client is the first (left-most) address of the chain');
    const m = await metricsText(gw);
    t.equal(sample(m, 'hookgate_rate_limited_total', { tier: 'unverified', tenant: 'none' }), 3);
    t.equal(sample(m, 'hookgate_rate_limited_total', { tier: 'tenant', tenant: 'acme' }), 0, 'not counted as the tenant\'s');
  });

  t.test('IPv6 addresses count per /64', async (t) => {
    const config = testConfig({ upstream: { url: up.url }, trustProxy: true, limits: { unverified: '2/m' }, routes: ROUTES }, ENV);
    const { gw, close } = await startLimitedGateway(config);
    t.teardown(close);
    const from = (ip: string) => deliver(gw.url, 'globex', { 'x-forwarded-for': ip });
    t.same([(await from('2001:db8:1:1::1')).status, (await from('2001:db8:1:1::2')).status, (await from('2001:db8:1:1:ffff::9')).status], [200, 200, 429], 'one /64, one count');
    t.equal((await from('2001:db8:1:2::1')).status, 200, 'the next /64 has its own');
  });

  t.test('without trustProxy, x-forwarded-for is ignored: the socket address counts', async (t) => {
    const config = testConfig({ upstream: { url: up.url }, limits: { unverified: '3/m' }, routes: ROUTES }, ENV);
    const { gw, close } = await startLimitedGateway(config);
    t.teardown(close);
    const a = await tally(5, (i) => deliver(gw.url, 'globex', { 'x-forwarded-for': `203.0.113.${i + 1}` }));
    t.same(a.answers.map((x) => x.status), [200, 200, 200, 429, 429], 'a caller cannot buy a fresh count with a header');
  });
});

t.test('a reload changes the rates in force', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const doc = { upstream: { url: up.url }, limits: { tenants: { acme: '2/m' } }, routes: ROUTES };
  const { gw, close } = await startLimitedGateway(testConfig(doc, ENV));
  t.teardown(close);
  const before = await tally(3, () => deliver(gw.url, 'acme'));
  t.same(before.answers.map((a) => a.status), [200, 200, 429]);
  await gw.reload(testConfig({ ...doc, limits: { tenants: { acme: '4/h' } } }, ENV));
  const after = await tally(5, () => deliver(gw.url, 'acme'));
  t.same(after.answers.map((a) => a.status), [200, 200, 200, 200, 429], 'the new rate, counted afresh in its new window');
  t.ok(Number(after.answers[4]!.retryAfter) > 60, 'Retry-After follows the new one-hour window');
});
