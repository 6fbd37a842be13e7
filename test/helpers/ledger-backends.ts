// Test backends for the ledger suite. A "cluster" is one ledger database; each `replica()` is a
// ledger instance of its own against it (its own pool, connection and LRU), as gateway replicas are.
//
// PostgreSQL: the server at HOOKGATE_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test),
// in SERIALIZABLE, a schema of its own per test file, dropped at the end. When the variable is not
// set and nothing answers there, PGlite (in process, dev-only) stands in so `npm test` still runs
// the suite on a bare machine; when it IS set, an unreachable server fails the tests.
// HOOKGATE_TEST_PG=pglite forces the fallback.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import Database from 'better-sqlite3';
import type { Ledger, LedgerOptions } from '../../src/ledger/types.js';
import { CachedLedger } from '../../src/ledger/cached.js';
import { instrument, type LedgerHooks } from '../../src/ledger/index.js';
import { openSqlLedger, pgDriver, type SqlDriver } from '../../src/ledger/sql.js';
import { EmbeddedLedger } from '../../src/ledger/embedded.js';
import { openThreadedEmbeddedLedger } from '../../src/ledger/embedded-thread.js';
import { migrateSqlite, type Query } from '../../src/ledger/migrations.js';
import { keyHash } from '../../src/ledger/common.js';
import { unavailable } from '../../src/ledger/retry.js';

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

export type PgTarget = { kind: 'postgres'; url: string } | { kind: 'pglite' };

let target: Promise<PgTarget> | undefined;

/** Where the PostgreSQL tests run: the real server, or PGlite when none is reachable and none was asked for. */
export function pgTarget(): Promise<PgTarget> {
  target ??= (async (): Promise<PgTarget> => {
    if (process.env.HOOKGATE_TEST_PG === 'pglite') return { kind: 'pglite' };
    const explicit = process.env.HOOKGATE_TEST_PG_URL;
    const url = explicit || DEFAULT_PG_URL;
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return { kind: 'postgres', url };
    } catch (err) {
      if (explicit) throw new Error(`HOOKGATE_TEST_PG_URL is set but PostgreSQL there cannot be reached: ${(err as Error).message}`);
      return { kind: 'pglite' };
    } finally {
      await c.end().catch(() => {});
    }
  })();
  return target;
}

export const BASE_OPTIONS: LedgerOptions = {
  url: 'embedded',
  retentionMs: 60_000,
  leaseMs: 5_000,
  cache: 1000,
  migrate: true,
  sweepIntervalMs: 0,
};

export interface LedgerRow { status: string; owner: string; attempt: number; resp_status: number | null; live: boolean }

export interface Replica extends Ledger {
  /** database operations (SQL: statements; embedded: ledger calls) this replica has made */
  dbCalls(): number;
  /** from now on the database is unreachable for this replica */
  cutDatabase(): void;
}

export interface LedgerCluster {
  readonly name: string;
  readonly kind: 'postgres' | 'pglite' | 'embedded-memory' | 'embedded-file';
  replica(opts?: Partial<LedgerOptions>, hooks?: LedgerHooks): Promise<Replica>;
  /** the row as stored, read directly */
  row(key: string): Promise<LedgerRow | undefined>;
  close(): Promise<void>;
}

const refused = () => Object.assign(new Error('connect ECONNREFUSED (database cut by the test)'), { code: 'ECONNREFUSED' });

function countingDriver(driver: SqlDriver): { driver: SqlDriver; calls: () => number; cut: () => void } {
  let calls = 0;
  let cut = false;
  const wrap = (q: Query): Query => (text, values) => {
    calls++;
    return cut ? Promise.reject(refused()) : q(text, values);
  };
  return {
    driver: {
      query: wrap(driver.query),
      withConnection: (fn) => (cut ? Promise.reject(refused()) : driver.withConnection((q) => fn(wrap(q)))),
      end: () => driver.end(),
    },
    calls: () => calls,
    cut: () => { cut = true; },
  };
}

function countingLedger(inner: Ledger): { ledger: Ledger; calls: () => number; cut: () => void } {
  let calls = 0;
  let cut = false;
  // What the embedded ledger throws when SQLite fails (it has no network to retry over).
  const gate = <T>(fn: () => Promise<T>): Promise<T> => {
    calls++;
    return cut ? Promise.reject(unavailable('test', refused())) : fn();
  };
  return {
    ledger: {
      get backend() { return inner.backend; },
      claim: (k) => gate(() => inner.claim(k)),
      complete: (k, t, s) => gate(() => inner.complete(k, t, s)),
      release: (k, t) => gate(() => inner.release(k, t)),
      ping: () => gate(() => inner.ping()),
      close: () => inner.close(),
    },
    calls: () => calls,
    cut: () => { cut = true; },
  };
}

function asReplica(inner: Ledger, calls: () => number, cut: () => void, opts: LedgerOptions, hooks: LedgerHooks): Replica {
  const cached = new CachedLedger(instrument(inner, hooks), opts.cache, opts.retentionMs, hooks);
  return Object.assign(cached, { dbCalls: calls, cutDatabase: cut });
}

