// delivery: spool through a real gateway over HTTP, a real upstream, on the embedded file and on
// PostgreSQL: what the provider is answered, what the upstream receives (bytes, headers, attempt),
// what the spool holds.
import t, { type Test } from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { request } from 'undici';
import { sign } from '@octokit/webhooks-methods';
import { startUpstream, type Received } from '../helpers/upstream.js';
import { startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { schemaName, sleep } from '../helpers/ledger-backends.js';
import { requirePostgres } from '../helpers/services.js';
import { openLedger } from '../../src/ledger/index.js';
import { ConfigError } from '../../src/config/load.js';

const PG_URL = (await requirePostgres(t)) ?? '';
const SECRETS = { A: 'tenant-a-secret', B: 'tenant-b-secret', GH: 'spool-secret' };

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

type Backend = { name: string; ledger: Record<string, unknown>; cleanup(): Promise<void> };

async function embeddedBackend(): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-spool-'));
  return { name: 'embedded file', ledger: { url: `embedded:${join(dir, 'ledger.db')}` }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}

async function pgBackend(): Promise<Backend> {
  const schema = schemaName('spool_e2e');
  return {
    name: 'postgres',
    ledger: { url: PG_URL, schema },
    cleanup: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    },
  };
}

async function gateway(t: Test, backend: Backend, upstreamUrl: string, route: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<TestGateway> {
  const config = testConfig({
    upstream: { url: upstreamUrl, timeout: '5s' },
    ledger: { ...backend.ledger, lease: '5s' },
    ...extra,
    routes: [{ path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:GH'], delivery: 'spool', ...route }],
  }, SECRETS);
  const ledger = await openLedger({ url: config.ledger.url, ...(config.ledger.schema ? { schema: config.ledger.schema } : {}), retentionMs: config.ledger.retentionMs, leaseMs: config.ledger.leaseMs, cache: 1000, migrate: true, synchronous: 'full' });
  const gw = await startTestGateway(config, { ledger, spoolPollMs: 100 });
  t.teardown(() => gw.close());
  return gw;
}

async function send(gw: TestGateway, body: string, path = '/gh', secret = SECRETS.GH) {
  const res = await request(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'X-Hub-Signature-256': await sign(secret, body), 'X-GitHub-Event': 'push' }, body });
  const text = await res.body.text();
  return { status: res.statusCode, outcome: res.headers['hookgate-outcome'], retryAfter: res.headers['retry-after'], text };
}

/** A port nothing listens on yet, and a way to start the application there later. */
async function laterUpstream(): Promise<{ url: string; received: Received[]; start(): Promise<void>; close(): Promise<void> }> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const received: Received[] = [];
  let server: Server | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    async start() {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          received.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks) });
          res.end('ok');
        });
      });
      await new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
    },
    close: () => new Promise<void>((r) => (server ? (server.closeAllConnections(), server.close(() => r())) : r())),
  };
}

