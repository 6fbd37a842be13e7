// /readyz follows the ledger: 503 while the database is unreachable, 200 again when it is back;
// /healthz stays 200 throughout (the process is alive). Deliveries meanwhile get 503 ledger_unavailable.
import t from 'tap';
import pg from 'pg';
import { request } from 'undici';
import { sign } from '@octokit/webhooks-methods';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { schemaName } from '../helpers/ledger-backends.js';
import { requirePostgres } from '../helpers/services.js';
import { openLedger } from '../../src/ledger/index.js';
import { scrape } from '../helpers/metrics.js';

t.test('readiness follows the ledger', async (t) => {
  const pgUrl = await requirePostgres(t);
  if (!pgUrl) return;
  const u = new URL(pgUrl);
  const proxy = await FaultProxy.start({ host: u.hostname, port: Number(u.port || 5432) });
  const schema = schemaName('e2e_readiness');
  const admin = new pg.Pool({ connectionString: pgUrl, max: 1 });
  t.teardown(async () => {
    await proxy.close();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await admin.end();
  });
  const up = await startUpstream();
  t.teardown(() => up.close());
  const ledger = await openLedger({ url: proxy.url(pgUrl), schema, retentionMs: 3_600_000, leaseMs: 30_000, cache: 100, migrate: true, retryBudgetMs: 500, poolSize: 2 });
  const gw = await startTestGateway(testConfig({ upstream: { url: up.url }, routes: [{ path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:S'] }] }, { S: 'ready-secret' }), { ledger });
  t.teardown(() => gw.close());
  const status = async (path: string) => {
    const res = await request(`${gw.adminUrl}${path}`);
    await res.body.dump();
    return res.statusCode;
  };

  t.equal(await status('/readyz'), 200, 'ready while the database answers');
  await proxy.down('refuse');
  // /readyz answers from a ping at most about a second old: poll until the outage shows.
  let down = 0;
  for (let i = 0; i < 50 && down !== 503; i++) {
    down = await status('/readyz');
    if (down !== 503) await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(down, 503, '503 while the database is unreachable');
  t.equal(await status('/healthz'), 200, 'alive all the same');
  const body = '{"n":1}';
  const res = await request(`${gw.url}/gh`, { method: 'POST', headers: { 'x-hub-signature-256': await sign('ready-secret', body) }, body });
  t.equal(res.statusCode, 503);
  t.equal(res.headers['hookgate-outcome'], 'ledger_unavailable');
  t.ok(Number(res.headers['retry-after']) >= 1, 'with Retry-After');
  await res.body.dump();
  t.equal(up.received.length, 0, 'nothing forwarded without a claim (onError: reject)');

  await proxy.up();
  let ready = 0;
  for (let i = 0; i < 50 && ready !== 200; i++) {
    ready = await status('/readyz');
    if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(ready, 200, 'ready again once the database is back');
  const m = await scrape(gw.adminUrl);
  t.equal(m.get('hookgate_ready'), 1, 'hookgate_ready follows the last answer');
  t.equal(m.get('hookgate_readiness_changes_total'), 2, 'two changes: down, then up again (what the flapping alert counts)');
  const again = await request(`${gw.url}/gh`, { method: 'POST', headers: { 'x-hub-signature-256': await sign('ready-secret', body) }, body });
  t.equal(again.statusCode, 200, 'the provider\'s retry is forwarded');
  await again.body.dump();
  t.equal(up.received.length, 1);
});

// issue 13: /readyz is unauthenticated and pinged the database on every call; a burst of calls now
// costs at most a ping or two, and an outage still shows within about a second.
t.test('/readyz pings the ledger at most about once a second', async (t) => {
  const real = await openLedger({ url: 'embedded', retentionMs: 3_600_000, leaseMs: 30_000, cache: 100, migrate: true });
  t.teardown(() => real.close());
  let pings = 0;
  let reachable = true;
  const ledger = Object.assign(Object.create(real) as typeof real, {
    async ping() {
      pings++;
      if (!reachable) throw new Error('connection refused');
      await real.ping();
    },
  });
  const up = await startUpstream();
  t.teardown(() => up.close());
  const gw = await startTestGateway(testConfig({ upstream: { url: up.url }, routes: [{ path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:S'] }] }, { S: 'ready-secret' }), { ledger });
  t.teardown(() => gw.close());
  const status = async () => {
    const res = await request(`${gw.adminUrl}/readyz`);
    await res.body.dump();
    return res.statusCode;
  };

  const started = Date.now();
  const burst = await Promise.all(Array.from({ length: 200 }, status));
  const tookMs = Date.now() - started;
  t.ok(burst.every((s) => s === 200), '200 calls, all ready');
  // A burst that took longer than the cache period may legitimately ping once more per period.
  t.ok(pings <= 2 + Math.floor(tookMs / 1000), `pings: ${pings} for 200 calls in ${tookMs} ms`);

  reachable = false;
  const deadline = Date.now() + 10_000;
  let seen = 200;
  while (seen !== 503 && Date.now() < deadline) {
    seen = await status();
    if (seen !== 503) await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(seen, 503, 'an unreachable ledger is seen once the cached answer is over');
  reachable = true;
  let back = 503;
  while (back !== 200 && Date.now() < deadline + 10_000) {
    back = await status();
    if (back !== 200) await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(back, 200, 'and its return too');
});
