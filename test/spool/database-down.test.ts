// The database down while deliveries arrive at a spool route: 503 ledger_unavailable with
// Retry-After, never a 2xx; once it is back, every delivery that was answered 2xx reaches the
// upstream (and the refused ones, sent again as a provider would, too). Needs PostgreSQL.
import t from 'tap';
import pg from 'pg';
import { request } from 'undici';
import { sign } from '@octokit/webhooks-methods';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { schemaName, sleep } from '../helpers/ledger-backends.js';
import { requirePostgres } from '../helpers/services.js';
import { openLedger } from '../../src/ledger/index.js';

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
}
