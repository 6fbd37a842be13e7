// Opens the spool's store beside the ledger, on the same database (its own connections). The ledger
// has migrated the schema (or checked it) before this runs.
import type { LedgerOptions } from '../../ledger/types.js';
import type { LedgerLog } from '../../ledger/common.js';
import { DEFAULT_RETRY, withRetry } from '../../ledger/retry.js';
import type { SpoolStore } from './types.js';

export type { SpoolStore } from './types.js';

export async function openSpoolStore(opts: Pick<LedgerOptions, 'url' | 'schema' | 'retryBudgetMs' | 'statementTimeoutMs' | 'dialect'>, log?: LedgerLog): Promise<SpoolStore> {
  if (opts.url === 'embedded' || opts.url.startsWith('embedded:')) {
    const { openSqliteSpool } = await import('./sqlite.js');
    return openSqliteSpool(opts.url, opts.retryBudgetMs ?? 2000);
  }
  const [{ pgDriver, detectDialect }, { SqlSpoolStore }] = await Promise.all([import('../../ledger/sql.js'), import('./sql.js')]);
  // The accepts of a tick (group-committed), beside the dispatcher's claims and settles: as many
  // connections as the ledger's pool.
  const driver = pgDriver(opts.url, { poolSize: 10, ...(opts.statementTimeoutMs !== undefined ? { statementTimeoutMs: opts.statementTimeoutMs } : {}), ...(log ? { log } : {}) });
  try {
    const server = await withRetry('connect', () => detectDialect(driver.query), { policy: { ...DEFAULT_RETRY, budgetMs: 5000 }, write: false });
    const dialect = opts.dialect === 'postgres' || opts.dialect === 'cockroachdb' ? opts.dialect : server;
    return new SqlSpoolStore(driver, dialect, { ...(opts.schema ? { schema: opts.schema } : {}), ...(opts.retryBudgetMs !== undefined ? { retryBudgetMs: opts.retryBudgetMs } : {}) });
  } catch (err) {
    await driver.end().catch(() => {});
    throw err;
  }
}
