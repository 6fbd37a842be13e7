// Hostile and broken input: each gets its documented status and code, a JSON error without a stack
// or a secret, and the upstream receives nothing.
import t, { type Test } from 'tap';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import Stripe from 'stripe';
import { sign as githubSign } from '@octokit/webhooks-methods';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';

const stripe = new Stripe('sk_test_dummy');
const SECRET = 'whsec_hostile_input_0123456789';
const GH = 'gh-hostile-secret';

/** Sends raw bytes and returns the raw answer. */
function raw(url: string, data: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => s.end(data));
    let out = '';
    s.on('data', (c) => (out += c.toString()));
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
}

t.test('hostile input', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const config = testConfig(
    {
      upstream: { url: up.url },
      routes: [
        { path: '/webhooks/stripe', provider: 'stripe', tenant: 'acme', secrets: ['env:S'], bodyLimit: '1kb' },
        { path: '/webhooks/github', provider: 'github', tenant: 'acme', secrets: ['env:G'] },
      ],
    },
    { S: SECRET, G: GH },
  );
  const gw = await startTestGateway(config);
  t.teardown(() => gw.close());

  const refused = async (t: Test, res: Awaited<ReturnType<typeof request>>, status: number, code: string) => {
    t.equal(res.statusCode, status, `status ${status}`);
    t.equal(res.headers['hookgate-outcome'], code, `outcome ${code}`);
    const text = await res.body.text();
    const json = JSON.parse(text);
    t.equal(json.error, code);
    t.type(json.message, 'string');
    t.notMatch(text, /at .*\.js|stack|whsec_|gh-hostile/, 'no stack trace or secret');
    t.equal(up.received.length, 0, 'the upstream received nothing');
  };
  const stripeHeader = (payload: string, timestamp?: number) => stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET, ...(timestamp ? { timestamp } : {}) });
  const post = (path: string, headers: Record<string, string | string[]>, body: string | Buffer) => request(`${gw.url}${path}`, { method: 'POST', headers, body });

  t.test('no signature header', async (t) => refused(t, await post('/webhooks/stripe', { 'content-type': 'application/json' }, '{"id":"evt_1"}'), 401, 'signature_missing'));
  t.test('garbled signature header', async (t) => refused(t, await post('/webhooks/stripe', { 'stripe-signature': 'garbage!!' }, '{"id":"evt_1"}'), 400, 'malformed'));
  t.test('signature header sent twice, one of them valid', async (t) => {
    const body = '{"id":"evt_2"}';
    await refused(t, await post('/webhooks/stripe', { 'stripe-signature': [stripeHeader(body), 't=1,v1=00'] }, body), 400, 'malformed');
  });
  t.test('a changed byte', async (t) => refused(t, await post('/webhooks/stripe', { 'stripe-signature': stripeHeader('{"id":"evt_3"}') }, '{"id":"evt_4"}'), 401, 'signature_invalid'));
  t.test('a stale timestamp', async (t) => {
    const body = '{"id":"evt_5"}';
    await refused(t, await post('/webhooks/stripe', { 'stripe-signature': stripeHeader(body, Math.floor(Date.now() / 1000) - 3600) }, body), 401, 'timestamp_out_of_tolerance');
  });
  t.test('a future timestamp', async (t) => {
    const body = '{"id":"evt_6"}';
    await refused(t, await post('/webhooks/stripe', { 'stripe-signature': stripeHeader(body, Math.floor(Date.now() / 1000) + 3600) }, body), 401, 'timestamp_out_of_tolerance');
  });
  t.test('validly signed truncated JSON where the scheme needs JSON', async (t) => {
    const body = '{"id":"evt_7","data":{';
    await refused(t, await post('/webhooks/stripe', { 'stripe-signature': stripeHeader(body) }, body), 400, 'malformed');
  });
  t.test('invalid UTF-8 with a wrong signature is refused', async (t) => {
    const body = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]);
    await refused(t, await post('/webhooks/github', { 'x-hub-signature-256': 'sha256=' + '0'.repeat(64) }, body), 401, 'signature_invalid');
  });
  t.test('a body over the route limit, with content-length', async (t) => {
    const body = '{"id":"evt_8","pad":"' + 'x'.repeat(2000) + '"}';
    await refused(t, await post('/webhooks/stripe', { 'stripe-signature': stripeHeader(body) }, body), 413, 'body_too_large');
  });
  t.test('a body over the route limit, chunked, is cut off', async (t) => {
    // A chunked body of up to 64 MB against a 1 kb limit: answered 413 long before its end, which
    // is what "cut off" means (a gateway reading it all first would pull every chunk).
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    const total = 4096;
    let pulled = 0;
    const chunks = Readable.from((function* () {
      for (; pulled < total; pulled++) yield chunk;
    })());
    const res = await request(`${gw.url}/webhooks/stripe`, { method: 'POST', headers: { 'stripe-signature': 't=1,v1=00' }, body: chunks });
    await refused(t, res, 413, 'body_too_large');
    chunks.destroy();
    t.ok(pulled < total, `answered after ${pulled} of ${total} chunks: the rest was never read`);
  });
  t.test('a huge header value', async (t) => {
    const res = await raw(gw.url, `POST /webhooks/github HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(40000)}\r\ncontent-length: 2\r\n\r\n{}`);
    t.match(res, /^HTTP\/1\.1 431 /);
    t.match(res, /hookgate-outcome: headers_too_large/);
    t.match(res, /\{"error":"headers_too_large","message":"[^"]+"\}/);
    t.equal(up.received.length, 0);
    const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text();
    t.match(metrics, /hookgate_requests_total\{route="unmatched",provider="none",tenant="none",outcome="headers_too_large"\} 1/, 'counted though Fastify never saw it');
  });
  t.test('unparseable HTTP', async (t) => {
    const res = await raw(gw.url, 'POST /webhooks/github HTTP/1.1\r\nhost x\r\n\r\n');
    t.match(res, /^HTTP\/1\.1 400 /);
    t.match(res, /hookgate-outcome: malformed/);
    t.equal(up.received.length, 0);
  });
  t.test('an invalid content-length', async (t) => {
    const res = await raw(gw.url, 'POST /webhooks/github HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n{}');
    t.match(res, /^HTTP\/1\.1 400 /);
    t.equal(up.received.length, 0);
  });
  t.test('a wrong method', async (t) => {
    const res = await request(`${gw.url}/webhooks/github`, { method: 'GET' });
    t.equal(res.headers.allow, 'POST');
    await refused(t, res, 405, 'method_not_allowed');
  });
  t.test('HEAD and OPTIONS are refused 405 on a route that lists neither', async (t) => {
    const options = await request(`${gw.url}/webhooks/github`, { method: 'OPTIONS' });
    t.equal(options.headers.allow, 'POST');
    await refused(t, options, 405, 'method_not_allowed');
    // HEAD: the same status and headers, no body (HTTP forbids one).
    const head = await request(`${gw.url}/webhooks/github`, { method: 'HEAD' });
    t.equal(head.statusCode, 405, 'HEAD: status 405');
    t.equal(head.headers['hookgate-outcome'], 'method_not_allowed');
    t.equal(head.headers.allow, 'POST');
    t.equal(await head.body.text(), '', 'HEAD: no body');
    t.equal(up.received.length, 0, 'the upstream received nothing');
  });
  for (const path of ['/webhooks/github/', '//webhooks/github', '/webhooks/%2e%2e/github', '/WEBHOOKS/github', '/webhooks/github%00', '/metrics', '/healthz', '/']) {
    t.test(`odd path ${path}`, async (t) => {
      const body = '{}';
      await refused(t, await post(path, { 'x-hub-signature-256': await githubSign(GH, body) }, body), 404, 'no_route');
    });
  }
  t.test('a path with a dot-dot segment', async (t) => {
    const res = await raw(gw.url, 'POST /webhooks/../webhooks/github HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}');
    t.match(res, /^HTTP\/1\.1 (404|400) /);
    t.equal(up.received.length, 0);
  });
  t.test('the gateway still serves a valid delivery afterwards', async (t) => {
    const body = '{"after":true}';
    const before = up.received.length;
    const res = await post('/webhooks/github', { 'x-hub-signature-256': await githubSign(GH, body) }, body);
    t.equal(res.statusCode, 200);
    t.equal(res.headers['hookgate-outcome'], 'forwarded');
    await res.body.dump();
    t.equal(up.received.length, before + 1);
    t.equal(up.received.at(-1)!.body.toString(), body, 'this delivery, forwarded');
  });
});
