// The spool's admin API on the admin listener, pause/resume across a restart, and the spool metrics:
// through a real gateway, over HTTP, on the embedded file.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { sign } from '@octokit/webhooks-methods';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { sleep } from '../helpers/ledger-backends.js';
import { openLedger } from '../../src/ledger/index.js';

const SECRET = 'spool-admin-secret';
const TOKEN = 'admin-token-0123456789abcdef';

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

async function gateway(dir: string, upstream: string, extra: Record<string, unknown> = {}): Promise<TestGateway> {
  const config = testConfig({
    upstream: { url: upstream, timeout: '2s' },
    ledger: { url: `embedded:${join(dir, 'ledger.db')}` },
    adminToken: 'env:TOKEN',
    ...extra,
    routes: [{ path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:GH'], delivery: 'spool', spool: { retry: ['50ms'] } }],
  }, { GH: SECRET, TOKEN });
  const ledger = await openLedger({ url: config.ledger.url, retentionMs: config.ledger.retentionMs, leaseMs: config.ledger.leaseMs, cache: 100, migrate: true, synchronous: 'full' });
  const gw = await startTestGateway(config, { ledger, spoolPollMs: 50 });
  return gw;
}

async function send(gw: TestGateway, body: string) {
  const res = await request(`${gw.url}/gh`, { method: 'POST', headers: { 'content-type': 'application/json', 'X-Hub-Signature-256': await sign(SECRET, body) }, body });
  await res.body.dump();
  return res.headers['hookgate-outcome'];
}

async function admin(gw: TestGateway, method: 'GET' | 'POST', path: string, body?: unknown, token: string | null = TOKEN) {
  const res = await request(`${gw.adminUrl}${path}`, {
    method,
    headers: { ...(token !== null ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : null, text };
}

t.test('admin API: token required, dead deliveries listed, shown redacted, replayed and cancelled', async (t) => {
  let status = 500;
  const up = await startUpstream((_r, res) => void ((res.statusCode = status), res.end()));
  t.teardown(() => up.close());
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-spool-admin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gw = await gateway(dir, up.url);
  t.teardown(() => gw.close());

  t.equal(await send(gw, '{"dead":1}'), 'spooled');
  t.equal(await send(gw, '{"dead":2}'), 'spooled');
  await until('both dead', async () => (await gw.spool!.store.list({ state: 'dead' })).length === 2);

  t.equal((await admin(gw, 'GET', '/spool/deliveries?state=dead', undefined, null)).status, 401, 'no token: 401');
  t.equal((await admin(gw, 'GET', '/spool/deliveries?state=dead', undefined, 'wrong-token-0123456789')).status, 401, 'wrong token: 401');
  t.equal((await admin(gw, 'GET', '/spool/stats', undefined, null)).status, 401);
  const list = await admin(gw, 'GET', '/spool/deliveries?state=dead');
  t.equal(list.status, 200);
  t.equal(list.json.deliveries.length, 2);
  t.match(list.json.deliveries[0], { route: '/gh', tenant: 'acme', state: 'dead', attempts: 2, lastStatus: 500 });
  t.equal((await admin(gw, 'GET', '/spool/deliveries?state=nonsense')).status, 400);

  const [one, two] = list.json.deliveries as Array<{ id: string }>;
  const shown = await admin(gw, 'GET', `/spool/deliveries/${one!.id}?body=1`);
  t.equal(shown.status, 200);
  const headers = shown.json.request.headers as string[];
  t.equal(headers[headers.indexOf('X-Hub-Signature-256') + 1], '[redacted]', 'the signature header is redacted');
  t.notMatch(shown.text, /sha256=/, 'no signature anywhere in the answer');
  t.notMatch(shown.text, new RegExp(SECRET), 'never the secret');
  t.ok(['{"dead":1}', '{"dead":2}'].includes(Buffer.from(shown.json.request.body, 'base64').toString()), 'the body, base64');
  t.equal((await admin(gw, 'GET', `/spool/deliveries/${one!.id}`)).json.request, undefined, 'no body without ?body=1');
  t.equal((await admin(gw, 'GET', `/spool/deliveries/${'0'.repeat(64)}`)).status, 404);

  const stats = await admin(gw, 'GET', '/spool/stats');
  t.same(stats.json.counts, [{ route: '/gh', tenant: 'acme', state: 'dead', n: 2 }]);

  t.same((await admin(gw, 'POST', `/spool/deliveries/${two!.id}/cancel`)).json, { cancelled: true });
  t.equal((await admin(gw, 'POST', `/spool/deliveries/${two!.id}/cancel`)).status, 409, 'a cancelled delivery cannot be cancelled again');

  status = 200;
  const before = up.received.length;
  t.same((await admin(gw, 'POST', `/spool/deliveries/${one!.id}/replay`)).json, { replayed: true });
  await until('replayed', () => up.received.length === before + 1);
  const replayed = up.received.at(-1)!;
  t.equal(replayed.headers['hookgate-delivery'], 'replay');
  t.equal(replayed.headers['hookgate-attempt'], '1', 'a replay starts a new round of attempts');
  await until('delivered', async () => (await gw.spool!.store.byId(one!.id, false))?.state === 'delivered');

  // bulk: the cancelled one, by filter; dry run first
  t.same((await admin(gw, 'POST', '/spool/replay', { state: 'cancelled', dryRun: true })).json, { count: 1, dryRun: true });
  t.same((await admin(gw, 'POST', '/spool/replay', { state: 'cancelled' })).json, { count: 1, dryRun: false });
  await until('bulk replayed', () => up.received.length === before + 2);

  const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text();
  t.match(metrics, /hookgate_spool_dispatches_total\{route="\/gh",result="failed"\} 4/);
  t.match(metrics, /hookgate_spool_dispatches_total\{route="\/gh",result="delivered"\} 2/);
  t.match(metrics, /hookgate_spool_dead_total\{route="\/gh"\} 2/);
  t.match(metrics, /hookgate_spool_depth\{route="\/gh",tenant="acme",state="delivered"\} 2/);
  t.match(metrics, /hookgate_requests_total\{route="\/gh",provider="github",tenant="acme",outcome="spooled"\} 2/);
});

t.test('without adminToken the spool endpoints answer 404', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-spool-admin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = testConfig({ upstream: { url: up.url }, ledger: { url: `embedded:${join(dir, 'l.db')}` }, routes: [{ path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:GH'], delivery: 'spool' }] }, { GH: SECRET });
  const ledger = await openLedger({ url: config.ledger.url, retentionMs: config.ledger.retentionMs, leaseMs: config.ledger.leaseMs, cache: 100, migrate: true });
  const gw = await startTestGateway(config, { ledger });
  t.teardown(() => gw.close());
  for (const path of ['/spool/stats', '/spool/deliveries']) {
    t.equal((await admin(gw, 'GET', path)).status, 404, `${path} with a token`);
    t.equal((await admin(gw, 'GET', path, undefined, null)).status, 404, `${path} without one`);
  }
  t.equal((await admin(gw, 'POST', '/spool/pause', { route: '/gh' })).status, 404);
});

t.test('pause: nothing reaches the upstream while paused, across a restart; all after resume', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-spool-pause-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let gw = await gateway(dir, up.url);
  t.equal((await admin(gw, 'POST', '/spool/pause', { route: '/nope' })).status, 400, 'only a configured spool route');
  t.same((await admin(gw, 'POST', '/spool/pause', { route: '/gh' })).json, { route: '/gh', tenant: '*', paused: true });
  for (let i = 0; i < 5; i++) t.equal(await send(gw, JSON.stringify({ paused: i })), 'spooled', 'accepting goes on while paused');
  await sleep(400);
  t.equal(up.received.length, 0, 'nothing delivered while paused');
  await gw.close();

  gw = await gateway(dir, up.url);
  t.teardown(() => gw.close());
  await sleep(400);
  t.equal(up.received.length, 0, 'still paused after a restart');
  t.same((await admin(gw, 'GET', '/spool/stats')).json.paused, [{ route: '/gh', tenant: '*' }]);
  t.same((await admin(gw, 'POST', '/spool/resume', { route: '/gh' })).json, { route: '/gh', tenant: '*', paused: false });
  await until('all delivered after resume', () => up.received.length === 5);
});
