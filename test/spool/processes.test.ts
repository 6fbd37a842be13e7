// Real gateway processes (the built `hookgate run`) with delivery: spool. SIGKILL is what an OOM kill
// or a node failure does: nothing the provider was answered 2xx for may be lost.
import t from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { sign } from '@octokit/webhooks-methods';
import { spawnGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { requirePostgres } from '../helpers/pg-service.js';
import { sleep } from '../helpers/ledger-backends.js';
import { runCli } from '../helpers/cli.js';

const SECRET = 'spool-process-secret';

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(25);
  }
}

interface App { url: string; received: Array<{ body: string; headers: Record<string, string | string[] | undefined> }>; hold: boolean; delayMs: number; start(): Promise<void>; close(): Promise<void> }

/** The application on a port of its own, started (and restarted) when the test says. */
async function app(): Promise<App> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  let server: Server | undefined;
  const a: App = {
    url: `http://127.0.0.1:${port}`,
    received: [],
    hold: false,
    delayMs: 0,
    async start() {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          a.received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
          if (a.hold) return;
          if (a.delayMs) setTimeout(() => res.end('ok'), a.delayMs);
          else res.end('ok');
        });
      });
      await new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
    },
    close: () => new Promise<void>((r) => (server ? (server.closeAllConnections(), server.close(() => r())) : r())),
  };
  return a;
}

async function send(gw: GatewayProcess, body: string): Promise<{ status: number; outcome: unknown }> {
  const res = await request(`${gw.url}/gh`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': await sign(SECRET, body) }, body });
  await res.body.dump();
  return { status: res.statusCode, outcome: res.headers['hookgate-outcome'] };
}

/** sends every body, 48 at a time, to the replica `to(i)` picks; the answers in order */
async function sendAll(bodies: string[], to: (i: number) => GatewayProcess): Promise<Array<{ status: number; outcome: unknown }>> {
  const answers: Array<{ status: number; outcome: unknown }> = [];
  let next = 0;
  await Promise.all(Array.from({ length: 48 }, async () => {
    while (next < bodies.length) {
      const i = next++;
      answers[i] = await send(to(i), bodies[i]!);
    }
  }));
  return answers;
}

/** the answers other than 200 spooled, counted by status and outcome (empty: all stored) */
function refusals(answers: Array<{ status: number; outcome: unknown }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of answers) if (a.status !== 200 || a.outcome !== 'spooled') out[`${a.status} ${String(a.outcome)}`] = (out[`${a.status} ${String(a.outcome)}`] ?? 0) + 1;
  return out;
}

function config(dir: string, upstream: string, ledger: string, extra = ''): string {
  const file = join(dir, 'hookgate.yaml');
  writeFileSync(file, `listen: 127.0.0.1:0
admin: 127.0.0.1:0
upstream: { url: "${upstream}", timeout: 1s }
ledger: { url: "${ledger}" ${extra} }
limits: { unverified: 10000/s, tenants: { "*": 10000/s } }
routes:
  - { path: /gh, provider: github, tenant: acme, secrets: [env:GH], delivery: spool }
`);
  return file;
}

t.test('embedded single replica SIGKILLed with deliveries pending, restarted on the same file: nothing lost', async (t) => {
  const up = await app();
  t.teardown(() => up.close());
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-spool-kill-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = config(dir, up.url, `embedded:${join(dir, 'ledger.db')}`);
  const first = await spawnGateway(file, { GH: SECRET });
  t.teardown(() => first.kill());
  const bodies = Array.from({ length: 30 }, (_, i) => JSON.stringify({ n: i }));
  for (const b of bodies) t.same(await send(first, b), { status: 200, outcome: 'spooled' });
  await first.kill();

  await up.start();
  const second = await spawnGateway(file, { GH: SECRET });
  t.teardown(() => second.kill());
  await until('every spooled delivery delivered', () => up.received.length >= bodies.length);
  await sleep(300);
  t.same(up.received.map((r) => r.body).sort(), [...bodies].sort(), 'each once, byte for byte');
  t.ok(up.received.every((r) => r.headers['hookgate-attempt'] === '1'), 'no attempt spent while the application was away');
  t.same(await send(second, bodies[0]!), { status: 200, outcome: 'duplicate' }, 'the restarted replica still knows them');
});

