// `hookgate run` as a real process: the startup lines, SIGHUP, and SIGTERM while slow deliveries are
// in flight (each completes and is settled, /readyz says 503, new connections are refused, exit 0);
// a second SIGTERM exits at once.
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import Database from 'better-sqlite3';
import Stripe from 'stripe';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { openLedger } from '../../src/ledger/index.js';

const BIN = fileURLToPath(new URL('../../../bin/hookgate.js', import.meta.url));
const stripe = new Stripe('sk_test_dummy');
const SECRET = 'whsec_run_test_secret_42';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Proc {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  /** resolves with the first line (seen or to come) matching, or rejects after a bounded wait */
  line(pred: (l: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnGateway(t: Test, configYaml: string, dir: string, file = join(dir, 'hookgate.yaml')): Proc {
  writeFileSync(file, configYaml);
  const child = spawn(process.execPath, [BIN, 'run', '--config', file], { env: { ...process.env, STRIPE_SECRET: SECRET }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => {
    buf += c.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(l));
      } catch {
        lines.push({ raw: l });
      }
    }
  });
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return {
    child,
    lines,
    exited,
    async line(pred, what) {
      for (let i = 0; i < 1500; i++) {
        const hit = lines.find(pred);
        if (hit) return hit;
        if (child.exitCode !== null) break;
        await sleep(20);
      }
      throw new Error(`no log line: ${what}; stderr: ${stderr.slice(0, 500)}; lines: ${JSON.stringify(lines).slice(0, 1500)}`);
    },
  };
}

const configYaml = (upstream: string, ledger: string, timeout = '30s') => `
listen: 127.0.0.1:0
admin: 127.0.0.1:0
upstream:
  url: ${upstream}
  timeout: ${timeout}
ledger:
  url: ${ledger}
routes:
  - path: /webhooks/stripe
    provider: stripe
    tenant: acme
    secrets: [env:STRIPE_SECRET]
`;

function delivery(url: string, id: string) {
  const payload = JSON.stringify({ id, type: 'invoice.paid' });
  return request(`${url}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET }) },
    body: payload,
  });
}

/** A port nothing listens on: bound on port 0, then closed. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** The startup line: the one that names the traffic and admin listeners. */
const listening = (l: Record<string, unknown>) => typeof l.traffic === 'string' && typeof l.admin === 'string';

/** Polls /readyz until it answers 503 (the drain has begun), bounded. */
async function untilDraining(admin: string): Promise<boolean> {
  for (let i = 0; i < 500; i++) {
    const res = await request(`${admin}/readyz`).catch(() => undefined);
    await res?.body.dump();
    if (res?.statusCode === 503) return true;
    await sleep(20);
  }
  return false;
}

function refused(url: string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = connect({ host: u.hostname, port: Number(u.port) });
    s.once('connect', () => (s.destroy(), resolve('connected')));
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

t.test('SIGTERM with slow deliveries in flight: each completes, is settled, exit 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let answered = 0;
  // A slow app: at least 1.5 s, and not before the test has looked at the draining gateway (so a
  // loaded machine cannot finish the drain before the checks run).
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const up = await startUpstream(async (r, res) => {
    await Promise.all([sleep(1500), gate]);
    res.statusCode = 201;
    res.end(`slow ok ${JSON.parse(r.body.toString()).id} #${++answered}`);
  });
  t.teardown(() => (open(), up.close()));
  const ledgerFile = join(dir, 'ledger', 'ledger.db');
  const p = spawnGateway(t, configYaml(up.url, `embedded:${ledgerFile}`), dir);
  const started = await p.line(listening, 'startup');
  const traffic = started.traffic as string;
  const admin = started.admin as string;
  t.match(started, { ledger: `embedded (${ledgerFile})`, backend: 'embedded', limits: 'memory', routes: ['/webhooks/stripe (stripe)'] }, 'the startup line says what it serves');
  t.equal((await request(`${admin}/readyz`)).statusCode, 200, 'ready before the signal');

  const ids = ['evt_term_1', 'evt_term_2', 'evt_term_3', 'evt_term_4'];
  const pending = ids.map((id) => delivery(traffic, id).then(async (res) => ({ status: res.statusCode, outcome: res.headers['hookgate-outcome'], body: await res.body.text() })));
  for (let i = 0; i < 1500 && up.received.length < ids.length; i++) await sleep(10);
  t.equal(up.received.length, ids.length, 'all deliveries reached the upstream');
  t.equal(answered, 0, 'and none has been answered yet');

  p.child.kill('SIGTERM');
  t.ok(await untilDraining(admin), 'the drain began');
  const ready = await request(`${admin}/readyz`);
  t.equal(ready.statusCode, 503, '/readyz answers 503 while draining');
  t.match(await ready.body.json(), { status: 'not_ready', reason: 'draining' });
  t.equal(await refused(traffic), 'ECONNREFUSED', 'new connections are refused');
  open();

  const results = await Promise.all(pending);
  for (const [i, r] of results.entries()) {
    t.equal(r.status, 201, `${ids[i]} got the upstream's answer`);
    t.equal(r.outcome, 'forwarded');
    t.match(r.body, new RegExp(`^slow ok ${ids[i]} #`));
  }
  const exit = await p.exited;
  t.same(exit, { code: 0, signal: null }, 'the process exits 0');

  // The ledger file holds them as done, with the upstream's status.
  const db = new Database(ledgerFile, { readonly: true });
  const rows = db.prepare(`SELECT status, resp_status FROM hookgate_ledger`).all() as { status: string; resp_status: number }[];
  db.close();
  t.same(rows, ids.map(() => ({ status: 'done', resp_status: 201 })), 'every delivery is settled done');

  // A gateway started on the same file answers their retries as duplicates, without the upstream.
  const ledger = await openLedger({ url: `embedded:${ledgerFile}`, retentionMs: 3_600_000, leaseMs: 30_000, cache: 100, migrate: true });
  const gw2 = await startTestGateway(testConfig({ upstream: { url: up.url }, routes: [{ path: '/webhooks/stripe', provider: 'stripe', tenant: 'acme', secrets: ['env:S'] }] }, { S: SECRET }), { ledger });
  t.teardown(() => gw2.close());
  const before = up.received.length;
  for (const id of ids) {
    const res = await delivery(gw2.url, id);
    t.equal(res.statusCode, 201, 'the first status again');
    t.equal(res.headers['hookgate-outcome'], 'duplicate');
    t.equal(await res.body.text(), '{"duplicate":true}');
  }
  t.equal(up.received.length, before, 'the upstream saw none of the retries');
});

