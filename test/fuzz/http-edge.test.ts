// Property-based fuzzing of a real gateway's HTTP edge (enforce mode): random methods, paths, headers
// (hookgate-* included, huge and odd values) and bodies. Properties: never a 5xx other than 502/503/504
// (never 500), the upstream receives nothing unsigned, no secret in any answer or log line, and the
// process still forwards a valid delivery afterwards.
import t from 'tap';
import fc from 'fast-check';
import { request } from 'undici';
import { Webhook } from 'standardwebhooks';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';

const RUNS = Number(process.env.HOOKGATE_FUZZ_HTTP_RUNS ?? 200);
const SECRET = 'whsec_' + Buffer.from('fuzz-http-edge-secret-0123456789').toString('base64');
const GH_SECRET = 'gh-fuzz-secret-value-987654321';

t.test('random requests at the edge of an enforcing gateway', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const config = testConfig({
    upstream: { url: up.url }, mode: 'enforce',
    limits: { unverified: '100000/s' },
    routes: [
      { path: '/hooks', provider: 'standard', tenant: 'acme', secrets: ['env:S'] },
      { path: '/gh/:tenant', provider: 'github', tenant: 'param:tenant', secrets: { acme: ['env:G'] } },
    ],
  }, { S: SECRET, G: GH_SECRET });
  const gw = await startTestGateway(config);
  t.teardown(() => gw.close());

  const token = fc.stringMatching(/^[a-zA-Z0-9!#$%&'*+.^_`|~-]{1,40}$/);
  const headerName = fc.oneof(token, fc.constantFrom('hookgate-tenant', 'hookgate-idempotency-key', 'hookgate-attempt', 'hookgate-provider', 'hookgate-outcome', 'webhook-id', 'webhook-signature', 'webhook-timestamp', 'svix-signature', 'x-hub-signature-256', 'content-type', 'x-forwarded-for', 'transfer-encoding', 'content-encoding', 'expect'));
  const headerValue = fc.oneof(
    { weight: 4, arbitrary: fc.stringMatching(/^[\x20-\x7e]{0,80}$/) },
    fc.constantFrom('v1,' + 'A'.repeat(44), 'sha256=' + '0'.repeat(64), 't=1,v1=x', '1700000000', '', 'gzip', 'chunked'),
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 20_000 }).map((n) => 'x'.repeat(n)) },
  );
  const path = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('/hooks', '/gh/acme', '/gh/globex') }, fc.constantFrom('/hooks', '/gh/acme', '/gh/globex', '/gh/%2e%2e', '/metrics', '/healthz', '/', '/hooks?x=1', '//hooks', '/hooks/'), fc.webPath().map((p) => p || '/'));
  const method = fc.oneof({ weight: 4, arbitrary: fc.constant('POST') }, fc.constantFrom('POST', 'GET', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'));
  const body = fc.oneof(fc.constant(''), fc.json(), fc.uint8Array({ maxLength: 4096 }).map((b) => Buffer.from(b)));

  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(method, path, fc.array(fc.tuple(headerName, headerValue), { maxLength: 8 }), body, async (m, p, hs, b) => {
      const headers: string[] = [];
      for (const [k, v] of hs) if (!['transfer-encoding', 'expect'].includes(k.toLowerCase())) headers.push(k, v);
      let status: number;
      let text = '';
      try {
        const res = await request(`${gw.url}${p}`, { method: m, headers, body: m === 'GET' || m === 'HEAD' ? null : b, headersTimeout: 10_000, bodyTimeout: 10_000 });
        text = await res.body.text();
        status = res.statusCode;
        text += JSON.stringify(res.headers);
      } catch (err) {
        // The client refused to build the request (an invalid header for undici): not the gateway's doing.
        if ((err as { code?: string }).code === 'UND_ERR_INVALID_ARG') return true;
        throw err;
      }
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status >= 500 && ![502, 503, 504].includes(status)) throw new Error(`${m} ${p}: ${status} ${text.slice(0, 200)}`);
      if (text.includes(SECRET) || text.includes(GH_SECRET)) throw new Error('a secret in an answer');
      return true;
    }),
    { numRuns: RUNS },
  );
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  t.equal(up.received.length, 0, 'the upstream received nothing: no random request was signed');
  t.notOk(statuses.has(500), 'never a 500');
  t.notOk(gw.logText().includes(SECRET) || gw.logText().includes(GH_SECRET), 'no secret in any log line');
  t.notOk(gw.logs.some((l) => l.outcome === 'internal_error'), 'no internal_error logged');

  // Still alive and still forwarding.
  const wh = new Webhook(SECRET);
  const at = new Date();
  const b = '{"ok":true}';
  const res = await request(`${gw.url}/hooks`, { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-id': 'msg_after_fuzz', 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': wh.sign('msg_after_fuzz', at, b) }, body: b });
  await res.body.dump();
  t.equal(res.statusCode, 200, 'a valid delivery passes after the fuzzing');
  t.equal(up.received.length, 1);
});
