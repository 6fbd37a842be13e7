// resign: a delivery that waited in the spool past the route's tolerance reaches a handler that
// verifies by itself (the providers' official libraries) with fresh signature headers; without
// resign the same handler rejects it (the control that shows the test can fail).
import t, { type Test } from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import Stripe from 'stripe';
import { Webhook } from 'standardwebhooks';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { sleep } from '../helpers/ledger-backends.js';
import { openLedger } from '../../src/ledger/index.js';

const STRIPE_SECRET = 'whsec_resign_test_0123456789';
const STANDARD_SECRET = 'whsec_' + Buffer.from('resign-standard-secret-01234567').toString('base64');
const stripe = new Stripe('sk_test_dummy');

/** An application on a fixed port that verifies with the official libraries; started later. */
async function verifyingApp(verify: (body: string, headers: Record<string, string>) => boolean) {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const verdicts: boolean[] = [];
  let server: Server | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    verdicts,
    async start() {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const ok = verify(Buffer.concat(chunks).toString('utf8'), req.headers as Record<string, string>);
          verdicts.push(ok);
          res.statusCode = ok ? 200 : 400;
          res.end();
        });
      });
      await new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
    },
    close: () => new Promise<void>((r) => (server ? (server.closeAllConnections(), server.close(() => r())) : r())),
  };
}

async function gateway(t: Test, upstream: string, route: Record<string, unknown>, secrets: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-resign-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = testConfig({ upstream: { url: upstream }, ledger: { url: `embedded:${join(dir, 'l.db')}` }, routes: [{ ...route, tenant: 'acme', delivery: 'spool' }] }, secrets);
  const ledger = await openLedger({ url: config.ledger.url, retentionMs: config.ledger.retentionMs, leaseMs: config.ledger.leaseMs, cache: 10, migrate: true });
  const gw = await startTestGateway(config, { ledger, spoolPollMs: 50 });
  t.teardown(() => gw.close());
  return gw;
}


async function until(ok: () => boolean, ms = 20_000) {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(20);
  }
}

for (const resign of [true, false]) {
  t.test(`stripe, resign: ${resign}: a delivery older than the handler's 5 s tolerance when dispatched`, async (t) => {
    const app = await verifyingApp((body, h) => {
      try {
        stripe.webhooks.constructEvent(body, h['stripe-signature']!, STRIPE_SECRET, 5);
        return true;
      } catch {
        return false;
      }
    });
    t.teardown(() => app.close());
    const gw = await gateway(t, app.url, { path: '/stripe', provider: 'stripe', secrets: ['env:S'], tolerance: '5s', spool: { resign } }, { S: STRIPE_SECRET });
    const payload = JSON.stringify({ id: `evt_resign_${resign}`, object: 'event', type: 'invoice.paid' });
    const signedAt = Math.floor(Date.now() / 1000) - 3; // within the gateway's tolerance on arrival
    const res = await request(`${gw.url}/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'Stripe-Signature': stripe.webhooks.generateTestHeaderString({ payload, secret: STRIPE_SECRET, timestamp: signedAt }) }, body: payload });
    await res.body.dump();
    t.equal(res.headers['hookgate-outcome'], 'spooled');
    await sleep(3500); // the application is away: the delivery waits past 5 s since it was signed
    await app.start();
    await until(() => app.verdicts.length === 1);
    t.same(app.verdicts, [resign], resign ? 'stripe.webhooks.constructEvent accepts the re-signed delivery' : 'without resign the late signature is refused');
  });
}

t.test('standard webhooks, resign: the official verifier (5 min window) accepts a delivery that waited past it', async (t) => {
  const wh = new Webhook(STANDARD_SECRET);
  const app = await verifyingApp((body, h) => {
    try {
      wh.verify(body, h);
      return true;
    } catch {
      return false;
    }
  });
  t.teardown(() => app.close());
  const gw = await gateway(t, app.url, { path: '/std', provider: 'standard', secrets: ['env:S'], tolerance: '5m' }, { S: STANDARD_SECRET });
  const payload = '{"type":"user.created","data":{"id":1}}';
  const signedAt = new Date(Date.now() - (5 * 60 - 2) * 1000); // 2 s inside both windows on arrival
  const id = 'msg_resign_standard';
  const res = await request(`${gw.url}/std`, { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(signedAt.getTime() / 1000)), 'webhook-signature': wh.sign(id, signedAt, payload) }, body: payload });
  await res.body.dump();
  t.equal(res.headers['hookgate-outcome'], 'spooled');
  await sleep(3500);
  await app.start();
  await until(() => app.verdicts.length === 1);
  t.same(app.verdicts, [true], 'standardwebhooks verify accepts it: fresh timestamp, same id, same body');
});

// provider svix signs svix-* names; a white-labelled account sends webhook-* ones, which are re-signed in place
t.test('svix, resign: a white-labelled delivery (webhook-* names) is re-signed under its own names', async (t) => {
  const wh = new Webhook(STANDARD_SECRET);
  const app = await verifyingApp((body, h) => {
    try {
      return !('svix-signature' in h) && !!wh.verify(body, h);
    } catch {
      return false;
    }
  });
  t.teardown(() => app.close());
  const gw = await gateway(t, app.url, { path: '/svix', provider: 'svix', secrets: ['env:S'], tolerance: '5m' }, { S: STANDARD_SECRET });
  const payload = '{"type":"user.created","data":{"id":2}}';
  const signedAt = new Date(Date.now() - (5 * 60 - 2) * 1000);
  const id = 'msg_resign_svix_white_label';
  const res = await request(`${gw.url}/svix`, { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(signedAt.getTime() / 1000)), 'webhook-signature': wh.sign(id, signedAt, payload) }, body: payload });
  await res.body.dump();
  t.equal(res.headers['hookgate-outcome'], 'spooled');
  await sleep(3500);
  await app.start();
  await until(() => app.verdicts.length === 1);
  t.same(app.verdicts, [true], 'standardwebhooks verify accepts it, and no svix-* header was added');
});
