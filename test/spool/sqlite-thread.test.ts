// The embedded spool behind its worker thread: a delivery stored through it is on the file (read back
// by a fresh connection), Buffers cross the boundary as Buffers, a store error arrives as
// ledger_unavailable with its cause, and a thread that dies (the spool's own worker, or the ledger's
// worker serving it) fails only the calls waiting on it: the next call connects again and finds what
// was committed.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLedger } from '../../src/ledger/index.js';
import { keyHash } from '../../src/ledger/common.js';
import { openSpoolStore } from '../../src/spool/store/index.js';
import { openSqliteSpool, SqliteSpoolStore } from '../../src/spool/store/sqlite.js';
import { openSqlite } from '../../src/ledger/sqlite-connection.js';
import { ThreadedSqliteSpool, openThreadedSqliteSpool, ownWorker, toBuffers } from '../../src/spool/store/sqlite-thread.js';
import { ledgerThreadOn } from '../../src/ledger/embedded-thread.js';
import type { AcceptInput, SpoolStore } from '../../src/spool/store/types.js';
import { MessagePort, Worker } from 'node:worker_threads';
import { GatewayError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'hookgate-spool-thread-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const url = `embedded:${join(dir, 'ledger.db')}`;
const ledger = await openLedger({ url, retentionMs: 60_000, leaseMs: 30_000, cache: 0, migrate: true });
t.teardown(() => ledger.close());

const input = async (key: string, body: Buffer): Promise<AcceptInput> => {
  const c = await ledger.claim(key);
  if (c.state !== 'claimed') throw new Error(`expected a claim, got ${c.state}`);
  return { key, ledgerToken: c.token, acceptStatus: 200, retentionMs: 60_000, route: '/t', tenant: 'acme', dispatchOwner: null, leaseMs: 30_000, method: 'POST', path: '/t', headers: ['Content-Type', 'application/json'], body, meta: null };
};

t.test('toBuffers: Uint8Arrays become Buffers over the same memory, in arrays and plain objects; the rest is left alone', async (t) => {
  const u8 = new Uint8Array([1, 2, 3]);
  const out = toBuffers({ a: [u8], b: 'x', c: null, d: { e: u8 } }) as { a: Buffer[]; b: string; c: null; d: { e: Buffer } };
  t.ok(Buffer.isBuffer(out.a[0]) && Buffer.isBuffer(out.d.e));
  t.same([...out.a[0]!], [1, 2, 3]);
  t.equal(out.b, 'x');
  t.equal(out.c, null);
});

t.test('stored through the thread: committed on the file, bytes intact', async (t) => {
  const store = await openSpoolStore({ url });
  t.teardown(() => store.close());
  t.ok(store instanceof ThreadedSqliteSpool, 'the thread is what `run` opens');
  const body = Buffer.from([0, 255, 10, 13, 0x7b]);
  t.match(await store.accept(await input('th-1', body)), { state: 'spooled', delivering: false });
  // a connection of this thread reads what the worker committed
  const direct = openSqliteSpool(url);
  t.teardown(() => direct.close());
  t.match(await direct.get('th-1'), { state: 'pending', route: '/t', tenant: 'acme' });
  const due = await store.due('/t', 10, 10);
  t.ok(due.length === 1 && Buffer.isBuffer(due[0]!.keyHash), 'a key hash comes back as a Buffer');
  const [claimed] = await store.claim([keyHash('th-1')], '00000000-0000-4000-8000-000000000001', 30_000);
  t.ok(Buffer.isBuffer(claimed!.body), 'the body comes back as a Buffer');
  t.same(claimed!.body, body, 'byte for byte');
  t.same(claimed!.headers, ['Content-Type', 'application/json']);
});

type Linked = { link: { terminate?(): Promise<number> } | null };

/**
 * A call made once its thread is told to stop: it cannot be answered. (Stopping a thread inside a
 * SQLite call is no test of ours: better-sqlite3 aborts the process when its error meets a
 * terminating isolate.)
 */
async function callWhileDying(store: SpoolStore, worker: { terminate(): Promise<number> }): Promise<unknown> {
  const exited = worker.terminate();
  const waiting = store.pause('/t', 'acme').then(() => null, (e: unknown) => e);
  await exited;
  return waiting;
}

t.test('with the ledger\'s thread on the same file in this process, the spool is served on its connection', async (t) => {
  const store = await openSpoolStore({ url });
  t.teardown(() => store.close());
  t.ok((store as unknown as Linked).link instanceof MessagePort, 'a port into the ledger\'s worker, not a worker of its own');
  t.match(await store.accept(await input('th-sh', Buffer.from('{}'))), { state: 'spooled' });
  t.match(await ledger.claim('th-sh'), { state: 'done', status: 200 }, 'the ledger, in the same thread, sees the accept');
  const own = await openThreadedSqliteSpool(ownWorker(url, 2000));
  t.teardown(() => own.close());
  t.ok((own as unknown as Linked).link instanceof Worker, 'a store opened for its own worker');
  t.match(await own.get('th-sh'), { state: 'pending' }, 'its own connection reads the same file');
});

t.test('a worker of its own that dies: waiting calls fail as ledger_unavailable, the next call starts a new worker on the same file', async (t) => {
  const store = await openThreadedSqliteSpool(ownWorker(url, 2000));
  t.teardown(() => store.close());
  t.match(await store.accept(await input('th-2', Buffer.from('{}'))), { state: 'spooled' });
  const worker = (store as unknown as Linked).link! as unknown as Worker;
  const err = await callWhileDying(store, worker);
  t.ok(err instanceof GatewayError && err.code === 'ledger_unavailable', 'the call in flight failed as ledger_unavailable (503 at the accept), not a crash');
  t.match(await store.get('th-2'), { state: 'pending', key: 'th-2' }, 'a new worker answers, and the committed delivery is there');
});

t.test('the ledger\'s thread that dies: the spool\'s waiting calls fail as ledger_unavailable, the next call reconnects to a new one', async (t) => {
  const store = await openSpoolStore({ url });
  t.teardown(() => store.close());
  t.match(await store.accept(await input('th-6', Buffer.from('{}'))), { state: 'spooled' });
  const thread = ledgerThreadOn(url)!;
  const worker = (thread as unknown as { worker: Worker }).worker;
  const err = await callWhileDying(store, worker);
  t.ok(err instanceof GatewayError && err.code === 'ledger_unavailable', 'the call in flight failed as ledger_unavailable');
  t.match(await store.get('th-6'), { state: 'pending', key: 'th-6' }, 'served again (by the ledger\'s new worker), and the committed delivery is there');
  t.not((thread as unknown as { worker: Worker }).worker, worker, 'a new worker');
  t.match(await ledger.claim('th-6'), { state: 'done' }, 'the ledger answers from the same new worker');
});

t.test('an error inside the worker arrives as ledger_unavailable with its cause', async (t) => {
  const store = await openSpoolStore({ url });
  t.teardown(() => store.close());
  // the same key accepted twice with a token that is no longer the claim's: the store says lost, not an error
  t.match(await store.accept({ ...(await input('th-3', Buffer.from('{}'))), ledgerToken: '00000000-0000-4000-8000-00000000dead' }), { state: 'lost' });
  await store.close();
  const err = await store.get('th-3').then(() => null, (e: unknown) => e);
  t.ok(err instanceof GatewayError && err.code === 'ledger_unavailable', 'a call after close is refused as ledger_unavailable');
});

t.test('a file the worker cannot open: the open rejects, nothing hangs', async (t) => {
  await t.rejects(openSpoolStore({ url: `embedded:${join(dir, 'missing', 'nested', 'x.db')}` }));
});

t.test('durability: an accept commits with synchronous=FULL; a claim and a settle with NORMAL (the next FULL commit syncs them)', async (t) => {
  const direct = openSqliteSpool(url);
  t.teardown(() => direct.close());
  const mode = () => (direct as unknown as { db: { pragma(p: string, o: { simple: true }): number } }).db.pragma('synchronous', { simple: true });
  const FULL = 2;
  const NORMAL = 1;
  t.match(await direct.accept(await input('th-4', Buffer.from('{}'))), { state: 'spooled' });
  t.equal(mode(), FULL, 'the accept behind a 2xx: FULL');
  const owner = '00000000-0000-4000-8000-000000000004';
  t.equal((await direct.claim([keyHash('th-4')], owner, 30_000)).length, 1);
  t.equal(mode(), NORMAL, 'a claim: NORMAL');
  // The dispatcher's next poll reads before it claims: a read leaves the setting alone (switching to
  // FULL for it compiled two pragmas a poll).
  const switches: string[] = [];
  const db = (direct as unknown as { db: { pragma(p: string, o?: object): unknown } }).db;
  const pragma = db.pragma.bind(db);
  db.pragma = (p: string, o?: object) => {
    if (p.startsWith('synchronous =')) switches.push(p);
    return pragma(p, o);
  };
  await direct.due('/webhooks/stripe', 4, 64);
  await direct.list({ state: 'pending' });
  await direct.stats();
  await direct.ping();
  t.same(switches, [], 'due, list, stats and ping switch nothing');
  t.equal(mode(), NORMAL, 'still as the claim left it');
  t.equal(await direct.settle(keyHash('th-4'), owner, { state: 'delivered', status: 200, keepMs: 60_000 }), true);
  t.equal(mode(), NORMAL, 'a settle: NORMAL');
  t.match(await direct.accept(await input('th-5', Buffer.from('{}'))), { state: 'spooled' });
  t.equal(mode(), FULL, 'the next accept: FULL again');
  t.ok(await direct.replay(keyHash('th-4').toString('hex')), 'an operator\'s replay');
  t.equal(mode(), FULL, 'behind an answer: FULL');
});

t.test('on the ledger\'s connection: the ledger\'s commits keep the setting it was opened with (FULL once a route spools)', async (t) => {
  for (const opened of ['full', 'normal'] as const) {
    const db = openSqlite(url, 2000, opened);
    const shared = new SqliteSpoolStore(db, Date.now, false);
    const mode = () => db.pragma('synchronous', { simple: true });
    t.match(await shared.accept(await input(`th-r-${opened}`, Buffer.from('{}'))), { state: 'spooled' });
    t.equal(mode(), 2, `${opened}: the accept FULL`);
    await shared.settle(keyHash('nothing'), '00000000-0000-4000-8000-000000000009', { state: 'delivered', status: 200, keepMs: 1 });
    t.equal(mode(), 1, `${opened}: a settle NORMAL`);
    shared.restore();
    t.equal(mode(), opened === 'full' ? 2 : 1, `${opened}: restored for the ledger's next batch`);
    await shared.close();
    t.ok(db.open, 'the spool does not close the ledger\'s connection');
    db.close();
  }
});

t.test('the ledger\'s batches ride in the accepts\' transaction: committed together, answered after the commit, failed together', async (t) => {
  const db = openSqlite(url, 2000, 'full');
  t.teardown(() => db.close());
  const shared = new SqliteSpoolStore(db, Date.now, false);
  const seen: string[] = [];
  const inTx: boolean[] = [];
  const accepted = shared.accept(await input('th-ride-1', Buffer.from('{}')));
  shared.ride({ run: () => { inTx.push(db.inTransaction); seen.push('run'); }, committed: () => seen.push('committed'), failed: () => seen.push('failed') });
  t.match(await accepted, { state: 'spooled' });
  t.same(seen, ['run', 'committed'], 'run, then answered once committed');
  t.same(inTx, [true], 'inside the accepts\' transaction');

  // a rider that breaks the transaction: nothing of the turn applied, every part answered with the error
  seen.length = 0;
  const refused = shared.accept(await input('th-ride-2', Buffer.from('{}')));
  shared.ride({ run: () => { throw new Error('disk I/O error'); }, committed: () => seen.push('committed'), failed: (err) => seen.push(`failed: ${(err as Error).message}`) });
  const err = await refused.then(() => null, (e: unknown) => e);
  t.ok(err instanceof GatewayError && err.code === 'ledger_unavailable', 'the accept fails as ledger_unavailable');
  t.same(seen, ['failed: disk I/O error']);
  t.equal(await shared.get('th-ride-2'), undefined, 'nothing stored');

  // alone (no accept in the turn): committed with the connection's own setting
  seen.length = 0;
  await new Promise<void>((resolve) => shared.ride({ run: () => { seen.push(`sync ${db.pragma('synchronous', { simple: true })}`); }, committed: resolve, failed: resolve }));
  t.same(seen, ['sync 2'], 'the ledger opened FULL commits FULL');
  await shared.close();
});
