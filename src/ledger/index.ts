// Opening a ledger from its URL: `embedded`, `embedded:PATH`, `postgres://…` (PostgreSQL or
// CockroachDB, told apart at connect). The returned ledger has the hot LRU in front and reports its
// operations through hooks, so metrics and logs can be wired without the ledger knowing prom-client.
import type { ClaimResult, Ledger, LedgerOptions } from './types.js';
import { CachedLedger } from './cached.js';
import type { Dialect } from './sql.js';
import type { MigrationResult } from './migrations.js';
import { DEFAULT_RETRY, withRetry, type ErrorKind, type RetryPolicy } from './retry.js';
import { embeddedPath, type LedgerLog } from './common.js';

// Each engine's driver is loaded only for its URLs: `pg` for postgres://, better-sqlite3 for
// embedded:PATH (each is several MB of idle RSS the other deployments never use; docs/benchmarks.md,
// memory); `embedded` in memory loads neither (the Map engine: a table in typed arrays).
const embedded = () => import('./embedded.js');
const threaded = () => import('./embedded-thread.js');
const sql = () => import('./sql.js');
const memory = () => import('./memory.js');

export type { ClaimResult, Ledger, LedgerOptions } from './types.js';
export { CachedLedger } from './cached.js';

export interface LedgerHooks {
  /** each database operation that ran (cache hits excluded), with its duration: hookgate_ledger_duration_seconds{op} */
  onOp?(op: 'claim' | 'complete' | 'release', seconds: number): void;
  /** an operation failed past its retries (hookgate_ledger_errors_total); the error is rethrown to the caller */
  onError?(err: unknown): void;
  /** a duplicate of a done key answered from the LRU (hookgate_cache_hits_total) */
  onCacheHit?(): void;
  /** a statement failed and was retried or resolved through its owner token */
  onRetry?(err: unknown, kind: ErrorKind): void;
  log?: LedgerLog;
}

const SQL_SCHEMES = ['postgres:', 'postgresql:'];

function kindOf(url: string): 'embedded' | 'sql' {
  if (url === 'embedded' || url.startsWith('embedded:')) return 'embedded';
  if (SQL_SCHEMES.some((s) => url.startsWith(s + '//'))) return 'sql';
  throw new TypeError(`ledger.url: expected embedded, embedded:PATH or postgres://…, got ${describeLedger(url)}`);
}

/**
 * Whether SQLite runs in a worker thread: on disk when `wanted` (LedgerOptions.thread: `hookgate run`
 * wants it when a route spools, for the embedded spool to share its connection; the thread keeps the
 * spool's synced commits and checkpoints off the event loop), in memory no (the messages cost the
 * event loop more than the statements they move; docs/benchmarks.md). HOOKGATE_LEDGER_THREAD=on|off
 * overrides it, for benchmarks and tests.
 */
export function embeddedThread(url: string, wanted = true, env = process.env.HOOKGATE_LEDGER_THREAD): boolean {
  if (env === 'on' || env === 'off') return env === 'on';
  return wanted && embeddedPath(url) !== undefined;
}

/** Whether openLedger(opts) runs SQLite in a worker thread (the startup line says so). */
export function sqliteInThread(opts: Pick<LedgerOptions, 'url' | 'thread'>): boolean {
  return kindOf(opts.url) === 'embedded' && memoryEngine(opts.url) !== 'map' && embeddedThread(opts.url, opts.thread);
}

/**
 * The engine of `embedded` in memory: a JavaScript Map (default; src/ledger/memory.ts) or SQLite in
 * memory. HOOKGATE_LEDGER_MEMORY=sqlite is a switch for A/B benchmarks (bench/README.md); it does not
 * apply to `embedded:PATH`, which is always SQLite on disk.
 */
export function memoryEngine(url: string, env = process.env.HOOKGATE_LEDGER_MEMORY): 'map' | 'sqlite' | undefined {
  if (embeddedPath(url) !== undefined) return undefined;
  return env === 'sqlite' ? 'sqlite' : 'map';
}

/** Opens, migrates (unless `migrate: false`) and returns the cached, instrumented ledger. */
export async function openLedger(opts: LedgerOptions, hooks: LedgerHooks = {}): Promise<Ledger> {
  let inner: Ledger;
  if (kindOf(opts.url) === 'embedded') {
    inner = memoryEngine(opts.url) === 'map' ? (await memory()).openMapLedger(opts) : sqliteInThread(opts) ? await (await threaded()).openThreadedEmbeddedLedger(opts, hooks.log) : (await embedded()).openEmbeddedLedger(opts, hooks.log);
  } else {
    const { pgDriver, openSqlLedger } = await sql();
    const driver = pgDriver(opts.url, {
      ...(opts.poolSize !== undefined ? { poolSize: opts.poolSize } : {}),
      ...(opts.statementTimeoutMs !== undefined ? { statementTimeoutMs: opts.statementTimeoutMs } : {}),
      ...(hooks.log ? { log: hooks.log } : {}),
    });
    inner = await openSqlLedger(driver, opts, {
      ...(hooks.log ? { log: hooks.log } : {}),
      ...(hooks.onRetry ? { onRetry: hooks.onRetry } : {}),
    });
  }
  return frontLedger(inner, opts, hooks);
}

