// The database down while deliveries arrive at a spool route: 503 ledger_unavailable with
// Retry-After, never a 2xx; once it is back, every delivery that was answered 2xx reaches the
// upstream (and the refused ones, sent again as a provider would, too). A claim or accept whose
// answer was lost with the database is delivered when it answers again, not a lease later. Needs PostgreSQL.
import t, { type Test } from 'tap';
import pg from 'pg';
import { request } from 'undici';
import { sign } from '@octokit/webhooks-methods';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { schemaName, sleep } from '../helpers/ledger-backends.js';
import { requirePostgres } from '../helpers/services.js';
import { openLedger } from '../../src/ledger/index.js';
import type { Upstream } from '../helpers/upstream.js';

const SECRET = 'spool-db-down-secret';
const pgUrl = await requirePostgres(t);
if (pgUrl) {
  const tgt = { url: pgUrl };
  t.test('database down: 503 with Retry-After, never 2xx; afterwards every 2xx is delivered', async (t) => {
    const u = new URL(tgt.url);
    const proxy = await FaultProxy.start({ host: u.hostname, port: Number(u.port || 5432) });
    t.teardown(() => proxy.close());
    const schema = schemaName('spool_dbdown');
    t.teardown(async () => {
      const c = new pg.Client({ connectionString: tgt.url });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    });
    const up = await startUpstream();
    t.teardown(() => up.close());
    const url = proxy.url(tgt.url);
    const config = testConfig({ upstream: { url: up.url }, ledger: { url, schema }, routes: [{ path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:GH'], delivery: 'spool' }] }, { GH: SECRET });
    const ledger = await openLedger({ url, schema, retentionMs: config.ledger.retentionMs, leaseMs: config.ledger.leaseMs, cache: 0, migrate: true, retryBudgetMs: 500 });
    const gw = await startTestGateway(config, { ledger, spoolPollMs: 100 });
    t.teardown(() => gw.close());

    const send = async (i: number) => {
      const body = JSON.stringify({ n: i });
      const res = await request(`${gw.url}/gh`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': await sign(SECRET, body) }, body });
      await res.body.dump();
      return { body, status: res.statusCode, outcome: res.headers['hookgate-outcome'], retryAfter: res.headers['retry-after'] };
    };
    const answered: Array<Awaited<ReturnType<typeof send>>> = [];
    for (let i = 0; i < 5; i++) answered.push(await send(i));
    await proxy.down('refuse');
    for (let i = 5; i < 10; i++) answered.push(await send(i));
    await proxy.up();
    for (let i = 10; i < 15; i++) answered.push(await send(i));

    const during = answered.slice(5, 10);
    t.ok(during.every((a) => a.status === 503 && a.outcome === 'ledger_unavailable' && Number(a.retryAfter) >= 1), 'while down: 503 ledger_unavailable with Retry-After, never a 2xx');
    // The provider retries what was refused.
    for (const a of during) {
      for (let k = 0; k < 50; k++) {
        const again = await send(JSON.parse(a.body).n);
        if (again.status === 200) break;
        await sleep(100);
      }
    }
    const end = Date.now() + 20_000;
    while (up.received.length < 15 && Date.now() < end) await sleep(25);
    const got = up.received.map((r) => r.body.toString()).sort();
    t.same(got, Array.from({ length: 15 }, (_, i) => JSON.stringify({ n: i })).sort(), 'every delivery answered 2xx reached the upstream, once');
  });

  // The lease of a dispatch is upstream.timeout + min(15 s, timeout): with 60 s, 75 s. Each case below
  // loses the answer of a statement that landed (the connection cut after commit, and the read-back
  // failing until the budget is spent), so the row is `delivering` under a token the replica was
  // never told it holds. Before the fix it waited out that lease; now it is delivered once the
  // database answers, well inside it.
  const LEASE_WAIT_MS = 30_000;
  const lostAnswer = async (t: Test, tag: string, respond?: Upstream['respond']) => {
    const u = new URL(tgt.url);
    const proxy = await FaultProxy.start({ host: u.hostname, port: Number(u.port || 5432) });
    t.teardown(() => proxy.close());
    const schema = schemaName(tag);
    t.teardown(async () => {
      const c = new pg.Client({ connectionString: tgt.url });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    });
    const up = await startUpstream(respond);
    t.teardown(() => up.close());
    const url = proxy.url(tgt.url);
    const config = testConfig({ upstream: { url: up.url, timeout: '60s' }, ledger: { url, schema }, routes: [{ path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:GH'], delivery: 'spool', spool: { concurrency: 1 } }] }, { GH: SECRET });
    const ledger = await openLedger({ url: tgt.url, schema, retentionMs: config.ledger.retentionMs, leaseMs: config.ledger.leaseMs, cache: 0, migrate: true });
    const gw = await startTestGateway(config, { ledger, spoolPollMs: 100 });
    t.teardown(() => gw.close());
    const send = async (n: number) => {
      const body = JSON.stringify({ n });
      const res = await request(`${gw.url}/gh`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': await sign(SECRET, body) }, body });
      await res.body.dump();
      return { status: res.statusCode, outcome: res.headers['hookgate-outcome'] };
    };
    const delivered = async (n: number) => {
      const end = Date.now() + LEASE_WAIT_MS;
      const want = JSON.stringify({ n });
      while (Date.now() < end && !up.received.some((r) => r.body.toString() === want)) await sleep(25);
      return up.received.filter((r) => r.body.toString() === want).length;
    };
    const states = async () => {
      const c = new pg.Client({ connectionString: tgt.url });
      await c.connect();
      try {
        return (await c.query(`SELECT state FROM "${schema}".hookgate_spool`)).rows.map((r: { state: string }) => r.state);
      } finally {
        await c.end();
      }
    };
    return { proxy, up, gw, send, delivered, states };
  };

  t.test('an accept whose answer was lost is delivered when the database answers, without the provider sending it again', async (t) => {
    // One delivery first, so that the start's poll is over: the accept below then almost always takes
    // the route's one free slot (stored `delivering` under its token, the case whose lost answer cost a
    // lease); when a poll happens to hold the slot, it is stored pending and a poll delivers it.
    const { proxy, send, delivered, states } = await lostAnswer(t, 'spool_lost_accept');
    t.match(await send(0), { status: 200, outcome: 'spooled' });
    t.equal(await delivered(0), 1);
    while ((await states()).some((s) => s !== 'delivered')) await sleep(10);
    const lookups = proxy.addRule({ match: 'hookgate:spool_accept_lookup_batch */', times: 1_000_000, action: { kind: 'error', code: '40001' } });
    const cut = proxy.addRule({ match: 'hookgate:spool_accept_claim_batch */', action: { kind: 'cut-after' } });
    const a = await send(1);
    t.equal(cut.fired, 1, 'the accept committed and its answer was cut');
    t.ok(lookups.fired >= 1, 'the read-back failed');
    t.match(a, { status: 503, outcome: 'ledger_unavailable' }, 'the provider was told to retry');
    proxy.clearRules();
    t.equal(await delivered(1), 1, 'delivered once, without a retry by the provider and before the lease ran out');
  });

  t.test('a claim whose answer was lost is delivered when the database answers', async (t) => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const { proxy, send, delivered, up, gw } = await lostAnswer(t, 'spool_lost_claim', async (r, res) => {
      if (r.body.toString() === JSON.stringify({ n: 1 })) await held;
      res.end('ok');
    });
    t.teardown(() => release());
    t.match(await send(1), { status: 200, outcome: 'spooled' }, 'the first delivery holds the one slot');
    while (!up.received.length) await sleep(10);
    t.match(await send(2), { status: 200, outcome: 'spooled' }, 'the second is stored pending');
    const lookups = proxy.addRule({ match: 'hookgate:spool_claim_lookup */', times: 1_000_000, action: { kind: 'error', code: '40001' } });
    const cut = proxy.addRule({ match: 'hookgate:spool_claim */', action: { kind: 'cut-after' } });
    release();
    const end = Date.now() + 10_000;
    while (!(cut.fired && lookups.fired) && Date.now() < end) await sleep(10);
    t.equal(cut.fired, 1, 'the claim of the second committed and its answer was cut');
    // the read-back fails until the store's retry budget is spent, and the poll gives up
    while (!gw.logs.some((l) => l.msg === 'spool: polling for due deliveries failed; will try again') && Date.now() < end) await sleep(10);
    proxy.clearRules();
    t.equal(await delivered(2), 1, 'delivered once, before the lease ran out');
  });

  t.test('a dispatch end not written while the database is away is written when it answers (not delivered again after the lease)', async (t) => {
    const { proxy, send, delivered, gw, states } = await lostAnswer(t, 'spool_lost_settle');
    const settles = proxy.addRule({ match: 'hookgate:spool_settle */', times: 1_000_000, action: { kind: 'error', code: '40001' } });
    t.match(await send(1), { status: 200, outcome: 'spooled' });
    t.equal(await delivered(1), 1, 'delivered');
    const end = Date.now() + 10_000;
    while (!gw.logs.some((l) => String(l.msg).startsWith('spool: settling a delivery failed')) && Date.now() < end) await sleep(10);
    t.ok(settles.fired >= 1, 'its settle failed');
    t.same(await states(), ['delivering'], 'still leased while the database refuses the settle');
    proxy.clearRules();
    const until = Date.now() + LEASE_WAIT_MS;
    let now = await states();
    while (now[0] !== 'delivered' && Date.now() < until) {
      await sleep(50);
      now = await states();
    }
    t.same(now, ['delivered'], 'written delivered once the database answers, well inside the lease');
  });
}
