// The heart of the product: across three replicas sharing one ledger, concurrent and replayed
// duplicates reach the upstream once; a failed delivery is forwarded again on retry; a claim whose
// gateway was killed is taken over after the lease. The same suite runs on PostgreSQL (SERIALIZABLE)
// and on the embedded ledger (a file shared by the replicas, and the in-memory Map engine).
import t, { type Test } from 'tap';
import { request } from 'undici';
import { Webhook } from 'standardwebhooks';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { embeddedCluster, mapCluster, pgCluster, sleep, type LedgerCluster } from '../helpers/ledger-backends.js';
import { requirePostgres } from '../helpers/services.js';

const SECRET = 'whsec_' + Buffer.from('exactly-once-secret-0123456789ab').toString('base64');
const wh = new Webhook(SECRET);

function delivery(id: string, body = JSON.stringify({ id, type: 'invoice.paid', pad: 'x'.repeat(100) })) {
  const ts = new Date();
  return { body, headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)), 'webhook-signature': wh.sign(id, ts, body) } };
}

async function send(gw: TestGateway, id: string) {
  const d = delivery(id);
  const res = await request(`${gw.url}/hooks`, { method: 'POST', headers: d.headers, body: d.body });
  const text = await res.body.text();
  return { status: res.statusCode, outcome: res.headers['hookgate-outcome'] as string, retryAfter: res.headers['retry-after'] as string | undefined, text };
}

/** What a provider does: retry on anything but 2xx/4xx, a bounded number of times. */
async function deliverLikeAProvider(gws: TestGateway[], id: string, start: number) {
  for (let attempt = 0; attempt < 40; attempt++) {
    const r = await send(gws[(start + attempt) % gws.length]!, id);
    if (r.status < 300 || (r.status >= 400 && r.status < 500 && r.status !== 409 && r.status !== 429)) return r;
    await sleep(20);
  }
  throw new Error(`delivery ${id} never settled`);
}

/** The ledger key of an event, as the gateway forwarded it (hookgate-idempotency-key): never rebuilt here. */
function keyOf(up: Upstream, id: string): string {
  const key = up.received.find((r) => r.headers['webhook-id'] === id)?.headers['hookgate-idempotency-key'];
  if (typeof key !== 'string') throw new Error(`${id} never reached the upstream with a key`);
  return key;
}

function countById(up: Upstream): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of up.received) {
    const id = r.headers['webhook-id'] as string;
    m.set(id, (m.get(id) ?? 0) + 1);
  }
  return m;
}

