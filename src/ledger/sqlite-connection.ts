// Opening an embedded SQLite file: its permissions and pragmas, and the schema check. Shared by the
// embedded ledger (embedded.ts, embedded-worker.ts) and the embedded spool (src/spool/store/sqlite.ts),
// which open the same file.
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { LedgerOptions } from './types.js';
import { migrateSqlite } from './migrations.js';
import { requiredVersion } from './schema-versions.js';
import { embeddedPath } from './common.js';

/**
 * The ledger holds every delivery key of the last `retention`: only hookgate's user may read it.
 * Folders it creates are 0700 and the database 0600 whatever the umask (SQLite gives the -wal and
 * -shm files the database's mode). A database left readable by others (an earlier version) is
 * tightened; a folder that already exists (a mounted volume) is the operator's and is not changed.
 */
function privateFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if ((statSync(p).mode & 0o077) !== 0) chmodSync(p, 0o600);
    } catch {
      // missing (-wal/-shm before the first write) or not ours to change: SQLite's open decides
    }
  }
}

/** The page cache of an embedded file's connection, in KiB. */
export const SQLITE_CACHE_KIB = 2000;

/**
 * WAL pages between automatic checkpoints (SQLite's default: 1,000). Deliveries write the same few
 * hundred pages again and again, and a checkpoint copies each page once however often the WAL holds
 * it: fewer, larger checkpoints copy less (docs/ledger.md). HOOKGATE_SQLITE_CHECKPOINT_PAGES overrides
 * it, for A/B benchmarks.
 */
export const SQLITE_CHECKPOINT_PAGES = checkpointPages(process.env.HOOKGATE_SQLITE_CHECKPOINT_PAGES);

export function checkpointPages(env: string | undefined): number {
  const n = Number(env);
  return env !== undefined && env.trim() !== '' && Number.isInteger(n) && n >= 0 ? n : 10_000;
}

export function openSqlite(url: string, busyTimeoutMs = 2000, synchronous: 'normal' | 'full' = 'normal'): Database.Database {
  const path = embeddedPath(url);
  if (path) privateFile(path);
  const db = new Database(path ?? ':memory:');
  if (path) {
    // WAL: readers never block the writer. synchronous=NORMAL is the setting SQLite recommends with
    // WAL: no corruption on a crash, but the last commits may be lost on power loss (docs/ledger.md).
    db.pragma('journal_mode = WAL');
    // FULL when a route spools: its 2xx says the delivery survived, power loss included (docs/spool.md).
    db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  }
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  // SQLite's own default page cache, not better-sqlite3's eight times larger one: the file's pages are
  // in the OS page cache anyway, so the larger one only held RSS (docs/benchmarks.md)
  if (path) db.pragma(`cache_size = -${SQLITE_CACHE_KIB}`);
  if (path) db.pragma(`wal_autocheckpoint = ${SQLITE_CHECKPOINT_PAGES}`);
  return db;
}

/** Opens the database of `opts.url`, migrated (or checked to be at the latest schema). */
export function openMigratedSqlite(opts: Pick<LedgerOptions, 'url' | 'migrate' | 'retryBudgetMs' | 'synchronous'>): Database.Database {
  const db = openSqlite(opts.url, opts.retryBudgetMs ?? 2000, opts.synchronous);
  try {
    // An in-memory ledger has nothing to keep: it always starts at the latest schema.
    if (opts.migrate || !embeddedPath(opts.url)) migrateSqlite(db);
    else {
      const v = (db.prepare(`SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'hookgate_schema_version'`).get() as { n: number }).n
        ? Number((db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM hookgate_schema_version').get() as { v: number }).v)
        : 0;
      if (v < requiredVersion('sqlite')) throw new Error(`the ledger schema is at version ${v}, this hookgate needs ${requiredVersion('sqlite')}: run \`hookgate migrate\` or set ledger.migrate: true`);
    }
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