for (const make of [embeddedBackend, pgBackend]) {
  t.test(`spool on ${make.name.replace('Backend', '')}`, async (t) => {
    const backend = await make();
    t.teardown(() => backend.cleanup());

    t.test('upstream down while deliveries arrive: each answered 200 spooled, all delivered once after it returns, byte for byte, no attempt spent', async (t) => {
      const app = await laterUpstream();
      t.teardown(() => app.close());
      const gw = await gateway(t, backend, app.url, { path: '/gh' });
      const bodies = Array.from({ length: 20 }, (_, i) => JSON.stringify({ ref: 'refs/heads/main', n: i, pad: 'é'.repeat(i) }));
      for (const b of bodies) {
        const r = await send(gw, b);
        t.equal(r.status, 200);
        t.equal(r.outcome, 'spooled');
      }
      // Let the dispatcher fail to reach it for a while: nothing is spent.
      await sleep(600);
      const held = await gw.spool!.store.list({ route: '/gh' });
      t.equal(held.length, 20);
      // (a probe may be on its way to the closed port right now: delivering, still nothing spent)
      t.ok(held.every((d) => d.attempts === 0 && (d.state === 'pending' || d.state === 'delivering')), 'held, no attempt spent while the upstream was down');
      t.ok(held.filter((d) => d.state === 'delivering').length <= 1, 'one probe at a time');
      const dup = await send(gw, bodies[3]!);
      t.same([dup.status, dup.outcome], [200, 'duplicate'], 'a duplicate of a spooled delivery: acceptStatus, duplicate');

      await app.start();
      await until('all delivered', async () => (await gw.spool!.store.list({ route: '/gh', state: 'delivered' })).length === 20);
      t.equal(app.received.length, 20, 'each delivered once');
      const got = new Map(app.received.map((r) => [r.body.toString('utf8'), r]));
      for (const b of bodies) {
        const r = got.get(b);
        t.ok(r, 'delivered byte for byte');
        if (!r) continue;
        t.equal(r.headers['x-hub-signature-256'], await sign(SECRETS.GH, b), 'with its signature header');
        t.ok(r.rawHeaders.includes('X-Hub-Signature-256'), 'header case kept');
        t.equal(r.headers['hookgate-attempt'], '1');
        t.equal(r.headers['hookgate-delivery'], 'first');
        t.equal(r.headers['hookgate-provider'], 'github');
        t.equal(r.headers['hookgate-tenant'], 'acme');
        t.ok(!Number.isNaN(Date.parse(String(r.headers['hookgate-received-at']))), 'hookgate-received-at is a date');
        t.equal(r.url, '/gh');
      }
      await sleep(300);
      t.equal(app.received.length, 20, 'nothing delivered twice');
    });

    t.test('a 500-ing upstream: an attempt spent each time on the schedule, then dead', async (t) => {
      const up = await startUpstream((_r, res) => void ((res.statusCode = 500), res.end('boom')));
      t.teardown(() => up.close());
      const gw = await gateway(t, backend, up.url, { path: '/gh500', spool: { retry: ['100ms', '200ms'] } });
      const r = await send(gw, '{"fails":true}', '/gh500');
      t.same([r.status, r.outcome], [200, 'spooled']);
      await until('dead', async () => (await gw.spool!.store.list({ route: '/gh500', state: 'dead' })).length === 1);
      t.equal(up.received.length, 3, 'first try + 2 retries');
      t.same(up.received.map((x) => x.headers['hookgate-attempt']), ['1', '2', '3']);
      t.same(up.received.map((x) => x.headers['hookgate-delivery']), ['first', 'retry', 'retry']);
      const [dead] = await gw.spool!.store.list({ route: '/gh500' });
      t.equal(dead!.attempts, 3);
      t.equal(dead!.lastStatus, 500);
      await sleep(400);
      t.equal(up.received.length, 3, 'nothing after dead');
    });

    t.test('load levelling: never more than concurrency in flight', async (t) => {
      let inFlight = 0;
      let max = 0;
      const up = await startUpstream(async (_r, res) => {
        max = Math.max(max, ++inFlight);
        await sleep(50);
        inFlight--;
        res.end('ok');
      });
      t.teardown(() => up.close());
      // 200 in one burst on one replica (about 3.5 s of delivery); the 1,000 across 3 replicas is in processes.test.ts
      const gw = await gateway(t, backend, up.url, { path: '/level', spool: { concurrency: 3 } }, { limits: { unverified: '100000/s', tenants: { '*': '100000/s' } } });
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => send(gw, JSON.stringify({ i }), '/level')));
      t.ok(answers.every((a) => a.status === 200 && a.outcome === 'spooled'), 'all spooled');
      await until('all delivered', () => up.received.length === 200);
      t.ok(max <= 3, `at most 3 at once (saw ${max})`);
      t.ok(max >= 2, 'and it used its slots');
    });

    // The sizes: A sends 1,000, then B 20. One slot and a 20 ms application: A's backlog takes
    // 20 s to drain, so B's 20 must go through the rotation, not behind A's queue. The test ends once
    // B is delivered (A's drain proves nothing more; the other tests deliver backlogs in full).
    t.test('fairness: tenant A sends 1,000, then tenant B 20: B\'s 20 are all delivered while most of A\'s backlog is pending', async (t) => {
      const order: string[] = [];
      const up = await startUpstream(async (r, res) => {
        order.push(String(r.headers['hookgate-tenant']));
        await sleep(20);
        res.end('ok');
      });
      t.teardown(() => up.close());
      const gw = await gateway(t, backend, up.url, { path: '/t/:tenant/gh', tenant: 'param:tenant', secrets: { a: ['env:A'], b: ['env:B'] }, spool: { concurrency: 1 } }, { limits: { unverified: '100000/s', tenants: { '*': '100000/s' } } });
      const sent = async (bodies: string[], path: string, secret: string) => {
        let next = 0;
        const answers: Array<{ status: number }> = [];
        await Promise.all(Array.from({ length: 16 }, async () => {
          while (next < bodies.length) answers.push(await send(gw, bodies[next++]!, path, secret));
        }));
        return answers;
      };
      const a = await sent(Array.from({ length: 1000 }, (_, i) => JSON.stringify({ a: i })), '/t/a/gh', SECRETS.A);
      t.ok(a.every((x) => x.status === 200), 'A\'s 1,000 stored');
      const b = await sent(Array.from({ length: 20 }, (_, i) => JSON.stringify({ b: i })), '/t/b/gh', SECRETS.B);
      t.ok(b.every((x) => x.status === 200), 'B\'s 20 stored');
      await until('B delivered', () => order.filter((x) => x === 'b').length === 20, 60_000);
      const aDone = order.filter((x) => x === 'a').length;
      t.ok(aDone < 500, `B's 20 all delivered after only ${aDone} of A's 1,000`);
      const pendingA = (await gw.spool!.store.pendingCounts()).find((c) => c.tenant === 'a')?.n ?? 0;
      t.ok(pendingA > 500, `most of A's backlog still pending (${pendingA})`);
    });

    t.test('maxPending: 503 spool_full with Retry-After; the held deliveries all arrive later', async (t) => {
      const app = await laterUpstream();
      t.teardown(() => app.close());
      const gw = await gateway(t, backend, app.url, { path: '/full', spool: { maxPending: 3, tenantMaxPending: 3 } });
      const results = [];
      for (let i = 0; i < 5; i++) results.push(await send(gw, JSON.stringify({ full: i }), '/full'));
      t.same(results.slice(0, 3).map((r) => r.outcome), ['spooled', 'spooled', 'spooled']);
      t.same(results.slice(3).map((r) => [r.status, r.outcome]), [[503, 'spool_full'], [503, 'spool_full']]);
      t.ok(Number(results[3]!.retryAfter) >= 1, 'with Retry-After');
      t.same(JSON.parse(results[3]!.text).error, 'spool_full');
      await app.start();
      await until('held ones delivered', () => app.received.length === 3);
      // Refused ones were not stored: their retry goes through once there is room.
      await until('room again', async () => (await send(gw, JSON.stringify({ full: 3 }), '/full')).outcome === 'spooled');
      await until('the retry delivered', () => app.received.length === 4);
    });
  });
}

