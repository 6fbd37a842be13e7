// The gateway the HTTP-level tests run is the one `hookgate run` assembles: a ledger (duplicates are
// answered from it) and limiters (a tenant over its quota gets 429), unless a test asks for less and
// says why. If startTestGateway stopped wiring either, this fails, not the tests that rely on it.
import t from 'tap';
import { request } from 'undici';
import { sign } from '@octokit/webhooks-methods';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';

const S = 'assembly-secret';

async function post(url: string, body: string) {
  const res = await request(`${url}/gh`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': await sign(S, body) }, body });
  await res.body.dump();
  return { status: res.statusCode, outcome: res.headers['hookgate-outcome'] };
}

t.test('by default: the embedded ledger and the memory limiter, as `hookgate run` builds them', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const gw = await startTestGateway(testConfig({ upstream: { url: up.url }, limits: { tenants: { acme: '3/h' } }, routes: [{ path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:S'] }] }, { S }));
  t.teardown(() => gw.close());
  t.equal(gw.ledger?.backend, 'embedded', 'the ledger config.ledger names (embedded by default)');
  t.same(await post(gw.url, '{"n":1}'), { status: 200, outcome: 'forwarded' });
  t.same(await post(gw.url, '{"n":1}'), { status: 200, outcome: 'duplicate' }, 'the same delivery again: answered from the ledger');
  t.same(await post(gw.url, '{"n":2}'), { status: 200, outcome: 'forwarded' });
  t.same(await post(gw.url, '{"n":3}'), { status: 429, outcome: 'rate_limited' }, "the tenant's fourth delivery within the hour: the limiter");
  t.equal(up.received.length, 2, 'the upstream saw the two forwarded deliveries only');
});

t.test('less than that only with a reason', async (t) => {
  const config = testConfig({ upstream: { url: 'http://127.0.0.1:9' }, routes: [{ path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:S'] }] }, { S });
  await t.rejects(startTestGateway(config, { ledger: null }), /why/, 'no ledger, no reason: refused');
  await t.rejects(startTestGateway(config, { limiters: null }), /why/, 'no limiters, no reason: refused');
  const gw = await startTestGateway(config, { ledger: null, why: 'this test checks that the helper accepts a reason' });
  t.teardown(() => gw.close());
  t.equal(gw.ledger, null, 'with a reason, no ledger');
});