t.test('a replica SIGKILLed mid-dispatch: another replica takes the delivery over after the lease, with a higher attempt and the same key', async (t) => {
  const pg = await requirePostgres(t, 'spool_kill');
  if (!pg) return;
  const up = await app();
  t.teardown(() => up.close());
  await up.start();
  up.hold = true; // the first dispatch never gets its answer: the replica dies holding it
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-spool-takeover-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = config(dir, up.url, 'env:SPOOL_LEDGER_URL', `, schema: ${pg.schema}`);
  const env = { GH: SECRET, SPOOL_LEDGER_URL: pg.url };
  const a = await spawnGateway(file, env);
  t.teardown(() => a.kill());
  const b = await spawnGateway(file, env);
  t.teardown(() => b.kill());
  t.same(await send(a, '{"takeover":1}'), { status: 200, outcome: 'spooled' });
  await until('the first dispatch reached the application', () => up.received.length === 1);
  await a.kill();
  up.hold = false;
  await until('taken over by the other replica', () => up.received.length === 2);
  const [one, two] = up.received;
  t.equal(two!.body, one!.body, 'the same bytes');
  t.equal(two!.headers['hookgate-idempotency-key'], one!.headers['hookgate-idempotency-key'], 'the same idempotency key (the handler can tell)');
  t.equal(one!.headers['hookgate-attempt'], '1');
  t.equal(two!.headers['hookgate-attempt'], '2', 'the takeover spends an attempt');
  t.equal(two!.headers['hookgate-delivery'], 'retry');
  await sleep(500);
  t.equal(up.received.length, 2);
});

t.test('3 replicas on PostgreSQL, the application down while deliveries arrive across them: all delivered once after it returns, none spent', async (t) => {
  const pg = await requirePostgres(t, 'spool_outage');
  if (!pg) return;
  const up = await app();
  t.teardown(() => up.close());
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-spool-outage-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = config(dir, up.url, 'env:SPOOL_LEDGER_URL', `, schema: ${pg.schema}`);
  const env = { GH: SECRET, SPOOL_LEDGER_URL: pg.url };
  const gws = await Promise.all([0, 1, 2].map(() => spawnGateway(file, env)));
  t.teardown(() => Promise.all(gws.map((g) => g.kill())));
  // The 200 deliveries. The outage lasts 12 s, not 30: by then every replica's probe interval
  // has long reached its cap (1.5 s, jittered), the steady state of any longer outage; 18 s more of
  // waiting would show nothing new.
  const bodies = Array.from({ length: 200 }, (_, i) => JSON.stringify({ outage: i }));
  const down = Date.now();
  const answers = await sendAll(bodies, (i) => gws[i % 3]!);
  t.same(refusals(answers), {}, 'every one answered 200 spooled');
  await sleep(Math.max(0, 12_000 - (Date.now() - down))); // the replicas probe a closed port meanwhile
  t.equal(up.received.length, 0);
  const back = Date.now();
  await up.start();
  await until('the first delivery after the return', () => up.received.length > 0);
  // a bound on the design (probes every ≤ 1.5 s a replica), with room for a loaded machine
  t.ok(Date.now() - back < 5000, `first delivery ${Date.now() - back} ms after the application returned`);
  await until('all delivered', () => up.received.length >= bodies.length).catch((err: unknown) => {
    // Seen once in a full run on a loaded 2-core VM and not reproduced since: say what was left and
    // what the replicas warned about, for whoever meets it next.
    t.comment(`delivered ${up.received.length} of ${bodies.length}; the replicas' warnings and errors:`);
    gws.forEach((g, i) => g.lines.filter((l) => /"level":(4|5|6)0/.test(l)).slice(-20).forEach((l) => t.comment(`replica ${i}: ${l}`)));
    throw err;
  });
  await sleep(500);
  t.same(up.received.map((r) => r.body).sort(), [...bodies].sort(), 'each exactly once');
  t.ok(up.received.every((r) => r.headers['hookgate-attempt'] === '1' && r.headers['hookgate-delivery'] === 'first'), 'no attempt spent during the outage');
});

