// Opens the spool's store beside the ledger, on the same database (its own connections). The ledger
// has migrated the schema (or checked it) before this runs.
import type { LedgerOptions } from '../../ledger/types.js';
import type { LedgerLog } from '../../ledger/common.js';
import { DEFAULT_RETRY, withRetry } from '../../ledger/retry.js';
import type { SpoolStore } from './types.js';

export type { SpoolStore } from './types.js';

export async function openSpoolStore(opts: Pick<LedgerOptions, 'url' | 'schema' | 'retryBudgetMs' | 'statementTimeoutMs' | 'dialect'>, log?: LedgerLog): Promise<SpoolStore> {
  if (opts.url === 'embedded' || opts.url.startsWith('embedded:')) {
    // HOOKGATE_SPOOL_THREAD=0: the connection on the event loop's thread (A/B in bench:spool)
    if (process.env.HOOKGATE_SPOOL_THREAD === '0') return (await import('./sqlite.js')).openSqliteSpool(opts.url, opts.retryBudgetMs ?? 2000);
    const [{ openThreadedSqliteSpool, ownWorker }, { ledgerThreadOn }] = await Promise.all([import('./sqlite-thread.js'), import('../../ledger/embedded-thread.js')]);
    // served by the ledger's thread on the same file when it runs in this process (one connection
    // writing the file, no waits on SQLite's lock), else by a worker of its own
    const thread = ledgerThreadOn(opts.url);
    return openThreadedSqliteSpool(thread ? () => thread.cotenantPort(new URL('./sqlite-serve.js', import.meta.url).href) : ownWorker(opts.url, opts.retryBudgetMs ?? 2000));
  }
  const [{ pgDriver, detectDialect }, { SqlSpoolStore }] = await Promise.all([import('../../ledger/sql.js'), import('./sql.js')]);
  // The accepts of a tick (group-committed), beside the dispatcher's claims and settles: as many
  // connections as the ledger's pool.
  const pool = (isolation: 'serializable' | 'read committed') => pgDriver(opts.url, { poolSize: 10, isolation, ...(opts.statementTimeoutMs !== undefined ? { statementTimeoutMs: opts.statementTimeoutMs } : {}), ...(log ? { log } : {}) });
  let driver = pool('serializable');
  try {
    const server = await withRetry('connect', () => detectDialect(driver.query), { policy: { ...DEFAULT_RETRY, budgetMs: 5000 }, write: false });
    const dialect = opts.dialect === 'postgres' || opts.dialect === 'cockroachdb' ? opts.dialect : server;
    // PostgreSQL: the spool's statements in READ COMMITTED. PostgreSQL's SERIALIZABLE tracks reads by
    // index page, so accepts of unrelated deliveries failed each other with 40001 (a conflict
    // CockroachDB's key-level SERIALIZABLE does not have). Each statement is correct without it: fenced
    // by owner tokens and re-checked on the row it locks (docs/spool.md, Delivery). The ledger, and
    // everything on CockroachDB (or its dialect forced on PostgreSQL), stays SERIALIZABLE.
    if (dialect === 'postgres') {
      await driver.end();
      driver = pool('read committed');
    }
    return new SqlSpoolStore(driver, dialect, { ...(opts.schema ? { schema: opts.schema } : {}), ...(opts.retryBudgetMs !== undefined ? { retryBudgetMs: opts.retryBudgetMs } : {}) });
  } catch (err) {
    await driver.end().catch(() => {});
    throw err;
  }
}
