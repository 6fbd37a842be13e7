// delivery: hybrid: forwarded while the provider waits when the upstream takes it; stored and
// answered `spooled` when it fails, then delivered by the dispatcher.
import t from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { sign } from '@octokit/webhooks-methods';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { sleep } from '../helpers/ledger-backends.js';
import { openLedger } from '../../src/ledger/index.js';

const SECRET = 'hybrid-secret';

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 15_000) {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

t.test('hybrid: forwarded when the upstream takes it, stored when it fails or is away, delivered later', async (t) => {
  let status = 200;
  const received: Array<{ body: string; attempt: string; delivery: string | undefined }> = [];
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  let server: Server | undefined;
  const startApp = () => new Promise<void>((r) => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ body: Buffer.concat(chunks).toString(), attempt: String(req.headers['hookgate-attempt']), delivery: req.headers['hookgate-delivery'] as string | undefined });
        res.statusCode = status;
        res.setHeader('x-app', 'legacy');
        res.end(`app says ${status}`);
      });
    });
    server.listen(port, '127.0.0.1', () => r());
  });
  const stopApp = () => new Promise<void>((r) => (server ? (server.closeAllConnections(), server.close(() => r())) : r()));
  t.teardown(stopApp);
  await startApp();

  const dir = mkdtempSync(join(tmpdir(), 'hookgate-hybrid-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // eight retries, not two: a stall of the test machine while the upstream still answers 500 must not
  // exhaust them and leave the delivery dead before it recovers
  const config = testConfig({ upstream: { url: `http://127.0.0.1:${port}` }, ledger: { url: `embedded:${join(dir, 'l.db')}` }, routes: [{ path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:GH'], delivery: 'hybrid', spool: { retry: ['200ms', '200ms', '200ms', '200ms', '200ms', '200ms', '200ms', '200ms'] } }] }, { GH: SECRET });
  const ledger = await openLedger({ url: config.ledger.url, retentionMs: config.ledger.retentionMs, leaseMs: config.ledger.leaseMs, cache: 10, migrate: true });
  const gw = await startTestGateway(config, { ledger, spoolPollMs: 50 });
  t.teardown(() => gw.close());
  const send = async (body: string) => {
    const res = await request(`${gw.url}/gh`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': await sign(SECRET, body) }, body });
    return { status: res.statusCode, outcome: res.headers['hookgate-outcome'], app: res.headers['x-app'], text: await res.body.text() };
  };

  const ok = await send('{"n":1}');
  t.same([ok.status, ok.outcome, ok.app, ok.text], [200, 'forwarded', 'legacy', 'app says 200'], 'the upstream took it: its own answer');
  t.equal((await gw.spool!.store.list({})).length, 0, 'nothing stored');
  t.same((await send('{"n":1}')).outcome, 'duplicate');

  status = 500;
  const failed = await send('{"n":2}');
  t.same([failed.status, failed.outcome], [200, 'spooled'], 'a 500 is stored instead of failed back to the provider');
  // The dispatcher may already be retrying it (its first retry is due 160-240 ms later): read it in
  // whatever state it is, and let the upstream's view below (the retry is attempt 2) pin the count.
  const stored = (await gw.spool!.store.list({})).filter((d) => d.state !== 'delivered');
  t.equal(stored.length, 1, 'one delivery stored');
  t.ok(stored[0]!.attempts >= 1, `the synchronous try spent the first attempt (attempts ${stored[0]!.attempts}, ${stored[0]!.state})`);
  status = 200;
  // delivered, not merely tried again: a retry due while the upstream still failed is answered 500
  await until('the stored one delivered', async () => (await gw.spool!.store.list({})).every((d) => d.state === 'delivered'));
  const [first, retry] = received.filter((r) => r.body === '{"n":2}');
  t.same([first!.attempt, retry!.attempt, retry!.delivery], ['1', '2', 'retry'], 'the synchronous try was attempt 1, the first retry attempt 2');

  await stopApp();
  const away = await send('{"n":3}');
  t.same([away.status, away.outcome], [200, 'spooled'], 'not reached: stored');
  const held = await send('{"n":4}');
  t.same([held.status, held.outcome], [200, 'spooled'], 'while the route backs off: stored without a try');
  t.ok((await gw.spool!.store.list({})).filter((d) => d.state !== 'delivered').every((d) => d.attempts === 0), 'no attempt spent while the upstream was away');
  await startApp();
  await until('both delivered after it returns', () => received.some((r) => r.body === '{"n":3}') && received.some((r) => r.body === '{"n":4}'));
  t.same(received.filter((r) => r.body === '{"n":3}' || r.body === '{"n":4}').map((r) => r.attempt), ['1', '1']);
});