t.test('config refuses what the spool cannot keep its promise on', async (t) => {
  const base = { upstream: { url: 'http://127.0.0.1:1' }, ledger: { url: 'embedded:/var/lib/hookgate/ledger.db' } };
  const route = { path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:GH'], delivery: 'spool' };
  const problems = (doc: Record<string, unknown>): string[] => {
    try {
      testConfig(doc, SECRETS);
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
  };
  t.match(problems({ ...base, ledger: { url: 'embedded' }, routes: [route] }).join('\n'), /routes\[0\]\.delivery: spool needs a durable ledger/);
  t.match(problems({ ...base, routes: [{ ...route, path: '/tw', provider: 'twilio', secrets: ['env:GH'], publicUrl: 'https://x.example/tw' }] }).join('\n'), /delivery: spool is refused for provider twilio/);
  t.match(problems({ ...base, routes: [{ ...route, provider: 'discord', secrets: ['0'.repeat(64)] }] }).join('\n'), /refused for provider discord/);
  t.match(problems({ ...base, ledger: { ...base.ledger, retention: '24h' }, routes: [route] }).join('\n'), /spool\.maxAge: 72h is longer than ledger\.retention/);
  t.match(problems({ ...base, routes: [{ ...route, spool: { maxAge: '48h' } }], ledger: { ...base.ledger, retention: '24h' } }).join('\n'), /routes\[0\]\.spool\.maxAge/);
  t.match(problems({ ...base, ledger: { url: 'embedded' }, routes: [{ ...route, delivery: 'hybrid' }] }).join('\n'), /routes\[0\]\.delivery: hybrid needs a durable ledger/);
  t.match(problems({ ...base, routes: [{ ...route, path: '/tw', provider: 'twilio', delivery: 'hybrid', publicUrl: 'https://x.example/tw' }] }).join('\n'), /delivery: hybrid is refused for provider twilio/);
  t.match(problems({ ...base, spool: { tenantRate: { '*': '5/x' } }, routes: [route] }).join('\n'), /spool\.tenantRate\["\*"\]: expected/);
  t.match(problems({ ...base, mode: 'monitor', routes: [route] }).join('\n'), /needs mode: enforce/);
  t.match(problems({ ...base, routes: [{ ...route, spool: { concurrency: 0 } }] }).join('\n'), /routes\[0\]\.spool\.concurrency/);
  t.same(problems({ ...base, routes: [route] }), [], 'a file ledger with the defaults is fine');
  const ok = testConfig({ ...base, routes: [route] }, SECRETS);
  t.equal(ok.ledger.synchronous, 'full', 'the embedded file syncs every commit once a route spools');
  t.same(ok.routes[0]!.spool!.retryMs, [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
  t.equal(testConfig({ ...base, routes: [{ ...route, delivery: 'sync' }] }, SECRETS).ledger.synchronous, undefined);
});

t.test('a reload cannot add the first spool route (it needs a restart) and says so; the old config keeps serving', async (t) => {
  const backend = await embeddedBackend();
  t.teardown(() => backend.cleanup());
  const up = await startUpstream();
  t.teardown(() => up.close());
  const route = { path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:GH'] };
  const sync = testConfig({ upstream: { url: up.url }, ledger: backend.ledger, routes: [route] }, SECRETS);
  const ledger = await openLedger({ url: sync.ledger.url, retentionMs: sync.ledger.retentionMs, leaseMs: sync.ledger.leaseMs, cache: 10, migrate: true });
  const gw = await startTestGateway(sync, { ledger });
  t.teardown(() => gw.close());
  const spool = testConfig({ upstream: { url: up.url }, ledger: backend.ledger, routes: [{ ...route, delivery: 'spool' }] }, SECRETS);
  await t.rejects(gw.reload(spool), /delivery: spool needs the spool and the ledger.*restart/);
  const r = await send(gw, '{"still":"sync"}');
  t.same([r.status, r.outcome], [200, 'forwarded'], 'the old configuration still serves');
});

// issue 13's path rule holds for stored deliveries too: the spool keeps the path the forward would
// use (the route's path with its parameters re-encoded, the query as received), never the raw target.
t.test('a spooled delivery goes to the route\'s path with its parameters, never the raw request target', async (t) => {
  const backend = await embeddedBackend();
  t.teardown(() => backend.cleanup());
  const up = await startUpstream();
  t.teardown(() => up.close());
  const gw = await gateway(t, backend, up.url, { path: '/p/:kind/gh' });
  const body = JSON.stringify({ ref: 'refs/heads/main', spooled: 'param' });
  const r = await send(gw, body, '/p/pu%73h/gh?x=1');
  t.same([r.status, r.outcome], [200, 'spooled']);
  await until('the delivery reaches the upstream', () => up.received.length === 1);
  t.equal(up.received[0]!.url, '/p/push/gh?x=1', 'the route\'s path, the parameter re-encoded, the query as received');
  t.equal(up.received[0]!.body.toString(), body);
  const climb = await send(gw, body, '/p/..%2F..%2Fadmin/gh');
  t.same([climb.status, climb.outcome], [400, 'malformed'], 'a parameter hiding a slash is refused before anything is stored');
  t.equal((await gw.spool!.store.list({ route: '/p/:kind/gh' })).length, 1, 'nothing else was stored');
});

// CONTRACT.md: maxPending counts "pending + delivering across the spool"; tenantMaxPending "the same
// for one tenant", so one tenant cannot fill the spool for the others by spreading over routes.
t.test('the top-level maxPending and tenantMaxPending bound the whole spool, across routes', async (t) => {
  const backend = await embeddedBackend();
  t.teardown(() => backend.cleanup());
  const app = await laterUpstream();
  t.teardown(() => app.close());
  const route = (path: string) => ({ path, provider: 'github', tenant: 'acme', secrets: ['env:GH'], delivery: 'spool' });
  const config = testConfig({
    upstream: { url: app.url, timeout: '5s' },
    ledger: { ...backend.ledger, lease: '5s' },
    spool: { maxPending: 3, tenantMaxPending: 3 },
    routes: [route('/one'), route('/two')],
  }, SECRETS);
  const ledger = await openLedger({ url: config.ledger.url, retentionMs: config.ledger.retentionMs, leaseMs: config.ledger.leaseMs, cache: 1000, migrate: true, synchronous: 'full' });
  const gw = await startTestGateway(config, { ledger, spoolPollMs: 100 });
  t.teardown(() => gw.close());
  const outcomes = [];
  for (const [i, path] of ['/one', '/one', '/two', '/two', '/one'].entries()) outcomes.push((await send(gw, JSON.stringify({ across: i }), path)).outcome);
  t.same(outcomes, ['spooled', 'spooled', 'spooled', 'spool_full', 'spool_full'], 'the third stored delivery fills the spool, whichever route it came on');
  await app.start();
  await until('the held ones delivered', () => app.received.length === 3);
});
