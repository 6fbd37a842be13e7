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
  t.equal(await status('/readyz'), 503, '503 while the database is unreachable');
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
  const again = await request(`${gw.url}/gh`, { method: 'POST', headers: { 'x-hub-signature-256': await sign('ready-secret', body) }, body });
  t.equal(again.statusCode, 200, 'the provider\'s retry is forwarded');
  await again.body.dump();
  t.equal(up.received.length, 1);
});