async function suite(t: Test, makeCluster: () => Promise<LedgerCluster>) {
  const cluster = await makeCluster();
  t.teardown(() => cluster.close());
  const failOnce = new Set<string>();
  /** ids the upstream holds until the test lets them go */
  const held = new Map<string, Promise<void>>();
  const up = await startUpstream(async (r, res) => {
    const id = r.headers['webhook-id'] as string;
    await sleep(15); // long enough for duplicates to meet a claim in flight
    await held.get(id);
    if (failOnce.delete(id)) {
      res.statusCode = 500;
      return void res.end('boom');
    }
    res.statusCode = 202;
    res.end(`accepted ${id}`);
  });
  t.teardown(() => up.close());
  // Hundreds of deliveries a second from one address: limits far above that, or the limiter (as
  // `hookgate run` builds it) would answer 429 and this would test the provider's patience.
  const config = testConfig({ upstream: { url: up.url }, ledger: { lease: '5s' }, limits: { unverified: '1000000/m', tenants: { '*': '1000000/m' } }, routes: [{ path: '/hooks', provider: 'standard', tenant: 'acme', secrets: ['env:S'] }] }, { S: SECRET });
  const gws: TestGateway[] = [];
  for (let i = 0; i < 3; i++) {
    const gw = await startTestGateway(config, { ledger: await cluster.replica({ leaseMs: 5_000 }) });
    gws.push(gw);
  }
  t.teardown(async () => {
    for (const gw of gws) await gw.close();
  });

  t.test(`${cluster.name}: hundreds of concurrent duplicates reach the upstream once each`, async (t) => {
    const events = Array.from({ length: 60 }, (_, i) => `msg_conc_${i}_${Math.random().toString(36).slice(2)}`);
    const copies = 6; // 360 deliveries, every event sent 6 times at once across 3 replicas
    const results = await Promise.all(events.flatMap((id) => Array.from({ length: copies }, (_, c) => deliverLikeAProvider(gws, id, c))));
    const counts = countById(up);
    for (const id of events) t.equal(counts.get(id), 1, `${id} reached the upstream once`);
    t.equal(results.filter((r) => r.outcome === 'forwarded').length, events.length, 'one forwarded answer per event');
    const dups = results.filter((r) => r.outcome === 'duplicate');
    t.equal(dups.length, events.length * (copies - 1), 'every other copy was answered as a duplicate');
    t.ok(dups.every((r) => r.status === 202 && r.text === '{"duplicate":true}'), 'duplicates carry the first status and {"duplicate":true}');
    for (const id of events.slice(0, 3)) {
      const row = await cluster.row(keyOf(up, id));
      t.equal(row?.status, 'done');
      t.equal(row?.resp_status, 202);
    }
  });

  t.test(`${cluster.name}: a duplicate while the first is in flight gets 409 with Retry-After`, async (t) => {
    const id = `msg_inflight_${Math.random().toString(36).slice(2)}`;
    let letGo!: () => void;
    held.set(id, new Promise<void>((r) => (letGo = r)));
    const first = send(gws[0]!, id);
    // The first copy is at the upstream (claimed, in flight) before the second is sent.
    for (let i = 0; i < 2000 && !up.received.some((r) => r.headers['webhook-id'] === id); i++) await sleep(5);
    const second = await send(gws[1]!, id);
    letGo();
    t.equal(second.status, 409);
    t.equal(second.outcome, 'in_flight');
    t.ok(Number(second.retryAfter) >= 1, 'Retry-After in seconds');
    t.equal((await first).outcome, 'forwarded');
    t.equal(countById(up).get(id), 1, 'the upstream saw it once');
  });

  t.test(`${cluster.name}: an upstream 500 releases the claim and the retry is forwarded`, async (t) => {
    const id = `msg_fail_${Math.random().toString(36).slice(2)}`;
    failOnce.add(id);
    const a = await send(gws[0]!, id);
    t.equal(a.status, 500, 'the upstream answer goes back');
    t.equal(a.outcome, 'forwarded');
    t.equal((await cluster.row(keyOf(up, id)))?.status, 'failed');
    const b = await send(gws[1]!, id);
    t.equal(b.status, 202, 'the retry reached the upstream');
    const attempts = up.received.filter((r) => r.headers['webhook-id'] === id).map((r) => r.headers['hookgate-attempt']);
    t.same(attempts, ['1', '2'], 'the second forward says attempt 2');
    const c = await send(gws[2]!, id);
    t.equal(c.outcome, 'duplicate');
    t.equal(countById(up).get(id), 2);
  });

  t.test(`${cluster.name}: a refused upstream connection releases the claim`, async (t) => {
    const dead = await startUpstream();
    await dead.close();
    const lonely = await startTestGateway(testConfig({ upstream: { url: dead.url }, routes: [{ path: '/hooks', provider: 'standard', tenant: 'acme', secrets: ['env:S'] }] }, { S: SECRET }), { ledger: await cluster.replica() });
    const id = `msg_refused_${Math.random().toString(36).slice(2)}`;
    const a = await send(lonely, id);
    await lonely.close();
    t.equal(a.status, 502);
    t.equal(a.outcome, 'upstream_unavailable');
    const b = await send(gws[0]!, id);
    t.equal(b.outcome, 'forwarded', 'the retry goes through elsewhere');
    t.match(await cluster.row(keyOf(up, id)), { status: 'done', attempt: 2 }, 'the refused attempt had released its claim: the retry was attempt 2');
  });
}

t.test('PostgreSQL', async (t) => {
  if (await requirePostgres(t)) await suite(t, () => pgCluster('e2e_exactly_once'));
});
t.test('embedded', (t) => suite(t, async () => embeddedCluster('file')));
// `embedded` in memory (the Map engine): three gateways in one process over one table
t.test('embedded in memory', (t) => suite(t, async () => mapCluster()));
