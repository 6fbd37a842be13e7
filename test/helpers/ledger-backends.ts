// Test backends for the ledger suite. A "cluster" is one ledger database; each `replica()` is a
// ledger instance of its own against it (its own pool, connection and LRU), as gateway replicas are.
//
// PostgreSQL: the server at HOOKGATE_TEST_PG_URL (test/helpers/services.ts; default
// postgres://postgres@127.0.0.1:5432/test), in SERIALIZABLE, a schema of its own per test file,
// dropped at the end. Files call requirePostgres(t) first: an unreachable server fails them.
// PGlite is a backend of its own (pgliteCluster, test/ledger/pglite.test.ts), never a stand-in for
// the server: it has one connection, so it runs no race test.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import Database from 'better-sqlite3';
import type { Ledger, LedgerOptions } from '../../src/ledger/types.js';
import { frontLedger, type LedgerHooks } from '../../src/ledger/index.js';
import { MapLedger } from '../../src/ledger/memory.js';
import { KeyTable } from '../../src/ledger/key-table.js';
import { openSqlLedger, pgDriver, type SqlDriver } from '../../src/ledger/sql.js';
import { EmbeddedLedger } from '../../src/ledger/embedded.js';
import { openThreadedEmbeddedLedger } from '../../src/ledger/embedded-thread.js';
import { migrateSqlite, type Query } from '../../src/ledger/migrations.js';
import { keyHash } from '../../src/ledger/common.js';
import { unavailable } from '../../src/ledger/retry.js';

import { PG_URL } from './services.js';

export { PG_URL };

export const BASE_OPTIONS: LedgerOptions = {
  url: 'embedded',
  retentionMs: 60_000,
  leaseMs: 5_000,
  cache: 1000,
  migrate: true,
  sweepIntervalMs: 0,
};

export interface LedgerRow {
  status: string; owner: string; attempt: number; resp_status: number | null;
  /** within retention */
  live: boolean;
  /** the claim's lease has not run out yet (database time) */
  leased: boolean;
}

export interface Replica extends Ledger {
  /** database operations (SQL: statements; embedded: ledger calls) this replica has made */
  dbCalls(): number;
  /** from now on the database is unreachable for this replica */
  cutDatabase(): void;
}

export interface LedgerCluster {
  readonly name: string;
  readonly kind: 'postgres' | 'pglite' | 'embedded-memory' | 'embedded-map' | 'embedded-file';
  /** false where claims cannot run concurrently (PGlite: one connection), so race tests would prove nothing */
  readonly concurrent: boolean;
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
  // A synchronous answer from the engine's memory (the Map engine) is no database call: not counted,
  // and not cut (there is no database between it and its table).
  const cached = inner.cached?.bind(inner);
  return {
    ledger: {
      get backend() { return inner.backend; },
      ...(cached ? { cached } : {}),
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
  return Object.assign(frontLedger(inner, opts, hooks), { dbCalls: calls, cutDatabase: cut });
}

/** A schema name for this test file, unique per run. */
export function schemaName(tag: string): string {
  return `hg_${tag.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
}

/** PostgreSQL at PG_URL as a cluster; one schema for the file. Call requirePostgres(t) before. */
export async function pgCluster(tag: string, base: Partial<LedgerOptions> = {}): Promise<LedgerCluster> {
  const url = PG_URL;
  const schema = schemaName(tag);
  const opened: Ledger[] = [];
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  return {
    name: 'postgres (SERIALIZABLE)',
    kind: 'postgres',
    concurrent: true,
    async replica(o = {}, hooks = {}) {
      const opts = { ...BASE_OPTIONS, ...base, ...o, url, schema };
      const counted = countingDriver(pgDriver(url, { poolSize: opts.poolSize ?? 5 }));
      const inner = await openSqlLedger(counted.driver, opts, hooks.onRetry ? { onRetry: hooks.onRetry } : {});
      const r = asReplica(inner, counted.calls, counted.cut, opts, hooks);
      opened.push(r);
      return r;
    },
    async row(key) {
      const { rows } = await admin.query(
        `SELECT status, owner::text AS owner, attempt, resp_status, expires_at > now() AS live, lease_until > now() AS leased FROM "${schema}".hookgate_ledger WHERE key_hash = $1`,
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

/**
 * PGlite (PostgreSQL compiled to WebAssembly, in process) as a cluster of its own: the SQL ledger's
 * statements and migrations on a second PostgreSQL build, without a server. One engine, one
 * connection: replicas take turns, so it is not concurrent and the suite runs no race on it.
 */
export async function pgliteCluster(tag: string, base: Partial<LedgerOptions> = {}): Promise<LedgerCluster> {
  const schema = schemaName(tag);
  const opened: Ledger[] = [];
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
    name: 'pglite (in process, one connection, SERIALIZABLE)',
    kind: 'pglite',
    concurrent: false,
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
        `SELECT status, owner::text AS owner, attempt, resp_status, expires_at > now() AS live, lease_until > now() AS leased FROM "${schema}".hookgate_ledger WHERE key_hash = $1`,
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
      // One connection, as in `hookgate run` (embedded in memory is one process): claims interleave
      // there exactly as they do in production, so the races are the product's own.
      concurrent: true,
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
    concurrent: true,
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

/**
 * The Map engine of `embedded` in memory (src/ledger/memory.ts) as a cluster: replicas share one
 * table, as they share the one SQLite connection of embeddedCluster('memory'); each its own options,
 * clock and front (LRU or not, as openLedger builds it).
 */
export function mapCluster(base: Partial<LedgerOptions> = {}): LedgerCluster & { store: KeyTable } {
  const opened: Ledger[] = [];
  const store = new KeyTable();
  return {
    name: 'embedded (memory, Map engine)',
    kind: 'embedded-map',
    concurrent: true,
    store,
    async replica(o = {}, hooks = {}) {
      const opts = { ...BASE_OPTIONS, ...base, ...o, url: 'embedded' };
      const inner = new MapLedger(opts, store, Date.now, false);
      const counted = countingLedger(inner);
      const r = asReplica(counted.ledger, counted.calls, counted.cut, opts, hooks);
      opened.push(r);
      return r;
    },
    async row(key) {
      const e = store.row(key);
      if (!e) return undefined;
      const now = Date.now();
      return { status: e.status, owner: e.owner, attempt: e.attempt, resp_status: e.status === 'done' ? e.respStatus : null, live: e.expiresAt > now, leased: e.leaseUntil > now };
    },
    async close() {
      for (const l of opened) await l.close().catch(() => {});
      store.clear();
    },
  };
}

function sqliteRow(db: Database.Database, key: string): LedgerRow | undefined {
  const now = Date.now();
  const r = db.prepare('SELECT status, owner, attempt, resp_status, expires_at > ? AS live, lease_until > ? AS leased FROM hookgate_ledger WHERE key_hash = ?').get(now, now, keyHash(key)) as
    | { status: string; owner: string; attempt: number; resp_status: number | null; live: number; leased: number }
    | undefined;
  return r ? { ...r, live: r.live === 1, leased: r.leased === 1 } : undefined;
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