/** A schema name for this test file, unique per run. */
export function schemaName(tag: string): string {
  return `hg_${tag.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
}

/** PostgreSQL (or the PGlite fallback) as a cluster; one schema for the file. */
export async function pgCluster(tag: string, base: Partial<LedgerOptions> = {}): Promise<LedgerCluster> {
  const tgt = await pgTarget();
  const schema = schemaName(tag);
  const opened: Ledger[] = [];

  if (tgt.kind === 'postgres') {
    const admin = new pg.Pool({ connectionString: tgt.url, max: 2 });
    return {
      name: 'postgres (SERIALIZABLE)',
      kind: 'postgres',
      async replica(o = {}, hooks = {}) {
        const opts = { ...BASE_OPTIONS, ...base, ...o, url: tgt.url, schema };
        const counted = countingDriver(pgDriver(tgt.url, { poolSize: opts.poolSize ?? 5 }));
        const inner = await openSqlLedger(counted.driver, opts, hooks.onRetry ? { onRetry: hooks.onRetry } : {});
        const r = asReplica(inner, counted.calls, counted.cut, opts, hooks);
        opened.push(r);
        return r;
      },
      async row(key) {
        const { rows } = await admin.query(
          `SELECT status, owner::text AS owner, attempt, resp_status, expires_at > now() AS live FROM "${schema}".hookgate_ledger WHERE key_hash = $1`,
          [keyHash(key)]);
        return rows[0] as LedgerRow | undefined;
      },
      async close() {
        for (const l of opened) await l.close().catch(() => {});
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
        await admin.end();
      },
    };
  }

  // PGlite: one in-process engine; each replica gets a driver over it (it has one connection).
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create();
  await db.exec(`SET default_transaction_isolation = serializable`);
  const q: Query = async (text, values) => {
    const r = await db.query(text, values as unknown[]);
    return { rows: r.rows as any[], rowCount: r.affectedRows ?? r.rowCount ?? r.rows.length };
  };
  const driver = (): SqlDriver => ({ query: q, withConnection: (fn) => fn(q), end: async () => {} });
  return {
    name: 'postgres (PGlite fallback, SERIALIZABLE)',
    kind: 'pglite',
    async replica(o = {}, hooks = {}) {
      const opts = { ...BASE_OPTIONS, ...base, ...o, url: 'postgres://pglite/', schema };
      const counted = countingDriver(driver());
      const inner = await openSqlLedger(counted.driver, opts, hooks.onRetry ? { onRetry: hooks.onRetry } : {});
      const r = asReplica(inner, counted.calls, counted.cut, opts, hooks);
      opened.push(r);
      return r;
    },
    async row(key) {
      const { rows } = await q(
        `SELECT status, owner::text AS owner, attempt, resp_status, expires_at > now() AS live FROM "${schema}".hookgate_ledger WHERE key_hash = $1`,
        [keyHash(key)]);
      return rows[0] as LedgerRow | undefined;
    },
    async close() {
      for (const l of opened) await l.close().catch(() => {});
      await db.close();
    },
  };
}

/** The embedded ledger as a cluster: in memory (replicas share one database) or one file on disk. */
export function embeddedCluster(where: 'memory' | 'file', base: Partial<LedgerOptions> = {}): LedgerCluster {
  const opened: Ledger[] = [];
  if (where === 'memory') {
    // An in-memory SQLite database belongs to its connection: replicas share that one connection.
    const db = new Database(':memory:');
    migrateSqlite(db);
    return {
      name: 'embedded (memory)',
      kind: 'embedded-memory',
      async replica(o = {}, hooks = {}) {
        const opts = { ...BASE_OPTIONS, ...base, ...o, url: 'embedded' };
        const inner = new EmbeddedLedger(db, opts);
        const view: Ledger = { get backend() { return inner.backend; }, claim: (k) => inner.claim(k), complete: (k, t, s) => inner.complete(k, t, s), release: (k, t) => inner.release(k, t), ping: () => inner.ping(), close: async () => {} };
        const counted = countingLedger(view);
        const r = asReplica(counted.ledger, counted.calls, counted.cut, opts, hooks);
        opened.push(r);
        return r;
      },
      async row(key) {
        return sqliteRow(db, key);
      },
      async close() {
        for (const l of opened) await l.close().catch(() => {});
        db.close();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-ledger-'));
  const url = `embedded:${join(dir, 'nested', 'ledger.db')}`;
  let reader: Database.Database | undefined;
  return {
    // What `hookgate run` opens for embedded:PATH: SQLite in a worker thread; each replica its own
    // worker and connection on the one file, like separate processes.
    name: 'embedded (file, WAL, worker thread)',
    kind: 'embedded-file',
    async replica(o = {}, hooks = {}) {
      const opts = { ...BASE_OPTIONS, ...base, ...o, url };
      const counted = countingLedger(await openThreadedEmbeddedLedger(opts));
      const r = asReplica(counted.ledger, counted.calls, counted.cut, opts, hooks);
      opened.push(r);
      return r;
    },
    async row(key) {
      reader ??= new Database(url.slice('embedded:'.length), { readonly: true });
      return sqliteRow(reader, key);
    },
    async close() {
      for (const l of opened) await l.close().catch(() => {});
      reader?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function sqliteRow(db: Database.Database, key: string): LedgerRow | undefined {
  const r = db.prepare('SELECT status, owner, attempt, resp_status, expires_at > ? AS live FROM hookgate_ledger WHERE key_hash = ?').get(Date.now(), keyHash(key)) as
    | { status: string; owner: string; attempt: number; resp_status: number | null; live: number }
    | undefined;
  return r ? { ...r, live: r.live === 1 } : undefined;
}

/** Polls `fn` until it returns a value, at most `tries` times, `everyMs` apart. */
export async function eventually<T>(fn: () => Promise<T | undefined>, tries = 100, everyMs = 25): Promise<T | undefined> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return undefined;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const newKey = (label = 'k') => `test:${label}:${randomBytes(8).toString('hex')}`;
