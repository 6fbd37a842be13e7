// Attacks on the request path (issue 13): near misses of a route's path that a pass-through would hand
// to a lenient router (Django APPEND_SLASH, Express, Spring) as that route's path, upstream paths made
// from the raw request target, fragments, absolute-form targets, a doubled Host, undecodable paths.
// Each runs against a real gateway and a real upstream; the upstream must see nothing it should not.
import t, { type Test } from 'tap';
import { connect } from 'node:net';
import { request } from 'undici';
import { sign } from '@octokit/webhooks-methods';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { startLimitedGateway } from '../helpers/limits.js';

const GH = 'path-bypass-github-secret';
const ACME = 'path-bypass-acme-secret';
const ENV = { GH, ACME };
const FORGED = '{"action":"forged","ref":"refs/heads/main"}';

const ROUTES = [
  { path: '/webhooks/github', provider: 'github', tenant: 'acme', secrets: ['env:GH'] },
  { path: '/p/:tenant/:kind', provider: 'github', tenant: 'param:tenant', secrets: { acme: ['env:ACME'] } },
  { path: '/hooks/in', provider: 'github', tenant: 'acme', secrets: ['env:GH'], forwardTo: '/legacy/github/hook/' },
];

/**
 * Sends raw bytes (each request says `connection: close`) and returns the raw answer. The socket is
 * not half-closed: Node's server drops an answer still being made when the client's FIN arrives.
 */
function raw(url: string, data: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => s.write(data));
    // A deadline, not a timing assertion: a server that never closes fails the test instead of hanging it.
    s.setTimeout(5_000, () => s.destroy());
    let out = '';
    s.on('data', (c) => (out += c.toString()));
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
}

function rawPost(target: string, body: string, headers: Record<string, string> = {}, host = 'hooks.example.com'): string {
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return `POST ${target} HTTP/1.1\r\nHost: ${host}\r\ncontent-type: application/json\r\n${extra}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

function parseRaw(answer: string): { status: number; headers: Record<string, string>; body: string } {
  const [head, ...rest] = answer.split('\r\n\r\n');
  const lines = head!.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(lines[0]!.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

async function refusedRaw(t: Test, up: Upstream, answer: string, status: number, code: string): Promise<void> {
  const before = up.received.length;
  const r = parseRaw(answer);
  t.equal(r.status, status, `status ${status}`);
  t.equal(r.headers['hookgate-outcome'], code, `hookgate-outcome ${code}`);
  t.equal(JSON.parse(r.body).error, code);
  t.equal(up.received.length, before, 'the upstream received nothing');
}

async function passThroughGateway(t: Test, doc: Record<string, unknown> = {}): Promise<{ up: Upstream; gw: TestGateway }> {
  const up = await startUpstream((r, res) => {
    res.setHeader('x-app', 'yes');
    res.end(`app saw ${r.method} ${r.url} ${r.body.toString()}`);
  });
  t.teardown(() => up.close());
  const gw = await startTestGateway(testConfig({ upstream: { url: up.url, unmatched: 'forward' }, routes: ROUTES, ...doc }, ENV));
  t.teardown(() => gw.close());
  return { up, gw };
}

// ── class 1: near misses of a route's path never pass through ──────────────────────────────────────
const NEAR_MISSES = [
  '/webhooks/./github',
  '/%2e/webhooks/github',
  '/webhooks/%2E/github',
  '/webhooks\\github',
  '/webhooks/github/',
  '/WEBHOOKS/GITHUB',
  '/webhooks//github',
  '/webhooks/github;x',
  '/webhooks/github;jsessionid=1/',
  '/webhooks/../webhooks/github',
  '/webhooks/x/../github',
  '/webhooks/%2e%2e/webhooks/github',
  '/webhooks%2Fgithub',
  '/webhooks%5cgithub',
  '/webhooks/github.json',
  '/webhooks/github%2F',
  '//webhooks/github',
  '/./WEBHOOKS\\.//GitHub/;a=b',
  '/WebHooks/%67ITHUB/',
  '/webhooks/%2567ithub',
  '/webhooks/github%00.png',
  '/%EF%BD%97ebhooks/github',
  // a :param route: one segment for each parameter
  '/p/acme/GitHub/',
  '/p/globex/github/',
  '/p//acme/github',
  '/P/anything/else/',
  // a route's forwardTo is a webhook handler on the upstream too
  '/legacy/github/hook/',
  '/legacy/github/hook',
  '/LEGACY//github/./hook',
  '/hooks/in/',
];

t.test('unmatched: forward never passes a near miss of a route path to the upstream', async (t) => {
  const { up, gw } = await passThroughGateway(t);
  const sig = await sign(GH, FORGED);
  for (const path of NEAR_MISSES) {
    const answer = await raw(gw.url, rawPost(path, FORGED, { 'x-hub-signature-256': sig }));
    const r = parseRaw(answer);
    t.equal(r.status, 404, `${path}: 404`);
    t.equal(r.headers['hookgate-outcome'], 'no_route', `${path}: no_route`);
    t.equal(JSON.parse(r.body || '{}').error, 'no_route', `${path}: JSON error`);
    t.notMatch(r.body, new RegExp(GH), 'no secret in the answer');
  }
  t.same(up.received.map((r) => r.url), [], 'the upstream saw none of them');
});

t.test('pass-through keeps serving the app\'s other paths, answer and body relayed', async (t) => {
  const { up, gw } = await passThroughGateway(t);
  const get = await request(`${gw.url}/other/page?x=1`);
  t.equal(get.statusCode, 200);
  t.equal(get.headers['hookgate-outcome'], 'forwarded');
  t.equal(get.headers['x-app'], 'yes');
  t.equal(await get.body.text(), 'app saw GET /other/page?x=1 ');
  const post = await request(`${gw.url}/other/page?x=1`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=%20' });
  t.equal(post.statusCode, 200);
  t.equal(post.headers['hookgate-outcome'], 'forwarded');
  t.equal(await post.body.text(), 'app saw POST /other/page?x=1 a=1&b=%20');
  t.equal(up.received.at(-1)!.body.toString(), 'a=1&b=%20');
  // Methods Fastify reads no body for keep theirs.
  for (const method of ['GET', 'PROPFIND']) {
    const r = parseRaw(await raw(gw.url, `${method} /dav/x HTTP/1.1\r\nHost: app\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello`));
    t.equal(r.status, 200, `${method} with a body`);
    t.equal(r.body, `app saw ${method} /dav/x hello`, `${method}'s body relayed`);
  }
  // Paths that only look odd, far from every route, still pass.
  const odd = await request(`${gw.url}/webhooks/gitlab`, { method: 'POST', body: '{}' });
  t.equal(odd.statusCode, 200, 'another path under the same prefix is the app\'s');
  await odd.body.dump();
});