/**
 * The instrumented engine behind the hot LRU. An engine that answers done keys synchronously itself
 * (the Map engine: its table is the memory) gets no LRU: a second copy of its done keys would only
 * cost memory; its answers still count as cache hits.
 */
export function frontLedger(inner: Ledger, opts: Pick<LedgerOptions, 'cache' | 'retentionMs'>, hooks: LedgerHooks = {}): CachedLedger {
  return new CachedLedger(instrument(inner, hooks), inner.cached ? 0 : opts.cache, opts.retentionMs, hooks);
}

/** Times each operation and reports failures; answers and errors pass through unchanged. */
export function instrument(inner: Ledger, hooks: LedgerHooks): Ledger {
  if (!hooks.onOp && !hooks.onError) return inner;
  // a synchronous answer from memory is no operation: passed through, untimed
  const cached = inner.cached?.bind(inner);
  // .then instead of an async function: one promise an operation fewer on every delivery.
  const timed = <T>(op: 'claim' | 'complete' | 'release', fn: () => Promise<T>): Promise<T> => {
    const start = process.hrtime.bigint();
    const failed = (err: unknown): never => {
      hooks.onError?.(err);
      hooks.onOp?.(op, Number(process.hrtime.bigint() - start) / 1e9);
      throw err;
    };
    let p: Promise<T>;
    try {
      p = fn();
    } catch (err) {
      return Promise.reject(err).catch(failed);
    }
    return p.then((v) => {
      hooks.onOp?.(op, Number(process.hrtime.bigint() - start) / 1e9);
      return v;
    }, failed);
  };
  return {
    get backend() { return inner.backend; },
    ...(cached ? { cached } : {}),
    claim: (key: string): Promise<ClaimResult> => timed('claim', () => inner.claim(key)),
    complete: (key: string, token: string, status: number) => timed('complete', () => inner.complete(key, token, status)),
    release: (key: string, token: string) => timed('release', () => inner.release(key, token)),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
}

/**
 * Creates or upgrades the ledger schema and returns what it did (`hookgate migrate`). Safe while
 * other replicas start and migrate at the same time.
 */
export async function migrate(
  url: string,
  opts: { schema?: string; dialect?: 'auto' | Dialect; statementTimeoutMs?: number; log?: LedgerLog } = {},
): Promise<MigrationResult & { backend: Ledger['backend'] }> {
  if (kindOf(url) === 'embedded') {
    const [{ openSqlite }, { migrateSqlite }] = await Promise.all([import('./sqlite-connection.js'), import('./migrations.js')]);
    const db = openSqlite(url);
    try {
      return { backend: 'embedded', ...migrateSqlite(db) };
    } finally {
      db.close();
    }
  }
  const [{ pgDriver, detectDialect }, { migrateSql }] = await Promise.all([sql(), import('./migrations.js')]);
  const driver = pgDriver(url, {
    poolSize: 2,
    ...(opts.statementTimeoutMs !== undefined ? { statementTimeoutMs: opts.statementTimeoutMs } : { statementTimeoutMs: 30_000 }),
    ...(opts.log ? { log: opts.log } : {}),
  });
  // Every step is idempotent, so a transient failure anywhere reruns the whole migration.
  const policy: RetryPolicy = { ...DEFAULT_RETRY, budgetMs: 30_000 };
  try {
    const server = await withRetry('connect', () => detectDialect(driver.query), { policy, write: false });
    const dialect = opts.dialect === 'postgres' || opts.dialect === 'cockroachdb' ? opts.dialect : server;
    const r = await withRetry('migrate', () => migrateSql(driver, {
      ...(opts.schema ? { schema: opts.schema } : {}),
      ddl: server,
      lock: dialect === 'cockroachdb' ? 'row' : 'advisory',
    }), { policy, write: false });
    return { backend: dialect, ...r };
  } finally {
    await driver.end();
  }
}

/** The ledger URL for logs: engine, user, host, port, database; never a password or query options. */
export function describeLedger(url: string): string {
  if (url === 'embedded' || url === 'embedded:') return 'embedded (in memory)';
  if (url.startsWith('embedded:')) return `embedded (${embeddedPath(url) ?? 'in memory'})`;
  try {
    const u = new URL(url);
    const user = u.username ? `${decodeURIComponent(u.username)}@` : '';
    return `${u.protocol}//${user}${u.host}${u.pathname}`;
  } catch {
    // An unparseable URL may still hold a secret: show only its scheme.
    const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0];
    return scheme ? `${scheme} (unparseable url)` : '(unparseable ledger url)';
  }
}