t.test('a second SIGTERM exits at once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const holds: (() => void)[] = [];
  const up = await startUpstream((_r, res) => new Promise<void>((resolve) => holds.push(() => (res.end('late'), resolve()))));
  t.teardown(async () => {
    for (const h of holds) h();
    await up.close();
  });
  const p = spawnGateway(t, configYaml(up.url, 'embedded'), dir);
  const started = await p.line(listening, 'startup');
  const pending = delivery(started.traffic as string, 'evt_term_stuck').then(
    (res) => res.statusCode,
    (err: Error) => err.constructor.name,
  );
  for (let i = 0; i < 1500 && up.received.length < 1; i++) await sleep(10);
  t.equal(up.received.length, 1, 'a delivery is stuck at the upstream');
  p.child.kill('SIGTERM');
  t.ok(await untilDraining(started.admin as string), 'the drain began');
  p.child.kill('SIGTERM');
  const exit = await p.exited;
  t.same(exit, { code: 1, signal: null }, 'exits with 1 without waiting for the upstream (30s timeout)');
  t.ok(p.lines.some((l) => l.level === 40 && l.signal === 'SIGTERM'), 'a warning names the second signal');
  t.not(await pending, 201, 'the stuck delivery was cut off (its claim stays until its lease runs out; the retry takes it over)');
});

t.test('startup warns when the upstream is not reachable yet; SIGHUP reloads a changed config', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await closedPort();
  // The config is edited through a hard link in another folder: the file watcher (which watches the
  // config's own folder, and polls every 30 s) does not see it, so only SIGHUP can reload it.
  mkdirSync(join(dir, 'conf'));
  mkdirSync(join(dir, 'edit'));
  const file = join(dir, 'conf', 'hookgate.yaml');
  const p = spawnGateway(t, configYaml(`http://127.0.0.1:${port}`, 'embedded'), dir, file);
  const started = await p.line(listening, 'startup');
  const warn = await p.line((l) => l.level === 40 && typeof l.upstream === 'string', 'upstream warning');
  t.match(warn, { upstream: `http://127.0.0.1:${port}`, reason: 'ECONNREFUSED' }, 'a warning names the unreachable upstream and why');
  const res = await delivery(started.traffic as string, 'evt_no_app');
  t.equal(res.statusCode, 502, 'the gateway serves meanwhile');
  t.equal(res.headers['hookgate-outcome'], 'upstream_unavailable');
  await res.body.dump();

  // The app is up now, somewhere else: point the config at it.
  const up = await startUpstream((_r, res) => {
    res.statusCode = 202;
    res.end('here now');
  });
  t.teardown(() => up.close());
  const edit = join(dir, 'edit', 'hookgate.yaml');
  linkSync(file, edit);
  writeFileSync(edit, configYaml(up.url, 'embedded'));
  const stale = await delivery(started.traffic as string, 'evt_before_sighup');
  t.equal(stale.statusCode, 502, 'before SIGHUP the old config is still in force');
  await stale.body.dump();

  p.child.kill('SIGHUP');
  let after: { status: number; outcome: unknown } | undefined;
  for (let i = 0; i < 500; i++) {
    const r = await delivery(started.traffic as string, `evt_after_sighup_${i}`);
    await r.body.dump();
    after = { status: r.statusCode, outcome: r.headers['hookgate-outcome'] };
    if (r.statusCode !== 502) break;
    await sleep(20);
  }
  t.same(after, { status: 202, outcome: 'forwarded' }, 'after SIGHUP deliveries reach the new upstream');
  t.ok(up.received.length >= 1, 'the new upstream received them');
  t.ok(p.lines.some((l) => l.trigger === 'SIGHUP'), 'the reload says SIGHUP triggered it');
  p.child.kill('SIGTERM');
  t.same(await p.exited, { code: 0, signal: null });
  t.notOk(p.lines.some((l) => JSON.stringify(l).includes(SECRET)), 'the secret is in no line');
});