t.test('pass-through sends the upstream the very path it checked, byte for byte', async (t) => {
  const { up, gw } = await passThroughGateway(t);
  for (const target of ['/other/./page?x=1', '/other/%2E%2E/x', '/other//page', '/a/b/../c?q=%2F']) {
    const r = parseRaw(await raw(gw.url, `GET ${target} HTTP/1.1\r\nHost: app.example.com\r\nconnection: close\r\n\r\n`));
    t.equal(r.status, 200, `${target} passes`);
    t.equal(up.received.at(-1)!.url, target, `${target} arrives as sent`);
  }
});

// ── class 2: pass-through applies the body limit, the per-address limit, the X-Forwarded rules ─────
t.test('pass-through applies bodyLimit', async (t) => {
  // A route's larger limit is the route's alone.
  const routes = [{ ...ROUTES[0], bodyLimit: '64kb' }, ...ROUTES.slice(1)];
  const { up, gw } = await passThroughGateway(t, { bodyLimit: '1kb', routes });
  const big = 'x'.repeat(4096);
  const res = await request(`${gw.url}/other/upload`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: big });
  t.equal(res.statusCode, 413);
  t.equal(res.headers['hookgate-outcome'], 'body_too_large');
  t.equal((await res.body.json() as { error: string }).error, 'body_too_large');
  const chunked = parseRaw(await raw(gw.url, `POST /other/upload HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n1000\r\n${big}\r\n0\r\n\r\n`));
  t.equal(chunked.status, 413, 'chunked too');
  t.equal(chunked.headers['hookgate-outcome'], 'body_too_large');
  const get = parseRaw(await raw(gw.url, `GET /other/q HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n1000\r\n${big}\r\n0\r\n\r\n`));
  t.equal(get.status, 413, 'a GET with a body too');
  t.equal(get.headers['hookgate-outcome'], 'body_too_large');
  t.equal(up.received.length, 0, 'the upstream received nothing');
  const routed = await request(`${gw.url}/webhooks/github`, { method: 'POST', headers: { 'x-hub-signature-256': await sign(GH, big) }, body: big });
  t.equal(routed.statusCode, 200, 'the route with a larger bodyLimit takes the same body');
  await routed.body.dump();
});

