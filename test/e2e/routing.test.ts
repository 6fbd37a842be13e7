// Routing and the edges of forwarding: pass-through of unmatched paths, tenants from the signed body
// and from headers, hop-by-hop headers, the upstream timeout.
import t from 'tap';
import { connect } from 'node:net';
import { request } from 'undici';
import { sign } from '@octokit/webhooks-methods';
import { answerInPieces, startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { embeddedCluster } from '../helpers/ledger-backends.js';

const S = 'routing-secret';

t.test('unmatched: forward passes other paths through untouched, minus outside hookgate-* headers', async (t) => {
  const up = await startUpstream((r, res) => {
    res.statusCode = r.url.startsWith('/admin') ? 302 : 200;
    res.setHeader('location', '/elsewhere');
    res.end(`app saw ${r.method} ${r.url}`);
  });
  t.teardown(() => up.close());
  const gw = await startTestGateway(testConfig({ upstream: { url: up.url, unmatched: 'forward' }, routes: [{ path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:S'] }] }, { S }));
  t.teardown(() => gw.close());
  const res = await request(`${gw.url}/admin/login?next=%2F`, { method: 'PUT', headers: { 'hookgate-tenant': 'evil', 'x-app': '1', 'content-type': 'text/plain' }, body: 'raw text' });
  t.equal(res.statusCode, 302);
  t.equal(res.headers['hookgate-outcome'], 'forwarded');
  t.equal(res.headers.location, '/elsewhere');
  t.equal(await res.body.text(), 'app saw PUT /admin/login?next=%2F');
  const got = up.received.at(-1)!;
  t.equal(got.body.toString(), 'raw text');
  t.equal(got.headers['x-app'], '1');
  t.equal(got.headers['hookgate-tenant'], undefined, 'no caller speaks for hookgate on a pass-through path');
  const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text();
  t.match(metrics, /hookgate_requests_total\{route="unmatched",provider="none",tenant="none",outcome="forwarded"\} 1/);
  const routed = await request(`${gw.url}/gh`, { method: 'POST', body: '{}' });
  t.equal(routed.statusCode, 401, 'a configured route is still verified');
  await routed.body.dump();
});

t.test('unmatched: forward relays the app\'s answer as it sent it: a page without a type, a large download whole', async (t) => {
  const BIG = Buffer.alloc(5 * 1024 * 1024);
  for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 7) & 0xff;
  const up = await startUpstream((r, res) => {
    if (r.url === '/page') return void res.end('plain page');
    res.setHeader('content-type', 'application/zip');
    answerInPieces(res, BIG);
  });
  t.teardown(() => up.close());
  const gw = await startTestGateway(testConfig({ upstream: { url: up.url, unmatched: 'forward' }, routes: [{ path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:S'] }] }, { S }));
  t.teardown(() => gw.close());
  const page = await request(`${gw.url}/page`);
  t.equal(page.statusCode, 200);
  t.equal(page.headers['content-type'], undefined, 'no type the app did not send');
  t.equal(await page.body.text(), 'plain page');
  const zip = await request(`${gw.url}/download`);
  t.equal(zip.headers['content-type'], 'application/zip');
  const got = Buffer.from(await zip.body.arrayBuffer());
  t.ok(got.equals(BIG), `${got.length} bytes of ${BIG.length}, in order`);
  const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text();
  t.match(metrics, /hookgate_deliveries_in_flight 0/, 'nothing left in flight');
});

t.test('tenants from the verified body and from a header', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const gw = await startTestGateway(
    testConfig(
      {
        upstream: { url: up.url },
        routes: [
          { path: '/shop', provider: 'shopify', tenant: 'json:shop.domain', secrets: ['env:S'] },
          { path: '/hdr', provider: 'github', tenant: 'header:X-Tenant', secrets: { acme: ['env:A'], globex: ['env:B'] } },
        ],
      },
      { S, A: 'acme-secret', B: 'globex-secret' },
    ),
  );
  t.teardown(() => gw.close());
  const { createHmac } = await import('node:crypto');
  const shopBody = '{"shop":{"domain":"shop-1.example.com"},"id":5}';
  let res = await request(`${gw.url}/shop`, { method: 'POST', headers: { 'x-shopify-hmac-sha256': createHmac('sha256', S).update(shopBody).digest('base64') }, body: shopBody });
  t.equal(res.statusCode, 200);
  await res.body.dump();
  t.equal(up.received.at(-1)!.headers['hookgate-tenant'], 'shop-1.example.com');

  const bad = '{"shop":{"domain":"bad tenant\\r\\nx: y"}}';
  res = await request(`${gw.url}/shop`, { method: 'POST', headers: { 'x-shopify-hmac-sha256': createHmac('sha256', S).update(bad).digest('base64') }, body: bad });
  t.equal(res.statusCode, 400, 'a tenant outside the safe alphabet is malformed');
  t.equal(res.headers['hookgate-outcome'], 'malformed');
  await res.body.dump();

  const body = '{"ref":"main"}';
  res = await request(`${gw.url}/hdr`, { method: 'POST', headers: { 'x-tenant': 'globex', 'x-hub-signature-256': await sign('globex-secret', body) }, body });
  t.equal(res.statusCode, 200);
  await res.body.dump();
  t.equal(up.received.at(-1)!.headers['hookgate-tenant'], 'globex');
  const before = up.received.length;
  res = await request(`${gw.url}/hdr`, { method: 'POST', headers: { 'x-tenant': 'acme', 'x-hub-signature-256': await sign('globex-secret', body) }, body });
  t.equal(res.statusCode, 401, "naming another tenant with globex's signature fails: the secret proves the tenant");
  await res.body.dump();
  res = await request(`${gw.url}/hdr`, { method: 'POST', headers: { 'x-hub-signature-256': await sign('globex-secret', body) }, body });
  t.equal(res.statusCode, 401, 'no tenant header: no secret to verify with');
  await res.body.dump();
  t.equal(up.received.length, before);
});

t.test('hop-by-hop headers are not forwarded; Host and the rest are', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const gw = await startTestGateway(testConfig({ upstream: { url: up.url }, routes: [{ path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:S'] }] }, { S }));
  t.teardown(() => gw.close());
  const body = '{"x":1}';
  const sig = await sign(S, body);
  const { port } = new URL(gw.url);
  const answer = await new Promise<string>((resolve, reject) => {
    const s = connect(Number(port), '127.0.0.1', () =>
      s.write(`POST /gh HTTP/1.1\r\nHost: hooks.example.com\r\nConnection: close, X-Drop-Me\r\nX-Drop-Me: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nX-Forwarded-For: 6.6.6.6\r\nX-Hub-Signature-256: ${sig}\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`));
    let out = '';
    s.on('data', (c) => (out += c));
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
  t.match(answer, /^HTTP\/1\.1 200 /);
  const got = up.received.at(-1)!;
  t.equal(got.body.toString(), body, 'the chunked body arrives whole');
  t.equal(got.headers.host, 'hooks.example.com', 'Host as the provider sent it');
  t.equal(got.headers['x-forwarded-host'], 'hooks.example.com');
  t.equal(got.headers['x-forwarded-for'], '127.0.0.1', 'without trustProxy the caller\'s X-Forwarded-For is replaced');
  for (const h of ['x-drop-me', 'keep-alive', 'te', 'transfer-encoding']) t.equal(got.headers[h], undefined, `${h} dropped`);
  t.equal(got.headers['content-length'], String(body.length));
});

t.test('an upstream slower than upstream.timeout: 504, the claim released, the retry forwarded', async (t) => {
  let slow = true;
  const up = await startUpstream(async (_r, res) => {
    if (slow) await new Promise((r) => setTimeout(r, 1500));
    if (!res.destroyed) res.end('late or fine');
  });
  t.teardown(() => up.close());
  const cluster = embeddedCluster('memory');
  t.teardown(() => cluster.close());
  const gw = await startTestGateway(testConfig({ upstream: { url: up.url, timeout: '300ms' }, routes: [{ path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:S'] }] }, { S }), { ledger: await cluster.replica() });
  t.teardown(() => gw.close());
  const body = '{"slow":true}';
  const headers = { 'x-hub-signature-256': await sign(S, body) };
  const first = await request(`${gw.url}/gh`, { method: 'POST', headers, body });
  t.equal(first.statusCode, 504);
  t.equal(first.headers['hookgate-outcome'], 'upstream_timeout');
  t.same(await first.body.json(), { error: 'upstream_timeout', message: 'the upstream did not answer in time' });
  slow = false;
  const second = await request(`${gw.url}/gh`, { method: 'POST', headers, body });
  t.equal(second.statusCode, 200, 'the provider\'s retry is forwarded');
  t.equal(second.headers['hookgate-outcome'], 'forwarded');
  await second.body.dump();
  t.equal(up.received.at(-1)!.headers['hookgate-attempt'], '2');
});
