// A route's `methods` (default [POST]): a listed method is verified and forwarded as it came (HEAD
// really sent to the upstream and its answer returned without a body); any other method gets
// 405 method_not_allowed with Allow naming the list, and nothing reaches the upstream.
import t, { type Test } from 'tap';
import { createHmac } from 'node:crypto';
import { request } from 'undici';
import { sign } from '@octokit/webhooks-methods';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { openLedger } from '../../src/ledger/index.js';

const SECRET = 'methods-github-secret';
// @octokit/webhooks-methods refuses an empty payload; a bodiless request's signature is GitHub's HMAC of no bytes
const signature = (secret: string, body: string) =>
  body === '' ? Promise.resolve('sha256=' + createHmac('sha256', secret).digest('hex')) : sign(secret, body);

async function setup(t: Test) {
  const up = await startUpstream((r, res) => {
    res.statusCode = r.method === 'HEAD' ? 204 : 200;
    res.setHeader('x-app-method', r.method);
    res.end(r.method === 'HEAD' ? undefined : `app got ${r.method}`);
  });
  t.teardown(() => up.close());
  const ledger = await openLedger({ url: 'embedded', retentionMs: 3_600_000, leaseMs: 30_000, cache: 1000, migrate: true });
  const gw = await startTestGateway(
    testConfig(
      {
        upstream: { url: up.url },
        routes: [
          { path: '/listed', provider: 'github', tenant: 'acme', secrets: ['env:G'], methods: ['POST', 'head', 'PUT'] },
          { path: '/default', provider: 'github', tenant: 'acme', secrets: ['env:G'] },
        ],
      },
      { G: SECRET },
    ),
    { ledger },
  );
  t.teardown(() => gw.close());
  return { up, gw };
}

t.test('methods [POST, HEAD, PUT]: a signed HEAD is sent to the upstream as HEAD and its answer returned', async (t) => {
  const { up, gw } = await setup(t);
  const res = await request(`${gw.url}/listed?probe=1`, { method: 'HEAD', headers: { 'x-hub-signature-256': await signature(SECRET, '') } });
  t.equal(res.statusCode, 204, "the upstream's status");
  t.equal(res.headers['hookgate-outcome'], 'forwarded');
  t.equal(res.headers['x-app-method'], 'HEAD', 'the upstream answered a HEAD');
  t.equal(await res.body.text(), '', 'no body');
  t.equal(up.received.length, 1);
  t.equal(up.received[0]!.method, 'HEAD');
  t.equal(up.received[0]!.url, '/listed?probe=1');
  t.equal(up.received[0]!.body.length, 0);
  t.equal(up.received[0]!.headers['hookgate-provider'], 'github');
});

t.test('methods [POST, HEAD, PUT]: an unsigned HEAD is refused like any delivery', async (t) => {
  const { up, gw } = await setup(t);
  const res = await request(`${gw.url}/listed`, { method: 'HEAD', headers: { 'x-hub-signature-256': await signature('wrong', '') } });
  t.equal(res.statusCode, 401);
  t.equal(res.headers['hookgate-outcome'], 'signature_invalid');
  await res.body.dump();
  t.equal(up.received.length, 0);
});

t.test('methods [POST, HEAD, PUT]: a listed PUT with a body is forwarded as PUT', async (t) => {
  const { up, gw } = await setup(t);
  const body = '{"put":true}';
  const res = await request(`${gw.url}/listed`, { method: 'PUT', headers: { 'content-type': 'application/json', 'x-hub-signature-256': await sign(SECRET, body) }, body });
  t.equal(res.statusCode, 200);
  t.equal(await res.body.text(), 'app got PUT');
  t.equal(up.received[0]!.method, 'PUT');
  t.equal(up.received[0]!.body.toString(), body);
});

t.test('methods [POST, HEAD, PUT]: an unlisted method is 405 with Allow, before verification, and nothing is forwarded', async (t) => {
  const { up, gw } = await setup(t);
  for (const method of ['GET', 'DELETE', 'PATCH', 'OPTIONS']) {
    const body = method === 'GET' || method === 'OPTIONS' ? undefined : '{}';
    const res = await request(`${gw.url}/listed`, { method, headers: { 'x-hub-signature-256': await signature(SECRET, body ?? '') }, ...(body ? { body } : {}) });
    t.equal(res.statusCode, 405, method);
    t.equal(res.headers['hookgate-outcome'], 'method_not_allowed', method);
    t.equal(res.headers.allow, 'POST, HEAD, PUT', `${method}: Allow names the list`);
    t.equal((await res.body.json() as { error: string }).error, 'method_not_allowed');
  }
  t.equal(up.received.length, 0, 'the upstream received nothing');
});

t.test('the default [POST]: HEAD and OPTIONS are 405 with Allow: POST; POST is forwarded', async (t) => {
  const { up, gw } = await setup(t);
  for (const method of ['HEAD', 'OPTIONS', 'GET']) {
    const res = await request(`${gw.url}/default`, { method, headers: { 'x-hub-signature-256': await signature(SECRET, '') } });
    t.equal(res.statusCode, 405, method);
    t.equal(res.headers['hookgate-outcome'], 'method_not_allowed', method);
    t.equal(res.headers.allow, 'POST', method);
    await res.body.dump();
  }
  t.equal(up.received.length, 0);
  const res = await request(`${gw.url}/default`, { method: 'POST', headers: { 'x-hub-signature-256': await sign(SECRET, '{"a":1}') }, body: '{"a":1}' });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['hookgate-outcome'], 'forwarded');
  await res.body.dump();
  t.equal(up.received.length, 1);
});