t.test('pass-through takes bodies up to the top-level bodyLimit, whatever the routes set', async (t) => {
  const routes = ROUTES.map((r) => ({ ...r, bodyLimit: '1kb' }));
  const { up, gw } = await passThroughGateway(t, { bodyLimit: '64kb', routes });
  const big = 'y'.repeat(8192);
  const res = await request(`${gw.url}/other/upload`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: big });
  t.equal(res.statusCode, 200);
  await res.body.dump();
  t.equal(up.received.at(-1)!.body.length, big.length, 'the whole body reached the upstream');
});

t.test('pass-through applies the per-address unverified limit', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const lg = await startLimitedGateway(testConfig({ upstream: { url: up.url, unmatched: 'forward' }, limits: { unverified: '2/m' }, routes: ROUTES }, ENV));
  t.teardown(() => lg.close());
  const statuses: number[] = [];
  let last;
  for (let i = 0; i < 4; i++) {
    last = await request(`${lg.gw.url}/other/page`, { method: 'POST', body: 'x' });
    statuses.push(last.statusCode);
    if (last.statusCode !== 429) await last.body.dump();
  }
  t.same(statuses, [200, 200, 429, 429]);
  t.equal(last!.headers['hookgate-outcome'], 'rate_limited');
  t.ok(last!.headers['retry-after'], 'Retry-After');
  t.equal((await last!.body.json() as { error: string }).error, 'rate_limited');
  t.equal(up.received.length, 2, 'the upstream saw only the requests within the limit');
});