t.test('SIGTERM with a dispatch in flight: it finishes and settles before exit 0; not delivered again after a restart', async (t) => {
  const up = await app();
  t.teardown(() => up.close());
  up.delayMs = 800; // the application takes a while: the signal arrives mid-dispatch
  await up.start();
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-spool-drain-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = config(dir, up.url, `embedded:${join(dir, 'ledger.db')}`);
  const gw = await spawnGateway(file, { GH: SECRET });
  t.teardown(() => gw.kill());
  t.same(await send(gw, '{"drain":1}'), { status: 200, outcome: 'spooled' });
  await until('the dispatch reached the application', () => up.received.length === 1);
  const exited = new Promise<number | null>((r) => gw.child.once('exit', (code) => r(code)));
  gw.child.kill('SIGTERM');
  t.equal(await exited, 0, 'exit 0 after the drain');
  up.delayMs = 0;
  const again = await spawnGateway(file, { GH: SECRET });
  t.teardown(() => again.kill());
  await sleep(3000); // past the dispatch lease (2 s here): an unsettled delivery would be taken over by now
  t.equal(up.received.length, 1, 'settled as delivered before exit: the restarted replica has nothing to deliver');
});

t.test('load levelling across 3 replicas on PostgreSQL: the upstream never sees more than concurrency × replicas at once', async (t) => {
  const pg = await requirePostgres(t, 'spool_level');
  if (!pg) return;
  let inFlight = 0;
  let max = 0;
  let done = 0;
  const server = createServer((req, res) => {
    max = Math.max(max, ++inFlight);
    req.resume();
    req.on('end', () => setTimeout(() => {
      inFlight--;
      done++;
      res.end('ok');
    }, 50));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  const upstream = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-spool-level-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hookgate.yaml');
  writeFileSync(file, `listen: 127.0.0.1:0
admin: 127.0.0.1:0
upstream: { url: "${upstream}", timeout: 5s }
ledger: { url: env:SPOOL_LEDGER_URL, schema: ${pg.schema} }
limits: { unverified: 10000/s, tenants: { "*": 10000/s } }
routes:
  - { path: /gh, provider: github, tenant: acme, secrets: [env:GH], delivery: spool, spool: { concurrency: 2 } }
`);
  const env = { GH: SECRET, SPOOL_LEDGER_URL: pg.url };
  const gws = await Promise.all([0, 1, 2].map(() => spawnGateway(file, env)));
  t.teardown(() => Promise.all(gws.map((g) => g.kill())));
  // The burst of 1,000 (at 6 × 20 a second: about 9 s of delivery)
  const answers = await sendAll(Array.from({ length: 1000 }, (_, i) => JSON.stringify({ burst: i })), (i) => gws[i % 3]!);
  t.same(refusals(answers), {}, 'a burst of 1,000, all stored');
  await until('all delivered', () => done >= 1000, 90_000);
  t.ok(max <= 6, `never more than 2 × 3 at once (saw ${max})`);
  t.ok(max >= 3, 'more than one replica delivered at once');
});

t.test('pause through one replica\'s admin API: no replica delivers while paused; all after resume through the CLI', async (t) => {
  const pg = await requirePostgres(t, 'spool_pause');
  if (!pg) return;
  const up = await app();
  t.teardown(() => up.close());
  await up.start();
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-spool-pause-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hookgate.yaml');
  writeFileSync(file, `listen: 127.0.0.1:0
admin: 127.0.0.1:0
adminToken: env:ADMIN_TOKEN
upstream: { url: "${up.url}", timeout: 1s }
ledger: { url: env:SPOOL_LEDGER_URL, schema: ${pg.schema} }
limits: { unverified: 10000/s, tenants: { "*": 10000/s } }
routes:
  - { path: /gh, provider: github, tenant: acme, secrets: [env:GH], delivery: spool }
`);
  const token = 'pause-admin-token-0123456789';
  const env = { GH: SECRET, SPOOL_LEDGER_URL: pg.url, ADMIN_TOKEN: token };
  const [a, b] = await Promise.all([spawnGateway(file, env), spawnGateway(file, env)]);
  t.teardown(() => Promise.all([a!.kill(), b!.kill()]));
  const paused = await request(`${a!.adminUrl}/spool/pause`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ route: '/gh' }) });
  t.equal(paused.statusCode, 200);
  await paused.body.dump();
  for (let i = 0; i < 10; i++) t.same(await send(i % 2 ? a! : b!, JSON.stringify({ paused: i })), { status: 200, outcome: 'spooled' });
  await sleep(1500);
  t.equal(up.received.length, 0, 'no replica delivered while paused');
  const resumed = await runCli(['spool', 'resume', '/gh', '--config', file], env);
  t.equal(resumed.code, 0, resumed.err);
  await until('all delivered after resume', () => up.received.length === 10);
});
