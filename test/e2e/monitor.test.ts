// mode: monitor verifies and counts but forwards everything, telling in hookgate-verdict what
// enforce would have done.
import t from 'tap';
import { request } from 'undici';
import { sign } from '@octokit/webhooks-methods';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';

t.test('monitor mode forwards bad signatures with their verdict', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const gw = await startTestGateway(testConfig({ mode: 'monitor', upstream: { url: up.url }, routes: [{ path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:G'] }] }, { G: 'monitor-secret' }));
  t.teardown(() => gw.close());
  const body = '{"a":1}';
  const cases: [Record<string, string>, string][] = [
    [{ 'x-hub-signature-256': await sign('monitor-secret', body) }, 'ok'],
    [{ 'x-hub-signature-256': await sign('wrong-secret', body) }, 'signature_invalid'],
    [{}, 'signature_missing'],
  ];
  for (const [headers, verdict] of cases) {
    const res = await request(`${gw.url}/gh`, { method: 'POST', headers, body });
    t.equal(res.statusCode, 200, `${verdict}: forwarded`);
    t.equal(res.headers['hookgate-outcome'], 'forwarded');
    t.equal(res.headers['hookgate-verdict'], verdict);
    await res.body.dump();
  }
  t.equal(up.received.length, 3, 'the upstream received all three');
  t.equal(up.received[1]!.headers['hookgate-tenant'], 'acme');
  t.equal(up.received[1]!.headers['hookgate-idempotency-key'], undefined, 'no key for an unverified delivery');
  const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text();
  t.match(metrics, /hookgate_requests_total\{route="\/gh",provider="github",tenant="acme",outcome="forwarded"\} 3/);
});