t.test('pass-through replaces the caller\'s X-Forwarded-*, drops Forwarded and hookgate-* (routes too)', async (t) => {
  const { up, gw } = await passThroughGateway(t);
  const spoof = { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', forwarded: 'for=6.6.6.6;proto=https;host=evil.example', 'hookgate-tenant': 'evil', 'hookgate-idempotency-key': 'k' };
  const res = await request(`${gw.url}/other/page`, { method: 'POST', headers: { ...spoof, host: 'app.example.com' }, body: 'x' });
  t.equal(res.statusCode, 200);
  await res.body.dump();
  let got = up.received.at(-1)!;
  t.equal(got.headers['x-forwarded-for'], '127.0.0.1', 'the peer, not the caller\'s claim');
  t.equal(got.headers['x-forwarded-host'], 'app.example.com');
  t.equal(got.headers['x-forwarded-proto'], 'http');
  t.equal(got.headers.forwarded, undefined, 'Forwarded from the caller is dropped');
  t.equal(got.headers['hookgate-tenant'], undefined);
  t.equal(got.headers['hookgate-idempotency-key'], undefined);
  t.equal(got.headers.host, 'app.example.com');

  const body = '{"zen":"route"}';
  const routed = await request(`${gw.url}/webhooks/github`, { method: 'POST', headers: { ...spoof, 'x-hub-signature-256': await sign(GH, body) }, body });
  t.equal(routed.statusCode, 200);
  await routed.body.dump();
  got = up.received.at(-1)!;
  t.equal(got.url, '/webhooks/github');
  t.equal(got.headers.forwarded, undefined, 'a route drops Forwarded too');
  t.equal(got.headers['x-forwarded-for'], '127.0.0.1');
  t.equal(got.headers['hookgate-tenant'], 'acme');
});

// ── class 3: the upstream path of a routed delivery is the route's, never the raw request target ──
t.test('a parameter that is a dot segment or hides a slash is refused before verification', async (t) => {
  const { up, gw } = await passThroughGateway(t);
  // Signed with the right secret: only the path is wrong. Sent raw, since an HTTP client resolves dot segments.
  const sig = await sign(ACME, FORGED);
  for (const path of ['/p/acme/..%2F..%2Fadmin%2Fdelete', '/p/acme/..', '/p/acme/.', '/p/%2e%2e/github', '/p/acme/%2E', '/p/acme/%2e%2E', '/p/acme/a%5Cb', '/p/acme/a%00b', '/p/acme/x%252Fy', '/p/acme/x%255cy']) {
    const r = parseRaw(await raw(gw.url, rawPost(path, FORGED, { 'x-hub-signature-256': sig })));
    t.equal(r.status, 400, `${path}: 400`);
    t.equal(r.headers['hookgate-outcome'], 'malformed', `${path}: malformed`);
    t.equal(JSON.parse(r.body).error, 'malformed');
  }
  t.same(up.received.map((r) => r.url), [], 'the upstream saw none of them');
});

t.test('the upstream path is the route\'s path with its parameters, or its forwardTo; the query as received', async (t) => {
  const { up, gw } = await passThroughGateway(t);
  // one body a case: the gateway runs with its ledger, and a repeated body on one route is a duplicate
  const cases: [string, string, string][] = [
    ['/p/ac%6De/%67ithub?b=%2F&a=1', ACME, '/p/acme/github?b=%2F&a=1'],
    ['/p/acme/push%20event', ACME, '/p/acme/push%20event'],
    ['/webhooks/%67ithub', GH, '/webhooks/github'],
    ['/webhooks/github?Signature=x%3D&z', GH, '/webhooks/github?Signature=x%3D&z'],
    ['/hooks/in?x=1', GH, '/legacy/github/hook/?x=1'],
  ];
  for (const [target, secret, expected] of cases) {
    const body = JSON.stringify({ zen: 'canonical', target });
    const res = await request(`${gw.url}${target}`, { method: 'POST', headers: { 'x-hub-signature-256': await sign(secret, body) }, body });
    t.equal(res.statusCode, 200, `${target} forwarded`);
    await res.body.dump();
    t.equal(up.received.at(-1)!.url, expected, `${target} reaches the upstream as ${expected}`);
  }
});

t.test('fragments, absolute-form targets and climbing paths are refused, on routes and on pass-through', async (t) => {
  const { up, gw } = await passThroughGateway(t);
  const body = '{"zen":"fragment"}';
  const sig = await sign(GH, body);
  await refusedRaw(t, up, await raw(gw.url, rawPost('/webhooks/github#x', body, { 'x-hub-signature-256': sig })), 400, 'malformed');
  await refusedRaw(t, up, await raw(gw.url, rawPost('http://evil.example/webhooks/github', body, { 'x-hub-signature-256': sig })), 400, 'malformed');
  await refusedRaw(t, up, await raw(gw.url, rawPost('http://evil.example/p/acme/github', body, { 'x-hub-signature-256': await sign(ACME, body) })), 400, 'malformed');
  await refusedRaw(t, up, await raw(gw.url, rawPost('/other/page#frag', 'x')), 400, 'malformed');
  await refusedRaw(t, up, await raw(gw.url, rawPost('http://evil.example/other/page', 'x')), 400, 'malformed');
  await refusedRaw(t, up, await raw(gw.url, 'OPTIONS * HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n'), 400, 'malformed');
  // A pass-through whose `..` climbs above the root would leave upstream.url's path.
  await refusedRaw(t, up, await raw(gw.url, 'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n'), 400, 'malformed');
  await refusedRaw(t, up, await raw(gw.url, 'GET /a/%2e%2e/%2E%2E/admin HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n'), 400, 'malformed');
});

// ── class 4: a doubled Host ────────────────────────────────────────────────────────────────────────
t.test('a duplicated Host header is malformed, on a route and on pass-through', async (t) => {
  const { up, gw } = await passThroughGateway(t);
  const body = '{"zen":"two hosts"}';
  const sig = await sign(GH, body);
  await refusedRaw(t, up, await raw(gw.url, rawPost('/webhooks/github', body, { 'x-hub-signature-256': sig, Host: 'evil.example' })), 400, 'malformed');
  await refusedRaw(t, up, await raw(gw.url, rawPost('/other/page', body, { host: 'evil.example' })), 400, 'malformed');
  // The genuine delivery afterwards is forwarded: the refusal took no claim.
  const ok = parseRaw(await raw(gw.url, rawPost('/webhooks/github', body, { 'x-hub-signature-256': sig })));
  t.equal(ok.status, 200);
  t.equal(up.received.length, 1);
});

// ── class 5: an undecodable path gets hookgate's own answer ────────────────────────────────────────
t.test('an undecodable path or an over-long parameter is hookgate\'s malformed, in reject and forward modes', async (t) => {
  for (const unmatched of ['reject', 'forward']) {
    const up = await startUpstream();
    t.teardown(() => up.close());
    const gw = await startTestGateway(testConfig({ upstream: { url: up.url, unmatched }, routes: ROUTES }, ENV));
    t.teardown(() => gw.close());
    for (const path of ['/webhooks/%zz', '/p/%zz/github', '/other/%E0%A4%A', `/p/${'a'.repeat(300)}/github`]) {
      const res = await request(`${gw.url}${path}`, { method: 'POST', body: '{}' });
      t.equal(res.statusCode, 400, `${unmatched} ${path}: 400`);
      t.equal(res.headers['hookgate-outcome'], 'malformed', `${unmatched} ${path}: hookgate-outcome`);
      const json = await res.body.json() as { error: string; message: string };
      t.equal(json.error, 'malformed');
      t.type(json.message, 'string');
    }
    t.equal(up.received.length, 0);
    const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text();
    t.match(metrics, /hookgate_requests_total\{route="unmatched",provider="none",tenant="none",outcome="malformed"\} 4/, 'counted');
  }
});
