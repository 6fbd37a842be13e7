// The exact request reaches the upstream: bytes, headers, signature headers; hookgate-* from outside removed.
import t from 'tap';
import { request } from 'undici';
import Stripe from 'stripe';
import { sign as githubSign } from '@octokit/webhooks-methods';
import { answerInPieces, startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { scrape } from '../helpers/metrics.js';

const stripe = new Stripe('sk_test_dummy');
const STRIPE_SECRET = 'whsec_test_forwarding_0123456789';
const GITHUB_SECRET = 'gh-secret-forwarding';

t.test('forwarding', async (t) => {
  const up = await startUpstream((r, res) => {
    res.setHeader('x-app', 'django');
    res.setHeader('set-cookie', ['a=1', 'b=2']);
    res.statusCode = 201;
    res.end(`got ${r.body.length}`);
  });
  t.teardown(() => up.close());
  const config = testConfig(
    {
      upstream: { url: up.url },
      routes: [
        { path: '/webhooks/stripe', provider: 'stripe', tenant: 'acme', secrets: ['env:STRIPE'] },
        { path: '/webhooks/:tenant/github', provider: 'github', tenant: 'param:tenant', secrets: { acme: ['env:GH'] }, forwardTo: '/legacy/github/hook/' },
      ],
    },
    { STRIPE: STRIPE_SECRET, GH: GITHUB_SECRET },
  );
  const gw = await startTestGateway(config);
  t.teardown(() => gw.close());

  t.test('non-canonical JSON arrives byte for byte with its signature headers', async (t) => {
    const body = Buffer.from('{ "id" :"evt_1",\r\n  "z":1, "a":"h\u00e9llo \u2603",\t"n": 1.0e2 }\r\n', 'utf8');
    const header = stripe.webhooks.generateTestHeaderString({ payload: body.toString('utf8'), secret: STRIPE_SECRET });
    const before = up.received.length;
    const res = await request(`${gw.url}/webhooks/stripe?x=1&y=%20`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': header, 'X-Custom': 'Keep-Me', 'hookgate-tenant': 'evil', 'hookgate-attempt': '99' },
      body,
    });
    t.equal(res.statusCode, 201, 'the upstream status comes back');
    t.equal(res.headers['hookgate-outcome'], 'forwarded');
    t.equal(res.headers['x-app'], 'django');
    t.same(res.headers['set-cookie'], ['a=1', 'b=2']);
    t.equal(await res.body.text(), `got ${body.length}`);
    t.equal(up.received.length, before + 1);
    const got = up.received.at(-1)!;
    t.ok(got.body.equals(body), 'the same bytes');
    t.equal(got.url, '/webhooks/stripe?x=1&y=%20', 'path and query unchanged');
    t.equal(got.headers['stripe-signature'], header, 'signature header kept');
    t.equal(got.headers['content-type'], 'application/json');
    t.ok(got.rawHeaders.includes('X-Custom'), 'header case kept');
    t.equal(got.headers['x-custom'], 'Keep-Me');
    t.equal(got.headers['hookgate-tenant'], 'acme', 'an outside hookgate-tenant is replaced');
    t.equal(got.headers['hookgate-attempt'], '1');
    t.equal(got.headers['hookgate-provider'], 'stripe');
    t.equal(got.headers['hookgate-idempotency-key'], '/webhooks/stripe|acme|id:evt_1', 'the route\'s namespace, the tenant and the signed event id');
    t.equal(got.headers['x-forwarded-for'], '127.0.0.1');
    t.equal(got.headers['x-forwarded-proto'], 'http');
    t.match(got.headers['x-forwarded-host'], /^127\.0\.0\.1:\d+$/);
    t.equal(got.rawHeaders.filter((h) => h.toLowerCase() === 'hookgate-attempt').length, 1, 'exactly one hookgate-attempt');
  });

  t.test('a form body and forwardTo; the key is the digest when the scheme signs no id', async (t) => {
    const body = 'payload=%7B%22a%22%3A1%7D&x=%C3%A9+y';
    const sig = await githubSign(GITHUB_SECRET, body);
    const res = await request(`${gw.url}/webhooks/acme/github`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-hub-signature-256': sig, 'x-github-delivery': 'abc' },
      body,
    });
    t.equal(res.statusCode, 201);
    await res.body.dump();
    const got = up.received.at(-1)!;
    t.equal(got.url, '/legacy/github/hook/');
    t.equal(got.body.toString(), body);
    t.equal(got.headers['hookgate-tenant'], 'acme');
    t.match(got.headers['hookgate-idempotency-key'], /^\/webhooks\/:tenant\/github\|acme\|sha256:[0-9a-f]{64}$/);
  });

  t.test('a tenant with no secret of its own is refused and nothing is forwarded', async (t) => {
    const body = '{}';
    const sig = await githubSign(GITHUB_SECRET, body);
    const before = up.received.length;
    const res = await request(`${gw.url}/webhooks/globex/github`, { method: 'POST', headers: { 'x-hub-signature-256': sig }, body });
    t.equal(res.statusCode, 401);
    t.equal(res.headers['hookgate-outcome'], 'signature_invalid');
    t.same(await res.body.json(), { error: 'signature_invalid', message: 'no secret is configured for this tenant' });
    t.equal(up.received.length, before);
  });

  t.test('the request is counted by route, provider, tenant and outcome', async (t) => {
    // Its own deliveries, counted from before to after: no other subtest's traffic matters.
    const forwarded = { route: '/webhooks/stripe', provider: 'stripe', tenant: 'acme', outcome: 'forwarded' };
    const refused = { route: '/webhooks/:tenant/github', provider: 'github', tenant: 'other', outcome: 'signature_invalid' };
    const before = await scrape(gw.adminUrl);
    const payload = JSON.stringify({ id: `evt_count_${Date.now()}_${Math.random().toString(36).slice(2)}` });
    const ok = await request(`${gw.url}/webhooks/stripe`, { method: 'POST', headers: { 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: STRIPE_SECRET }) }, body: payload });
    t.equal(ok.statusCode, 201);
    await ok.body.dump();
    const bad = await request(`${gw.url}/webhooks/globex/github`, { method: 'POST', headers: { 'x-hub-signature-256': await githubSign(GITHUB_SECRET, '{}') }, body: '{}' });
    t.equal(bad.statusCode, 401);
    await bad.body.dump();
    const after = await scrape(gw.adminUrl);
    t.equal((after.get('hookgate_requests_total', forwarded) ?? 0) - (before.get('hookgate_requests_total', forwarded) ?? 0), 1, 'one more forwarded, by route, provider and tenant');
    t.equal((after.get('hookgate_requests_total', refused) ?? 0) - (before.get('hookgate_requests_total', refused) ?? 0), 1, "one more refused; an unknown tenant is labelled 'other'");
  });
});

