// The ledger's hooks wired to the metrics (`hookgate run` and tests use the same wiring).
//
// hookgate_ledger_errors_total is counted by the stages (src/stages/claim.ts: a failed claim and a
// failed settle), which see every ledger operation a delivery makes, with any ledger, including the
// ones tests pass in. The ledger's own onError fires for exactly the same failures, so counting
// there too would count each failure twice; it is left to logging at debug level.
import type { Logger } from 'pino';
import type { LedgerHooks } from '../ledger/index.js';
import type { Metrics } from './metrics.js';
import { errSummary } from '../errors.js';

export function ledgerHooks(metrics: Metrics, log: Logger): LedgerHooks {
  return {
    onOp: (op, seconds) => metrics.ledgerDuration.cell(op).observe(seconds),
    onError: (err) => log.debug({ err: errSummary(err) }, 'ledger operation failed'),
    onCacheHit: () => metrics.cacheHits.inc(),
    log,
  };
}
