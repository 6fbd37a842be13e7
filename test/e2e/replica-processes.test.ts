// Separate gateway processes (the built `hookgate run`, three of them, started together) on one
// PostgreSQL ledger, nobody killed: identical deliveries sent concurrently across them reach the
// upstream once each. Every copy ends as the upstream's answer or a duplicate of it, as a provider
// retrying 409 in_flight would see. Needs PostgreSQL (HOOKGATE_TEST_PG_URL, default the local test
// database); no stand-in: in-process engines cannot be shared by processes.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { Webhook } from 'standardwebhooks';
import { startUpstream } from '../helpers/upstream.js';
import { spawnGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { requirePostgres } from '../helpers/pg-service.js';

const SECRET = 'whsec_' + Buffer.from('replica-processes-secret-0123456').toString('base64');
const wh = new Webhook(SECRET);
const REPLICAS = 3;
const EVENTS = 40;
const COPIES = 6; // each event sent 6 times at once, 2 to each process

t.test(`${REPLICAS} gateway processes on one PostgreSQL ledger: ${EVENTS} events × ${COPIES} concurrent copies reach the upstream once each`, async (t) => {
  const pg = await requirePostgres(t, 'replica_processes');
  if (!pg) return;
  const { admin, schema, url: base } = pg;

  const up = await startUpstream(async (r, res) => {
    // long enough that the copies meet each other's claims in flight
    await new Promise((resolve) => setTimeout(resolve, 50));
    res.statusCode = 202;
    res.end(`took ${r.headers['webhook-id']}`);
  });
  t.teardown(() => up.close());

  const dir = mkdtempSync(join(tmpdir(), 'hookgate-replicas-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hookgate.yaml');
  writeFileSync(file, `listen: 127.0.0.1:0
admin: 127.0.0.1:0
upstream:
  url: ${up.url}
ledger:
  url: env:REPLICA_LEDGER_URL
  schema: ${schema}
  lease: 30s
limits:
  unverified: 10000/s
  tenants:
    "*": 10000/s
routes:
  - path: /hooks
    provider: standard
    tenant: acme
    secrets: [env:REPLICA_SECRET]
`);
  const gws: GatewayProcess[] = await Promise.all(
    Array.from({ length: REPLICAS }, () => spawnGateway(file, { REPLICA_LEDGER_URL: base, REPLICA_SECRET: SECRET })),
  );
  t.teardown(async () => {
    await Promise.all(gws.map(async (g) => {
      if (g.child.exitCode !== null || g.child.signalCode !== null) return;
      const gone = new Promise((r) => g.child.once('exit', r));
      g.child.kill('SIGTERM');
      await gone;
    }));
  });
  t.equal(new Set(gws.map((g) => g.url)).size, REPLICAS, 'three processes, three traffic ports');

  const deliveries = Array.from({ length: EVENTS }, (_, i) => {
    const id = `msg_proc_${i}_${Date.now()}`;
    const at = new Date();
    const body = JSON.stringify({ id, type: 'invoice.paid' });
    return { id, body, headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': wh.sign(id, at, body) } };
  });
  /** a provider: retries 409 in_flight (and 503) until it gets a final answer */
  const deliver = async (d: (typeof deliveries)[number], gw: GatewayProcess) => {
    for (let attempt = 0; attempt < 200; attempt++) {
      const res = await request(`${gw.url}/hooks`, { method: 'POST', headers: d.headers, body: d.body });
      const text = await res.body.text();
      if (res.statusCode !== 409 && res.statusCode !== 503) return { status: res.statusCode, outcome: res.headers['hookgate-outcome'] as string, text };
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`${d.id} never got a final answer`);
  };
  const results = await Promise.all(deliveries.flatMap((d) => Array.from({ length: COPIES }, (_, c) => deliver(d, gws[c % REPLICAS]!).then((r) => ({ id: d.id, ...r })))));

  const seen = new Map<string, number>();
  for (const r of up.received) seen.set(r.headers['webhook-id'] as string, (seen.get(r.headers['webhook-id'] as string) ?? 0) + 1);
  for (const d of deliveries) t.equal(seen.get(d.id), 1, `${d.id} reached the upstream once`);
  t.equal(up.received.length, EVENTS, 'the upstream saw nothing else');
  t.same(results.filter((r) => r.outcome === 'forwarded').map((r) => r.id).sort(), deliveries.map((d) => d.id).sort(), 'one forwarded answer per event');
  t.ok(results.every((r) => r.status === 202), "every copy got the upstream's status");
  t.ok(results.every((r) => r.outcome === 'forwarded' || (r.outcome === 'duplicate' && r.text === '{"duplicate":true}')), 'the others are duplicates');
  // each process took part
  const byProcess = await Promise.all(gws.map(async (g) => {
    const text = await (await request(`${g.adminUrl}/metrics`)).body.text();
    return /hookgate_requests_total\{[^}]*outcome="forwarded"\} (\d+)/.exec(text)?.[1] ?? '0';
  }));
  t.equal(byProcess.reduce((a, b) => a + Number(b), 0), EVENTS, 'the processes forwarded the events between them, once each');

  const { rows } = await admin.query(`SELECT status, count(*)::int AS n FROM "${schema}".hookgate_ledger GROUP BY status`);
  t.same(rows, [{ status: 'done', n: EVENTS }], 'the shared ledger holds each event once, done');
});