t.test('invalid UTF-8 that is validly signed is forwarded byte for byte', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const gw = await startTestGateway(testConfig({ upstream: { url: up.url }, routes: [{ path: '/gh', provider: 'github', tenant: 't1', secrets: ['env:G'] }] }, { G: GITHUB_SECRET }));
  t.teardown(() => gw.close());
  const body = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d, 0x0d, 0x0a, 0x00]);
  const { createHmac } = await import('node:crypto');
  const res = await request(`${gw.url}/gh`, { method: 'POST', headers: { 'x-hub-signature-256': 'sha256=' + createHmac('sha256', GITHUB_SECRET).update(body).digest('hex') }, body });
  t.equal(res.statusCode, 200);
  await res.body.dump();
  t.ok(up.received[0]!.body.equals(body));
});

t.test('the app\'s answer comes back as it sent it: no type added, a large one whole, an empty one empty', async (t) => {
  const BIG = Buffer.alloc(6 * 1024 * 1024);
  for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 31) & 0xff;
  const up = await startUpstream((r, res) => {
    const want = r.headers['x-answer'];
    if (want === 'untyped') return void res.end('plain words');
    if (want === 'empty') return void res.end();
    if (want === 'no-content') return void ((res.statusCode = 204), res.end());
    // a large answer, written in pieces as the client takes them
    res.setHeader('content-type', 'application/octet-stream');
    answerInPieces(res, BIG, 100_000);
  });
  t.teardown(() => up.close());
  const gw = await startTestGateway(testConfig({ upstream: { url: up.url }, routes: [{ path: '/webhooks/stripe', provider: 'stripe', tenant: 'acme', secrets: ['env:STRIPE'] }] }, { STRIPE: STRIPE_SECRET }));
  t.teardown(() => gw.close());
  const send = async (answer: string) => {
    const payload = JSON.stringify({ id: `evt_answer_${answer}_${Date.now()}` });
    return request(`${gw.url}/webhooks/stripe`, { method: 'POST', headers: { 'x-answer': answer, 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: STRIPE_SECRET }) }, body: payload });
  };

  const untyped = await send('untyped');
  t.equal(untyped.statusCode, 200);
  t.equal(untyped.headers['content-type'], undefined, 'no content-type the app did not send');
  t.equal(await untyped.body.text(), 'plain words');

  const empty = await send('empty');
  t.equal(empty.statusCode, 200);
  t.equal(empty.headers['content-length'], '0');
  t.equal(await empty.body.text(), '');

  const none = await send('no-content');
  t.equal(none.statusCode, 204);
  t.equal(none.headers['content-length'], undefined, 'a 204 has no length');
  t.equal(none.headers['hookgate-outcome'], 'forwarded');
  await none.body.dump();

  const big = await send('big');
  t.equal(big.statusCode, 200);
  t.equal(big.headers['content-type'], 'application/octet-stream');
  const got = Buffer.from(await big.body.arrayBuffer());
  t.equal(got.length, BIG.length, 'every byte of 6 MiB');
  t.ok(got.equals(BIG), 'in order');

  t.equal((await scrape(gw.adminUrl)).get('hookgate_deliveries_in_flight'), 0, 'nothing left in flight');
});