// SQLite on the event loop costs less CPU and memory than in a worker thread; the thread stays for a
// spool, which shares its connection (docs/ledger.md).
t.test('embedded:PATH: SQLite in the event loop, in a worker thread when a route spools; the file keeps its keys either way', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const up = await startUpstream();
  t.teardown(() => up.close());
  const ledger = `embedded:${join(dir, 'ledger.db')}`;
  const threads = (pid: number) => Number(/^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

  const sync = spawnGateway(t, configYaml(up.url, ledger), dir);
  const s = await sync.line(listening, 'startup (sync)');
  t.equal(s.ledgerThread, false, 'no route spools: SQLite in the event loop');
  // counted right after the startup line in both processes
  const syncThreads = threads(sync.child.pid!);
  const first = await delivery(s.traffic as string, 'evt_thread_1');
  t.equal(first.statusCode, 200);
  t.equal(first.headers['hookgate-outcome'], 'forwarded');
  await first.body.dump();
  sync.child.kill('SIGTERM');
  t.same(await sync.exited, { code: 0, signal: null });

  const spool = spawnGateway(t, configYaml(up.url, ledger).replace('secrets: [env:STRIPE_SECRET]', 'secrets: [env:STRIPE_SECRET]\n    delivery: spool'), dir);
  const p = await spool.line(listening, 'startup (spool)');
  t.equal(p.ledgerThread, true, 'a route spools: SQLite in a worker thread, which serves the spool too');
  t.ok(threads(spool.child.pid!) > syncThreads, `one more thread than without a spool (${threads(spool.child.pid!)} vs ${syncThreads})`);
  const again = await delivery(p.traffic as string, 'evt_thread_1');
  t.equal(again.headers['hookgate-outcome'], 'duplicate', 'the key the event-loop ledger settled is on the file');
  await again.body.dump();
  const next = await delivery(p.traffic as string, 'evt_thread_2');
  t.equal(next.statusCode, 200);
  t.equal(next.headers['hookgate-outcome'], 'spooled');
  await next.body.dump();
  for (let i = 0; i < 250 && up.received.length < 2; i++) await sleep(20);
  t.equal(up.received.length, 2, 'the spooled delivery reached the upstream too');
  spool.child.kill('SIGTERM');
  t.same(await spool.exited, { code: 0, signal: null });
});

// issue 13: a port already in use crashed `hookgate run` with a stack trace. Now: one line naming the
// address, exit 1, for the traffic and the admin listener alike.
t.test('a port already in use: one line naming the address, exit 1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise((r) => taken.close(r)));
  const port = (taken.address() as AddressInfo).port;

  for (const which of ['listen', 'admin'] as const) {
    t.test(which === 'listen' ? 'the traffic port' : 'the admin port', async (t) => {
      const yaml = configYaml('http://127.0.0.1:1', 'embedded')
        .replace('listen: 127.0.0.1:0', `listen: 127.0.0.1:${which === 'listen' ? port : 0}`)
        .replace('admin: 127.0.0.1:0', `admin: 127.0.0.1:${which === 'admin' ? port : 0}`);
      const file = join(dir, `${which}.yaml`);
      writeFileSync(file, yaml);
      const child = spawn(process.execPath, [BIN, 'run', '--config', file], { env: { ...process.env, STRIPE_SECRET: SECRET }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let stdout = '';
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      t.equal(code, 1, 'exit 1 (not killed after 20 s)');
      t.equal(stderr, `hookgate: cannot listen on 127.0.0.1:${port}: address already in use\n`, 'one line naming the address');
      t.notMatch(stdout + stderr, /\n\s+at |Error:/, 'no stack trace');
    });
  }
});
