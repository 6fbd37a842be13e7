// The ledger suite against the embedded SQLite ledger, in memory (in the calling thread) and on disk
// (WAL, in a worker thread, as `hookgate run` opens them), and what is particular to each.
import t from 'tap';
import { ledgerSuite } from '../helpers/ledger-suite.js';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BASE_OPTIONS, embeddedCluster, newKey } from '../helpers/ledger-backends.js';
import { embeddedThread, migrate, openLedger, sqliteInThread } from '../../src/ledger/index.js';
import { openEmbeddedLedger, type Op } from '../../src/ledger/embedded.js';
import { openThreadedEmbeddedLedger, type LedgerThread } from '../../src/ledger/embedded-thread.js';
import { LATEST_VERSION as LATEST, MIGRATIONS, requiredVersion } from '../../src/ledger/schema-versions.js';
import { openSqliteSpool } from '../../src/spool/store/sqlite.js';
import { encodeHeaders } from '../../src/spool/store/headers.js';
import { keyHash } from '../../src/ledger/common.js';

t.test('in memory', async (t) => {
  ledgerSuite(t, async () => embeddedCluster('memory'));
});

t.test('on disk', async (t) => {
  ledgerSuite(t, async () => embeddedCluster('file'));
});

t.test('embedded:PATH creates the file and its folders, in WAL mode, and keeps done keys across a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-embedded-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'var', 'lib', 'hookgate', 'ledger.db');
  const url = `embedded:${file}`;
  const first = await openLedger({ ...BASE_OPTIONS, url });
  t.equal(first.backend, 'embedded');
  t.ok(existsSync(file), 'file created with its folders');
  const key = newKey();
  const c = await first.claim(key);
  if (c.state !== 'claimed') throw new Error('not claimed');
  t.equal(await first.complete(key, c.token, 200), true);
  const inFlight = newKey();
  t.equal((await first.claim(inFlight)).state, 'claimed');
  await first.close();

  const db = new Database(file, { readonly: true });
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  db.close();

  const second = await openLedger({ ...BASE_OPTIONS, url });
  t.teardown(() => second.close());
  t.match(await second.claim(key), { state: 'done', status: 200 }, 'done key remembered after a restart');
  t.equal((await second.claim(inFlight)).state, 'in_flight', 'a claim in flight before the restart still holds its lease');
});

// issue 13: the ledger's file and folders took the umask's permissions (0644 / 0755 under umask 022):
// any local user could read the delivery keys. Created now 0700 (folders) and 0600 (file, -wal, -shm).
t.test('embedded:PATH creates its folders 0700 and its files 0600 whatever the umask', async (t) => {
  const previous = process.umask(0o022);
  t.teardown(() => void process.umask(previous));
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-embedded-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'var', 'lib', 'hookgate', 'ledger.db');
  const ledger = await openLedger({ ...BASE_OPTIONS, url: `embedded:${file}` });
  const c = await ledger.claim(newKey()); // writes: the -wal and -shm files exist while the ledger is open
  t.equal(c.state, 'claimed');
  const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
  t.equal(mode(join(dir, 'var')), '700', 'each folder it created');
  t.equal(mode(join(dir, 'var', 'lib', 'hookgate')), '700');
  t.equal(mode(file), '600', 'the database');
  for (const suffix of ['-wal', '-shm']) if (existsSync(file + suffix)) t.equal(mode(file + suffix), '600', suffix);
  t.ok(existsSync(file + '-wal'), 'the WAL file was checked');
  await ledger.close();

  // A file an earlier version left readable by others is tightened on open; the folder (perhaps a
  // mounted volume) is left as the operator made it.
  const olderDir = join(dir, 'older');
  const older = join(olderDir, 'ledger.db');
  mkdirSync(olderDir, { mode: 0o755 });
  writeFileSync(older, '');
  chmodSync(older, 0o644);
  const again = await openLedger({ ...BASE_OPTIONS, url: `embedded:${older}` });
  t.teardown(() => again.close());
  t.equal(mode(older), '600', 'an existing database is made 0600');
  t.equal(mode(olderDir), '755', 'an existing folder is not changed');
});

