// The drain's time bound (CONTRACT.md, Operations: SIGTERM finishes deliveries in flight "bounded by
// upstream.timeout"): a real process gets SIGTERM while the upstream holds a delivery and would hold
// it for the rest of the test. The held delivery is answered 504 upstream_timeout once upstream.timeout
// has passed, its claim is released (the provider's retry is forwarded, as attempt 2), and the process
// exits 0 within a bound computed from the config, far below what waiting for the upstream would take.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import Database from 'better-sqlite3';
import Stripe from 'stripe';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { spawnHookgate, until } from '../helpers/hookgate-process.js';
import { openLedger } from '../../src/ledger/index.js';

const stripe = new Stripe('sk_test_dummy');
const SECRET = 'whsec_drain_bound_0123';
const TIMEOUT_S = 2;
// src/server.ts waits for deliveries in flight at most upstream.timeout + 1 s; the rest is process
// start-up noise on a loaded machine (signal delivery, closing the ledger, exit), generously.
const BOUND_MS = TIMEOUT_S * 1000 + 1000 + 6000;

function configFile(dir: string, upstream: string, ledgerFile: string): string {
  const file = join(dir, 'hookgate.yaml');
  writeFileSync(file, `listen: 127.0.0.1:0
admin: 127.0.0.1:0
upstream:
  url: ${upstream}
  timeout: ${TIMEOUT_S}s
ledger:
  url: embedded:${ledgerFile}
  lease: 60s
routes:
  - path: /hooks
    provider: stripe
    tenant: acme
    secrets: [env:DRAIN_SECRET]
`);
  return file;
}

t.test('SIGTERM while the upstream holds a delivery past upstream.timeout: 504, claim released, exit 0 within the bound', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-drain-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const held: (() => void)[] = [];
  const up = await startUpstream((_r, res) => new Promise<void>((resolve) => held.push(() => (res.destroyed || res.end('too late'), resolve()))));
  t.teardown(async () => {
    for (const h of held) h();
    await up.close();
  });
  const ledgerFile = join(dir, 'ledger.db');
  const file = configFile(dir, up.url, ledgerFile);
  const p = spawnHookgate(t, ['run', '--config', file], { DRAIN_SECRET: SECRET });
  const { traffic } = await p.started();

  const payload = JSON.stringify({ id: `evt_drain_${Date.now()}`, type: 'invoice.paid' });
  const headers = { 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET }) };
  const pending = request(`${traffic}/hooks`, { method: 'POST', headers, body: payload }).then(async (res) => ({ status: res.statusCode, outcome: res.headers['hookgate-outcome'], text: await res.body.text() }));
  await until(() => up.received.length === 1, 'the upstream holds the delivery');

  const signalled = Date.now();
  p.child.kill('SIGTERM');
  const exit = await Promise.race([p.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), BOUND_MS + 20_000).unref())]);
  const elapsed = Date.now() - signalled;
  t.same(exit, { code: 0, signal: null }, 'the process exits 0');
  t.ok(elapsed <= BOUND_MS, `it exited ${elapsed} ms after SIGTERM, within upstream.timeout + 1 s (+ margin) = ${BOUND_MS} ms`);
  t.equal(held.length, 1, 'the upstream never answered');

  const answer = await pending;
  t.equal(answer.status, 504, 'the held delivery is answered 504');
  t.equal(answer.outcome, 'upstream_timeout');

  const db = new Database(ledgerFile, { readonly: true });
  const rows = db.prepare('SELECT status FROM hookgate_ledger').all() as { status: string }[];
  db.close();
  t.same(rows, [{ status: 'failed' }], 'its claim was released, not left in flight');

  // The provider's retry, on a gateway over the same ledger file, is forwarded again.
  up.respond = (_r, res) => void res.end('now ok');
  const ledger = await openLedger({ url: `embedded:${ledgerFile}`, retentionMs: 3_600_000, leaseMs: 60_000, cache: 100, migrate: true });
  const gw = await startTestGateway(testConfig({ upstream: { url: up.url }, routes: [{ path: '/hooks', provider: 'stripe', tenant: 'acme', secrets: ['env:S'] }] }, { S: SECRET }), { ledger });
  t.teardown(() => gw.close());
  const retry = await request(`${gw.url}/hooks`, { method: 'POST', headers, body: payload });
  t.equal(retry.statusCode, 200);
  t.equal(retry.headers['hookgate-outcome'], 'forwarded', 'the retry is forwarded');
  t.equal(await retry.body.text(), 'now ok');
  t.equal(up.received.length, 2);
  t.equal(up.received[1]!.headers['hookgate-attempt'], '2', 'as attempt 2');
});

// Here no upstream timeout can fire: the upstream answered at once and then sends its body a byte
// every 300 ms, forever. Only the drain's own bound ends the delivery.
t.test('SIGTERM while the upstream streams its answer forever: the drain cuts it at its bound and exits 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-drain-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const timers: NodeJS.Timeout[] = [];
  const up = await startUpstream((_r, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    timers.push(setInterval(() => res.write('.'), 300));
  });
  t.teardown(async () => {
    for (const x of timers) clearInterval(x);
    await up.close();
  });
  const ledgerFile = join(dir, 'ledger.db');
  const p = spawnHookgate(t, ['run', '--config', configFile(dir, up.url, ledgerFile)], { DRAIN_SECRET: SECRET });
  const { traffic } = await p.started();
  const payload = JSON.stringify({ id: `evt_stream_${Date.now()}`, type: 'invoice.paid' });
  const headers = { 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET }) };
  let bytes = 0;
  const res = await request(`${traffic}/hooks`, { method: 'POST', headers, body: payload });
  t.equal(res.statusCode, 200, "the upstream's answer has begun");
  t.equal(res.headers['hookgate-outcome'], 'forwarded');
  const body = (async () => {
    try {
      for await (const c of res.body) bytes += (c as Buffer).length;
      return 'ended';
    } catch {
      return 'cut';
    }
  })();
  await until(() => bytes >= 2, 'the body is streaming');

  const signalled = Date.now();
  p.child.kill('SIGTERM');
  const exit = await Promise.race([p.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), BOUND_MS + 20_000).unref())]);
  const elapsed = Date.now() - signalled;
  t.same(exit, { code: 0, signal: null }, 'the process exits 0');
  t.ok(elapsed <= BOUND_MS, `it exited ${elapsed} ms after SIGTERM, within upstream.timeout + 1 s (+ margin) = ${BOUND_MS} ms`);
  t.ok(elapsed >= TIMEOUT_S * 1000, 'after giving the delivery upstream.timeout to finish');
  t.equal(await body, 'cut', 'the endless answer was cut off (the client sees an incomplete response, not an end)');

  const db = new Database(ledgerFile, { readonly: true });
  const rows = db.prepare('SELECT status, resp_status FROM hookgate_ledger').all();
  db.close();
  t.same(rows, [{ status: 'done', resp_status: 200 }], 'the delivery was settled from the status the upstream answered');
});
