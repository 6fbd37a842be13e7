// Listing in pages and bulk replays through a real gateway's admin API, on the embedded file:
// `GET /spool/deliveries` pages with an opaque cursor (each delivery once while new ones arrive), and
// `POST /spool/replay` of 300 dead deliveries paced by the dispatcher while fresh deliveries arrive:
// every fresh one reaches the upstream before the replay backlog is done, the backlog survives a
// restart, and each of the 300 is delivered once.
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
import { openSpoolStore } from '../../src/spool/store/index.js';

const SECRET = 'spool-replay-secret';
const TOKEN = 'admin-token-replay-0123456789';

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

async function gateway(dir: string, upstream: string): Promise<TestGateway> {
  const config = testConfig({
    upstream: { url: upstream, timeout: '2s' },
    ledger: { url: `embedded:${join(dir, 'ledger.db')}` },
    adminToken: 'env:TOKEN',
    // 300 deliveries sent as fast as the test can: the limiter (which the test gateway runs) is not under test
    limits: { unverified: '100000/s', tenants: { '*': '100000/s' } },
    // no retries: a failed delivery is dead after its first try
    routes: [{ path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:GH'], delivery: 'spool', spool: { retry: [], concurrency: 4 } }],
  }, { GH: SECRET, TOKEN });
  const ledger = await openLedger({ url: config.ledger.url, retentionMs: config.ledger.retentionMs, leaseMs: config.ledger.leaseMs, cache: 100, migrate: true, synchronous: 'full' });
  return startTestGateway(config, { ledger, spoolPollMs: 50 });
}

async function send(gw: TestGateway, body: string): Promise<string | string[] | undefined> {
  const res = await request(`${gw.url}/gh`, { method: 'POST', headers: { 'content-type': 'application/json', 'X-Hub-Signature-256': await sign(SECRET, body) }, body });
  await res.body.dump();
  return res.headers['hookgate-outcome'];
}

/** sends bodies[i] for every i, `width` at a time; every answer must be `spooled` */
async function sendAll(gw: TestGateway, bodies: string[], width = 8): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const outcome = await send(gw, body);
      if (outcome !== 'spooled') throw new Error(`${body}: ${String(outcome)}`);
    }
  }));
}

async function admin(gw: TestGateway, method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await request(`${gw.adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : null };
}

const bodyOf = (r: { body: Buffer }) => r.body.toString();

t.test('GET /spool/deliveries: 25 deliveries 10 at a time with the cursor, each exactly once while new ones arrive', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-spool-pages-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gw = await gateway(dir, up.url);
  t.teardown(() => gw.close());
  const first = Array.from({ length: 25 }, (_, i) => JSON.stringify({ page: i }));
  await sendAll(gw, first, 5);

  const keys: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res = await admin(gw, 'GET', `/spool/deliveries?route=%2Fgh&limit=10${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    t.equal(res.status, 200);
    t.ok(res.json.deliveries.length <= 10, 'at most limit rows');
    keys.push(...(res.json.deliveries as Array<{ key: string }>).map((d) => d.key));
    cursor = res.json.nextCursor;
    pages++;
    await sendAll(gw, [JSON.stringify({ meanwhile: pages })], 1);
  } while (cursor && pages < 10);
  t.equal(pages, 3, '10 + 10 + 5');
  t.equal(keys.length, 25, 'the 25, none of those that arrived meanwhile (newer than the cursor)');
  t.equal(new Set(keys).size, 25, 'each exactly once');
  const meanwhile = new Set((await gw.spool!.store.list({ route: '/gh', limit: 1000 })).map((d) => d.key));
  t.equal(meanwhile.size, 28, '25 + the 3 that arrived between pages');
  t.ok(keys.every((k) => meanwhile.has(k)));

  const bad = await admin(gw, 'GET', '/spool/deliveries?cursor=bm90LWEtY3Vyc29y');
  t.equal(bad.status, 400, 'a made-up cursor is refused');
  t.match(bad.json.message, /^cursor: /, 'naming the field');
});

t.test('POST /spool/replay: 300 dead deliveries replayed in paced chunks while fresh ones arrive; fresh first; survives a restart; each once', async (t) => {
  let status = 500;
  const up = await startUpstream((_r, res) => void ((res.statusCode = status), res.end()));
  t.teardown(() => up.close());
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-spool-bulk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let gw = await gateway(dir, up.url);

  const deadBodies = Array.from({ length: 300 }, (_, i) => JSON.stringify({ dead: i }));
  await sendAll(gw, deadBodies);
  await until('300 dead', async () => (await gw.spool!.store.list({ state: 'dead', limit: 1000 })).length === 300);
  t.equal(up.received.length, 300, 'one try each, then dead');

  status = 200;
  const dry = await admin(gw, 'POST', '/spool/replay', { state: 'dead', dryRun: true });
  t.same(dry.json, { count: 300, dryRun: true }, 'dry run: the count');
  await sleep(200);
  t.equal((await gw.spool!.store.list({ state: 'dead', limit: 1000 })).length, 300, 'dry run: nothing changed');
  t.equal(up.received.length, 300, 'dry run: nothing delivered');
  t.equal((await admin(gw, 'POST', '/spool/replay', { state: 'dead', perSecond: 0 })).status, 400, 'perSecond is checked');

  const base = up.received.length;
  const replayed = () => up.received.slice(base).filter((r) => r.headers['hookgate-delivery'] === 'replay');
  // 300 at 30 a second: about ten seconds of backlog
  t.same((await admin(gw, 'POST', '/spool/replay', { state: 'dead', perSecond: 30 })).json, { count: 300, dryRun: false });
  await until('the replay has begun', () => replayed().length >= 30);

  const fresh = Array.from({ length: 20 }, (_, i) => JSON.stringify({ fresh: i }));
  await sendAll(gw, fresh, 4);
  const freshSet = new Set(fresh);
  await until('every fresh delivery delivered', () => up.received.slice(base).filter((r) => freshSet.has(bodyOf(r))).length === 20);

  // A restart mid-backlog: the pace is in the rows, so the rest is delivered by the next gateway.
  await gw.close();
  const store = await openSpoolStore({ url: `embedded:${join(dir, 'ledger.db')}` });
  const left = (await store.list({ state: 'pending', limit: 1000 })).length;
  await store.close();
  t.ok(left > 0, `the backlog outlives the gateway (${left} pending at the restart)`);
  gw = await gateway(dir, up.url);
  t.teardown(() => gw.close());
  await until('all 300 replayed', () => replayed().length >= 300);
  await until('all settled', async () => (await gw.spool!.store.list({ state: 'delivered', limit: 1000 })).length === 320);

  const after = up.received.slice(base);
  const replayBodies = replayed().map(bodyOf);
  t.equal(replayBodies.length, 300, 'the 300 replays, no more');
  t.equal(new Set(replayBodies).size, 300, 'each dead delivery delivered once');
  t.same([...replayBodies].sort(), [...deadBodies].sort(), 'the 300 that were dead');
  const freshIdx = after.map((r, i) => (freshSet.has(bodyOf(r)) ? i : -1)).filter((i) => i >= 0);
  t.equal(freshIdx.length, 20, 'each fresh delivery once');
  const lastReplay = after.map((r) => r.headers['hookgate-delivery']).lastIndexOf('replay');
  t.ok(Math.max(...freshIdx) < lastReplay, 'every fresh delivery reached the upstream before the replay backlog was done');
  t.ok(after.filter((r) => freshSet.has(bodyOf(r))).every((r) => r.headers['hookgate-delivery'] !== 'replay'), 'fresh ones are first tries');
});
