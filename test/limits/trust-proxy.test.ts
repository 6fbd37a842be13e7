// trustProxy as a hop count or a list of trusted proxies: the client address the unverified limit
// counts cannot be chosen by the client, and the upstream sees the same chain hookgate believed.
// The gateways here are reached from 127.0.0.1, which plays the ingress.
import t from 'tap';
import { startUpstream } from '../helpers/upstream.js';
import { testConfig } from '../helpers/gateway.js';
import { ENV, ROUTES, deliver, tally, metricsText, sample, startLimitedGateway } from '../helpers/limits.js';

t.test('trustProxy: 1 — only the address the nearest proxy appended counts', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const { gw, close } = await startLimitedGateway(testConfig({ upstream: { url: up.url }, trustProxy: 1, limits: { unverified: '2/m' }, routes: ROUTES }, ENV));
  t.teardown(close);

  // The client writes anything it likes on the left; the ingress appends the address it saw.
  const spoofed = await tally(3, (i) => deliver(gw.url, 'acme', { 'x-forwarded-for': `6.6.6.${i + 1}, 203.0.113.7`, 'x-forwarded-proto': 'https' }));
  t.same(spoofed.answers.map((a) => a.status), [200, 200, 429], 'a changed left part does not buy a fresh count');
  t.equal(spoofed.answers[2]!.outcome, 'rate_limited');
  t.equal((await deliver(gw.url, 'acme', { 'x-forwarded-for': '203.0.113.8' })).status, 200, 'another real client has its own count');

  const got = up.received[0]!;
  t.equal(got.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1', 'the upstream gets the chain from the counted client to the peer, not the spoofed part');
  t.equal(got.headers['x-forwarded-proto'], 'https', 'the trusted proxy says how the client connected');
  t.equal(sample(await metricsText(gw), 'hookgate_rate_limited_total', { tier: 'unverified', tenant: 'none' }), 1);
});

t.test('trustProxy: 2 — two proxies appended; the client is the second address from the right', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const { gw, close } = await startLimitedGateway(testConfig({ upstream: { url: up.url }, trustProxy: 2, limits: { unverified: '2/m' }, routes: ROUTES }, ENV));
  t.teardown(close);
  const a = await tally(3, (i) => deliver(gw.url, 'globex', { 'x-forwarded-for': `6.6.6.${i + 1}, 203.0.113.7, 10.0.0.${i + 1}` }));
  t.same(a.answers.map((x) => x.status), [200, 200, 429], 'counted under 203.0.113.7 whichever load balancer node relayed it');
  t.equal(up.received[1]!.headers['x-forwarded-for'], '203.0.113.7, 10.0.0.2, 127.0.0.1');
});

t.test('a list of trusted proxies: only a trusted peer is believed', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());

  t.test('the peer is in the list: the header names the client, trusted hops are skipped', async (t) => {
    const { gw, close } = await startLimitedGateway(testConfig({ upstream: { url: up.url }, trustProxy: ['10.0.0.0/8', '127.0.0.1'], limits: { unverified: '2/m' }, routes: ROUTES }, ENV));
    t.teardown(close);
    const before = up.received.length;
    const a = await tally(3, (i) => deliver(gw.url, 'acme', { 'x-forwarded-for': `6.6.6.${i + 1}, 203.0.113.7, 10.1.2.3`, 'x-forwarded-proto': 'https' }));
    t.same(a.answers.map((x) => x.status), [200, 200, 429], 'the first address outside the list (203.0.113.7) is the client');
    t.equal((await deliver(gw.url, 'acme', { 'x-forwarded-for': '198.51.100.9' })).status, 200, 'another client has its own count');
    t.equal(up.received[before]!.headers['x-forwarded-for'], '203.0.113.7, 10.1.2.3, 127.0.0.1');
    t.equal(up.received[before]!.headers['x-forwarded-proto'], 'https');
  });

  t.test('the peer is not in the list: the header is the caller\'s claim and is ignored', async (t) => {
    const { gw, close } = await startLimitedGateway(testConfig({ upstream: { url: up.url }, trustProxy: ['10.0.0.0/8', 'fd00::/8'], limits: { unverified: '2/m' }, routes: ROUTES }, ENV));
    t.teardown(close);
    const before = up.received.length;
    const a = await tally(3, (i) => deliver(gw.url, 'globex', { 'x-forwarded-for': `203.0.113.${i + 1}`, 'x-forwarded-proto': 'https' }));
    t.same(a.answers.map((x) => x.status), [200, 200, 429], 'every request counts under the peer, whatever the header says');
    t.equal(up.received[before]!.headers['x-forwarded-for'], '127.0.0.1', 'the upstream gets the peer only');
    t.equal(up.received[before]!.headers['x-forwarded-proto'], 'http', 'an untrusted X-Forwarded-Proto is not passed on');
  });
});

t.test('trustProxy: true is unchanged: the whole chain is believed and passed on', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const { gw, close } = await startLimitedGateway(testConfig({ upstream: { url: up.url }, trustProxy: true, limits: { unverified: '2/m' }, routes: ROUTES }, ENV));
  t.teardown(close);
  const a = await tally(3, (i) => deliver(gw.url, 'acme', { 'x-forwarded-for': `6.6.6.${i + 1}, 203.0.113.7` }));
  t.same(a.answers.map((x) => x.status), [200, 200, 200], 'the left-most address counts, so each spoofed one is a new client (why the other forms exist)');
  t.equal(up.received[0]!.headers['x-forwarded-for'], '6.6.6.1, 203.0.113.7, 127.0.0.1');
});

// issue 13: with `trustProxy: true` any string in X-Forwarded-For became a rate-limit key (12,000
// characters accepted). An entry that is not an IP address is not believed, nor anything left of it.
t.test('entries that are not IP addresses never become the client address', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  for (const trustProxy of [true, 1, ['127.0.0.1']] as const) {
    t.test(`trustProxy: ${JSON.stringify(trustProxy)}`, async (t) => {
      const { gw, close } = await startLimitedGateway(testConfig({ upstream: { url: up.url }, trustProxy, limits: { unverified: '3/m' }, routes: ROUTES }, ENV));
      t.teardown(close);
      const before = up.received.length;
      const garbage = (i: number) => [`garbage-${i}`, 'x'.repeat(12_000) + i, `unknown, 203.0.113.${i}, not-an-ip-${i}`, `999.1.1.${i}`, `[::1]:${i}`][i % 5]!;
      const a = await tally(5, (i) => deliver(gw.url, 'acme', { 'x-forwarded-for': garbage(i) }));
      t.same(a.answers.map((x) => x.status), [200, 200, 200, 429, 429], 'every garbage value counts under the peer');
      t.equal(a.answers[3]!.outcome, 'rate_limited');
      for (const r of up.received.slice(before)) t.equal(r.headers['x-forwarded-for'], '127.0.0.1', 'the upstream gets the peer, no garbage');
      t.equal((await deliver(gw.url, 'acme', { 'x-forwarded-for': '198.51.100.4' })).status, 200, 'a real address is still believed (its own count)');
      t.equal(up.received.at(-1)!.headers['x-forwarded-for'], '198.51.100.4, 127.0.0.1');
    });
  }
});
