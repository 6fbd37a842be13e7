// Opening an embedded SQLite file (src/ledger/sqlite-connection.ts): the pragmas every connection to
// it gets, the ledger's and the spool's alike.
import t from 'tap';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BASE_OPTIONS, newKey } from '../helpers/ledger-backends.js';
import { migrate } from '../../src/ledger/index.js';
import { openEmbeddedLedger } from '../../src/ledger/embedded.js';
import { checkpointPages, openSqlite, SQLITE_CACHE_KIB, SQLITE_CHECKPOINT_PAGES } from '../../src/ledger/sqlite-connection.js';
import { openSqliteSpool } from '../../src/spool/store/sqlite.js';

t.test('embedded:PATH: each connection keeps a 2 MiB page cache, not the 16 MiB better-sqlite3 builds in (RSS after a fill, docs/benchmarks.md)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-embedded-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ledger.db');
  await migrate(`embedded:${file}`);
  const db = openSqlite(`embedded:${file}`);
  t.teardown(() => db.close());
  t.equal(db.pragma('cache_size', { simple: true }), -SQLITE_CACHE_KIB);
  t.equal(SQLITE_CACHE_KIB, 2000);
  // the build default, which an in-memory database keeps (its pages cannot be evicted anyway)
  const mem = openSqlite('embedded');
  t.teardown(() => mem.close());
  t.equal(mem.pragma('cache_size', { simple: true }), -16000);
  // the spool's own connection (the `hookgate spool` command's worker) is opened the same way
  const spool = openSqliteSpool(`embedded:${file}`);
  t.teardown(() => spool.close());
  t.equal((spool as unknown as { db: Database.Database }).db.pragma('cache_size', { simple: true }), -SQLITE_CACHE_KIB);
});

t.test('embedded:PATH checkpoints its WAL every 10,000 pages, not every 1,000, and the WAL stays bounded', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-embedded-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ledger.db');
  t.equal(SQLITE_CHECKPOINT_PAGES, 10_000);
  const db = openSqlite(`embedded:${file}`);
  t.equal(db.pragma('wal_autocheckpoint', { simple: true }), SQLITE_CHECKPOINT_PAGES);
  db.close();
  // the switch for A/B benchmarks takes a page count; anything else keeps the default
  t.equal(checkpointPages('1000'), 1000);
  t.equal(checkpointPages('0'), 0);
  for (const bad of [undefined, '', 'x', '-1', '1.5']) t.equal(checkpointPages(bad), 10_000, `HOOKGATE_SQLITE_CHECKPOINT_PAGES=${String(bad)}`);

  // Several times 10,000 pages written: checkpoints still run and the WAL starts over, so the file stays
  // near 10,000 pages of 4 KiB (each with its 24-byte frame header).
  const ledger = openEmbeddedLedger({ ...BASE_OPTIONS, url: `embedded:${file}`, migrate: true });
  t.teardown(() => ledger.close());
  for (let i = 0; i < 600; i++) {
    const keys = Array.from({ length: 50 }, () => newKey());
    const claims = await Promise.all(keys.map((k) => ledger.claim(k)));
    await Promise.all(claims.map((c, j) => ledger.complete(keys[j]!, (c as { token: string }).token, 200)));
  }
  const check = new Database(file, { readonly: true });
  t.teardown(() => check.close());
  t.equal((check.prepare('SELECT COUNT(*) AS n FROM hookgate_ledger').get() as { n: number }).n, 30_000, 'every delivery is in the ledger');
  const wal = statSync(`${file}-wal`).size;
  t.ok(wal <= 11_000 * (4096 + 24), `the WAL stays near 10,000 pages (${Math.round(wal / 1e6)} MB)`);
});