t.test('migrate(url) on an embedded file: versioned, idempotent; migrate: false refuses an unmigrated file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-embedded-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const url = `embedded:${join(dir, 'm', 'ledger.db')}`;
  await t.rejects(openLedger({ ...BASE_OPTIONS, url, migrate: false }), /hookgate migrate/);
  t.same(await migrate(url), { backend: 'embedded', from: 0, to: MIGRATIONS.at(-1)!.version });
  t.same(await migrate(url), { backend: 'embedded', from: MIGRATIONS.at(-1)!.version, to: MIGRATIONS.at(-1)!.version });
  const l = await openLedger({ ...BASE_OPTIONS, url, migrate: false });
  t.teardown(() => l.close());
  t.equal((await l.claim(newKey())).state, 'claimed');
});

for (const at of [2, 3]) {
  t.test(`version ${LATEST} on a file at version ${at}: spooled rows and bodies are kept, byte for byte, in receive order, and the store reads them`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'hookgate-embedded-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, `v${at}.db`);
    const db = new Database(file);
    db.exec('CREATE TABLE hookgate_schema_version (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    for (const m of MIGRATIONS.filter((m) => m.version <= at)) {
      for (const stmt of m.sqlite) db.exec(stmt);
      db.prepare('INSERT INTO hookgate_schema_version VALUES (?, ?, 0)').run(m.version, m.name);
    }
    const later = Buffer.alloc(32, 1); // sorts first by hash, received second
    const hash = Buffer.alloc(32, 7);
    const orphan = Buffer.alloc(32, 9);
    const body = Buffer.from([0, 1, 2, 255, 0x7b]);
    const row = db.prepare(`INSERT INTO hookgate_spool (key_hash, key, route, tenant, state, next_at, received_at, updated_at) VALUES (?, ?, '/r', 'acme', 'pending', 0, ?, 0)`);
    row.run(later, 'later', 20);
    row.run(hash, 'k', 10);
    const headers = encodeHeaders(['Content-Type', 'application/json']);
    const bytes = db.prepare(`INSERT INTO hookgate_spool_body (key_hash, method, path, headers, body, meta) VALUES (?, 'POST', '/r', ?, ?, NULL)`);
    for (const h of [later, hash, orphan]) bytes.run(h, headers, h === later ? Buffer.from('later') : body);
    db.close();
    const url = `embedded:${file}`;
    await t.rejects(openLedger({ ...BASE_OPTIONS, url, migrate: false }), new RegExp(`at version ${at}, this hookgate needs ${requiredVersion('sqlite')}`), `an embedded file at ${at} is refused without migrate`);
    t.same(await migrate(url), { backend: 'embedded', from: at, to: LATEST });
    const after = new Database(file, { readonly: true });
    t.teardown(() => after.close());
    t.same(after.prepare('SELECT s.id, s.key, b.method, b.path, b.headers, b.body FROM hookgate_spool AS s JOIN hookgate_spool_body AS b ON b.id = s.id ORDER BY s.id').all(), [
      { id: 1, key: 'k', method: 'POST', path: '/r', headers, body },
      { id: 2, key: 'later', method: 'POST', path: '/r', headers, body: Buffer.from('later') },
    ], 'ids in receive order, each body under its row\'s id');
    t.equal((after.prepare('SELECT count(*) AS n FROM hookgate_spool_body').get() as { n: number }).n, 2, 'a body without its row is not carried over');
    t.match(after.prepare(`SELECT sql FROM sqlite_master WHERE name = 'hookgate_spool'`).get(), { sql: /id +INTEGER PRIMARY KEY,\s+key_hash +BLOB +NOT NULL UNIQUE/ }, 'a rowid table, the key hash a unique index');
    t.same(after.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'hookgate_spool' AND sql IS NOT NULL ORDER BY name`).all().map((r: any) => r.name),
      ['hookgate_spool_list', 'hookgate_spool_ready', 'hookgate_spool_sweep'], 'its indexes made again');
    const spool = openSqliteSpool(url);
    t.teardown(() => spool.close());
    const [claimed] = await spool.claim([hash], '00000000-0000-4000-8000-000000000003', 30_000);
    t.same(claimed?.body, body, 'the spool claims the delivery with its bytes');
    t.same(claimed?.headers, ['Content-Type', 'application/json']);
  });
}

t.test(`version ${LATEST} on a file at version 5: ledger rows are kept in rowid order, and a file not yet migrated still serves`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-embedded-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'v5.db');
  const db = new Database(file);
  db.exec('CREATE TABLE hookgate_schema_version (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  for (const m of MIGRATIONS.filter((m) => m.version <= 5)) {
    for (const stmt of m.sqlite) db.exec(stmt);
    db.prepare('INSERT INTO hookgate_schema_version VALUES (?, ?, 0)').run(m.version, m.name);
  }
  t.match(db.prepare(`SELECT sql FROM sqlite_master WHERE name = 'hookgate_ledger'`).get(), { sql: /WITHOUT ROWID/ }, 'version 5 clusters the rows by key hash');
  const now = Date.now();
  const [done, held, failed, expired, fresh] = [newKey(), newKey(), newKey(), newKey(), newKey()];
  const row = db.prepare(`INSERT INTO hookgate_ledger (key_hash, status, owner, attempt, lease_until, resp_status, created_at, updated_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const owner = '00000000-0000-4000-8000-000000000001';
  row.run(keyHash(done), 'done', owner, 1, now, 201, now - 40, now - 30, now + 3_600_000);
  row.run(keyHash(held), 'processing', owner, 1, now + 60_000, null, now - 20, now - 10, now + 3_600_000);
  row.run(keyHash(failed), 'failed', owner, 2, now, null, now - 50, now - 40, now + 3_600_000);
  row.run(keyHash(expired), 'done', owner, 1, now, 200, now - 90, now - 80, now - 1);
  db.close();
  const url = `embedded:${file}`;

  // tuning: a file at 5 is not refused, and serves
  const before = await openLedger({ ...BASE_OPTIONS, url, migrate: false });
  t.match(await before.claim(done), { state: 'done', status: 201 }, 'version 5 serves without the migration');
  await before.close();

  t.same(await migrate(url), { backend: 'embedded', from: 5, to: LATEST });
  const after = new Database(file, { readonly: true });
  t.match(after.prepare(`SELECT sql FROM sqlite_master WHERE name = 'hookgate_ledger'`).get(), { sql: /id +INTEGER PRIMARY KEY,\s+key_hash +BLOB +NOT NULL UNIQUE/ }, 'a rowid table, the key hash a unique index');
  t.same(after.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'hookgate_ledger' AND sql IS NOT NULL`).all(), [{ name: 'hookgate_ledger_expires_at' }], 'its index made again');
  t.same(after.prepare('SELECT id, status, attempt, resp_status FROM hookgate_ledger ORDER BY id').all(), [
    { id: 1, status: 'done', attempt: 1, resp_status: 200 },
    { id: 2, status: 'failed', attempt: 2, resp_status: null },
    { id: 3, status: 'done', attempt: 1, resp_status: 201 },
    { id: 4, status: 'processing', attempt: 1, resp_status: null },
  ], 'every row, in the order they were last written');
  after.close();

  const l = await openLedger({ ...BASE_OPTIONS, url, migrate: false });
  t.teardown(() => l.close());
  t.match(await l.claim(done), { state: 'done', status: 201 }, 'a settled key is still a duplicate with its first status');
  t.match(await l.claim(held), { state: 'in_flight' }, 'a held lease still holds');
  t.match(await l.claim(failed), { state: 'claimed', attempt: 3 }, 'a failed key is claimed again, its attempts counted on');
  t.match(await l.claim(expired), { state: 'claimed', attempt: 1 }, 'an expired key starts over');
  const c = await l.claim(fresh);
  t.match(c, { state: 'claimed', attempt: 1 });
  if (c.state === 'claimed') t.equal(await l.complete(fresh, c.token, 204), true);
  t.match(await l.claim(fresh), { state: 'done', status: 204 }, 'a new key claims and settles');
});

t.test('expired rows are swept in batches', async (t) => {
  let now = 1_000_000;
  const l = openEmbeddedLedger({ ...BASE_OPTIONS, retentionMs: 1000, leaseMs: 100 }, undefined, () => now);
  t.teardown(() => l.close());
  for (let i = 0; i < 25; i++) {
    const key = newKey();
    const c = await l.claim(key);
    if (c.state === 'claimed' && i % 2) await l.complete(key, c.token, 200);
  }
  t.equal(await l.sweep(), 0, 'nothing expired yet');
  now += 1001;
  t.equal(await l.sweep(10, 1), 10, 'one batch of 10');
  t.equal(await l.sweep(10), 15, 'the rest');
  t.equal(await l.sweep(), 0);
});

t.test('group commit: operations issued in one tick run in one transaction, answered each in order', async (t) => {
  for (const mode of ['immediate', 'microtask', 'off'] as const) {
    const l = openEmbeddedLedger({ ...BASE_OPTIONS }, undefined, Date.now, mode);
    t.teardown(() => l.close());
    const [k1, k2] = [newKey(), newKey()];
    const seed = await l.claim(k2);
    if (seed.state !== 'claimed') throw new Error('not claimed');
    // same tick: a new key twice, a complete of k2, then a claim of k2 after its complete
    const [a, b, done, after] = await Promise.all([l.claim(k1), l.claim(k1), l.complete(k2, seed.token, 201), l.claim(k2)]);
    t.match(a, { state: 'claimed', attempt: 1 }, `${mode}: the first claim of a key wins`);
    t.equal(b.state, 'in_flight', `${mode}: its duplicate in the same batch is in flight`);
    t.equal(done, true, `${mode}: the complete landed`);
    t.match(after, { state: 'done', status: 201 }, `${mode}: a claim queued after the complete sees it done`);
  }
});

t.test('group commit: an operation that fails in a batch fails alone; the others commit', async (t) => {
  const l = openEmbeddedLedger({ ...BASE_OPTIONS });
  t.teardown(() => l.close());
  const keys = [newKey(), newKey(), newKey()];
  // An operation the engine refuses, in the middle of the batch.
  const enqueue = (l as unknown as { enqueue(op: Op): Promise<unknown> }).enqueue.bind(l);
  const results = await Promise.allSettled([l.claim(keys[0]!), enqueue({ op: 'bogus', key: newKey() } as unknown as Op), l.claim(keys[1]!), l.claim(keys[2]!)]);
  t.match(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  t.match((results[1] as PromiseRejectedResult).reason, { code: 'ledger_unavailable' });
  for (const k of keys) t.equal((await l.claim(k)).state, 'in_flight', 'the other claims were committed');
});

t.test('group commit: a batch that cannot get the write lock fails with ledger_unavailable, and works once the lock is free', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-embedded-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ledger.db');
  const l = openEmbeddedLedger({ ...BASE_OPTIONS, url: `embedded:${file}`, retryBudgetMs: 50 });
  t.teardown(() => l.close());
  const other = new Database(file);
  t.teardown(() => other.close());
  other.exec('BEGIN IMMEDIATE');
  const keys = [newKey(), newKey()];
  const locked = await Promise.allSettled(keys.map((k) => l.claim(k)));
  t.same(locked.map((r) => r.status), ['rejected', 'rejected']);
  t.match((locked[0] as PromiseRejectedResult).reason, { code: 'ledger_unavailable' });
  other.exec('ROLLBACK');
  const free = await Promise.all(keys.map((k) => l.claim(k)));
  t.same(free.map((r) => r.state), ['claimed', 'claimed'], 'nothing of the failed batch had applied');
});

t.test('close settles what was issued before it', async (t) => {
  const l = openEmbeddedLedger({ ...BASE_OPTIONS });
  const key = newKey();
  const c = await l.claim(key);
  if (c.state !== 'claimed') throw new Error('not claimed');
  const done = l.complete(key, c.token, 200);
  await l.close();
  t.equal(await done, true);
  await t.rejects(l.claim(newKey()), { code: 'ledger_unavailable' });
});

t.test('worker thread: on disk by default, in memory only when asked (HOOKGATE_LEDGER_THREAD)', async (t) => {
  t.equal(embeddedThread('embedded:/var/lib/hookgate/ledger.db', true, undefined), true);
  t.equal(embeddedThread('embedded', true, undefined), false);
  t.equal(embeddedThread('embedded', true, 'on'), true);
  t.equal(embeddedThread('embedded:/x.db', true, 'off'), false);
  // `hookgate run` wants the thread only when a route spools (LedgerOptions.thread)
  t.equal(embeddedThread('embedded:/x.db', false, undefined), false);
  t.equal(embeddedThread('embedded:/x.db', false, 'on'), true);
  t.equal(sqliteInThread({ url: 'embedded:/x.db' }), true, 'openLedger: on disk by default');
  t.equal(sqliteInThread({ url: 'embedded:/x.db', thread: false }), false);
  t.equal(sqliteInThread({ url: 'embedded', thread: true }), false, 'in memory: the Map engine has no thread');
  t.equal(sqliteInThread({ url: 'postgres://h/db', thread: true }), false);
});

t.test('worker thread: sweeps, pings and answers in order; an operation the engine refuses fails alone', async (t) => {
  let now = 1_000_000;
  const l = await openThreadedEmbeddedLedger({ ...BASE_OPTIONS, url: 'embedded', retentionMs: 1000, leaseMs: 100 }, undefined, () => now);
  t.teardown(() => l.close());
  await l.ping();
  const [k1, k2] = [newKey(), newKey()];
  const enqueue = (l as unknown as { enqueue(op: Op): Promise<unknown> }).enqueue.bind(l);
  const r = await Promise.allSettled([l.claim(k1), l.claim(k1), enqueue({ op: 'bogus', key: k2 } as unknown as Op), l.claim(k2)]);
  t.match(r, [{ status: 'fulfilled', value: { state: 'claimed', attempt: 1 } }, { status: 'fulfilled', value: { state: 'in_flight' } }, { status: 'rejected', reason: { code: 'ledger_unavailable' } }, { status: 'fulfilled', value: { state: 'claimed' } }]);
  t.equal(await l.sweep(), 0, 'nothing expired yet');
  now += 1001;
  t.equal(await l.sweep(1, 1), 1, 'one batch of one, on the clock of the caller');
  t.equal(await l.sweep(), 1, 'the other');
  t.match(await l.claim(k1), { state: 'claimed', attempt: 1 }, 'swept: a new key again');
});

t.test('worker thread: an unmigrated file is refused at open, with the same message', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-embedded-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await t.rejects(openThreadedEmbeddedLedger({ ...BASE_OPTIONS, url: `embedded:${join(dir, 'l.db')}`, migrate: false }), /hookgate migrate/);
});

t.test('worker thread: a worker that dies fails what it held with ledger_unavailable; the next operation starts a new one on the same file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-embedded-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const warnings: string[] = [];
  const l = await openThreadedEmbeddedLedger({ ...BASE_OPTIONS, url: `embedded:${join(dir, 'l.db')}` }, { warn: (_o, msg) => warnings.push(msg) });
  t.teardown(() => l.close());
  const done = newKey();
  const c = await l.claim(done);
  if (c.state !== 'claimed') throw new Error('not claimed');
  t.equal(await l.complete(done, c.token, 201), true);

  // The worker ends on its own (told to close behind the ledger's back, as a crash would end it)
  // before it gets to the batch sent after that: the batch is never answered.
  const worker = (l as unknown as { thread: { worker: { postMessage(m: unknown): void } } }).thread.worker;
  worker.postMessage({ t: 'close', id: -1 });
  const held = l.claim(newKey());
  await t.rejects(held, { code: 'ledger_unavailable' }, 'the operation in flight fails, it is not left hanging');
  t.match(warnings, [/thread stopped; a new one starts/]);
  t.notMatch(warnings[0], /forgotten/, 'on disk nothing is forgotten');

  t.match(await l.claim(done), { state: 'done', status: 201 }, 'a new worker, the same file: the done key is still there');
  await l.ping();
});

t.test('worker thread: close settles what was issued before it, then refuses', async (t) => {
  const l = await openThreadedEmbeddedLedger({ ...BASE_OPTIONS, url: 'embedded' });
  const key = newKey();
  const c = await l.claim(key);
  if (c.state !== 'claimed') throw new Error('not claimed');
  const done = l.complete(key, c.token, 200);
  const again = l.claim(key);
  await l.close();
  t.equal(await done, true);
  t.match(await again, { state: 'done', status: 200 });
  await t.rejects(l.claim(newKey()), { code: 'ledger_unavailable' });
  const thread = (l as unknown as { thread: LedgerThread }).thread;
  t.equal((thread as unknown as { worker: unknown }).worker, null, 'the worker has exited');
});
