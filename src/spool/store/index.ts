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
    const { openThreadedSqliteSpool } = await import('./sqlite-thread.js');
    return openThreadedSqliteSpool(opts.url, opts.retryBudgetMs ?? 2000);
  }
  const [{ pgDriver, detectDialect }, { SqlSpoolStore }] = await Promise.all([import('../../ledger/sql.js'), import('./sql.js')]);
  // The accepts of a tick (group-committed), beside the dispatcher's claims and settles: as many
  // connections as the ledger's pool.
  const pool = (isolation: 'serializable' | 'read committed') => pgDriver(opts.url, { poolSize: 10, isolation, ...(opts.statementTimeoutMs !== undefined ? { statementTimeoutMs: opts.statementTimeoutMs } : {}), ...(log ? { log } : {}) });
  let driver = pool('serializable');
  try {
    const server = await withRetry('connect', () => detectDialect(driver.query), { policy: { ...DEFAULT_RETRY, budgetMs: 5000 }, write: false });
    const dialect = opts.dialect === 'postgres' || opts.dialect === 'cockroachdb' ? opts.dialect : server;
    // PostgreSQL: the spool's statements in READ COMMITTED. PostgreSQL's SERIALIZABLE locks index
    // pages, not keys: accepts of different deliveries (and scans of the due range) failed each other
    // with 40001 (a burst of 1,000 across 3 replicas: 2-3 % answered 503 after the retry budget), a
    // conflict CockroachDB's key-level SERIALIZABLE does not have. Each statement is correct without
    // it: the accept's ledger update is fenced by the claim's owner token on the locked row, its
    // inserts are arbitrated by the primary key, and every claim and settle re-checks state, due time
    // and owner in its UPDATE (shared/spool.md b.2). The ledger stays SERIALIZABLE, and so does
    // everything on CockroachDB (and the CockroachDB dialect forced on PostgreSQL, in tests).
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
