// tenantRate paces each tenant's deliveries to the upstream (no attempt spent while waiting); a tenant
// without a rate is not held back by a paced one.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { sign } from '@octokit/webhooks-methods';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { sleep } from '../helpers/ledger-backends.js';
import { openLedger } from '../../src/ledger/index.js';

const SECRETS = { A: 'rate-tenant-a-secret', B: 'rate-tenant-b-secret' };

t.test('tenantRate a: 5/s: a\'s 15 deliveries take at least three windows; b (no rate) is delivered meanwhile', async (t) => {
  const arrivals: Array<{ tenant: string; at: number; attempt: string }> = [];
  const up = await startUpstream((r, res) => {
    arrivals.push({ tenant: String(r.headers['hookgate-tenant']), at: Date.now(), attempt: String(r.headers['hookgate-attempt']) });
    res.end('ok');
  });
  t.teardown(() => up.close());
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-spool-rate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = testConfig({
    upstream: { url: up.url },
    ledger: { url: `embedded:${join(dir, 'l.db')}` },
    limits: { unverified: '10000/s', tenants: { '*': '10000/s' } },
    routes: [{ path: '/t/:tenant/gh', provider: 'github', tenant: 'param:tenant', secrets: { a: ['env:A'], b: ['env:B'] }, delivery: 'spool', spool: { concurrency: 10, tenantRate: { a: '5/s' } } }],
  }, SECRETS);
  const ledger = await openLedger({ url: config.ledger.url, retentionMs: config.ledger.retentionMs, leaseMs: config.ledger.leaseMs, cache: 10, migrate: true });
  const gw = await startTestGateway(config, { ledger, spoolPollMs: 50 });
  t.teardown(() => gw.close());
  const send = async (tenant: 'a' | 'b', i: number) => {
    const body = JSON.stringify({ tenant, i });
    const res = await request(`${gw.url}/t/${tenant}/gh`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': await sign(tenant === 'a' ? SECRETS.A : SECRETS.B, body) }, body });
    await res.body.dump();
    return res.headers['hookgate-outcome'];
  };
  const outcomes = await Promise.all([...Array.from({ length: 15 }, (_, i) => send('a', i)), ...Array.from({ length: 5 }, (_, i) => send('b', i))]);
  t.ok(outcomes.every((o) => o === 'spooled'));
  const end = Date.now() + 20_000;
  while (arrivals.length < 20 && Date.now() < end) await sleep(25);
  t.equal(arrivals.length, 20, 'all delivered, each once');
  const a = arrivals.filter((x) => x.tenant === 'a');
  const b = arrivals.filter((x) => x.tenant === 'b');
  t.ok(a.at(-1)!.at - a[0]!.at >= 1500, `a's 15 at 5/s span at least two window boundaries (took ${a.at(-1)!.at - a[0]!.at} ms)`);
  t.ok(b.at(-1)!.at < a.at(-1)!.at, 'b is not held back by a\'s pace');
  t.ok(a.every((x) => x.attempt === '1'), 'waiting for the rate spends no attempt');
});
