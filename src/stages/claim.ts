// Stage 6: claim the delivery. The ledger (with its hot LRU of settled keys in front) answers one of:
// claimed (forward it), done (answer the first status, forward nothing), in flight (409).
import type { preHandlerHookHandler, FastifyBaseLogger } from 'fastify';
import type { ClaimResult, Ledger } from '../ledger/types.js';
import type { Metrics } from '../observability/metrics.js';
import { GatewayError, errSummary } from '../errors.js';
import { answer, answerDuplicate, answerInFlight } from './answer.js';
import { childSpan, type DeliveryTrace } from '../observability/tracing.js';

export interface ClaimDeps {
  ledger: Ledger;
  onError: 'reject' | 'allow';
  metrics: Metrics;
  log: FastifyBaseLogger;
}

/**
 * A callback hook over the ledger's promise: an async hook would add a second promise and a microtask
 * to every claim, duplicates answered from the LRU included.
 */
export function claimDelivery(deps: ClaimDeps, opts: { inAccept?: boolean } = {}): preHandlerHookHandler {
  const { ledger, onError, metrics } = deps;
  return function claim(request, reply, done) {
    const d = request.hg!;
    if (d.key === undefined) return done(); // monitor mode, unverified: nothing to claim
    const key = d.key;
    const onResult = (result: ClaimResult): void => {
      switch (result.state) {
        case 'claimed':
          d.claim = { token: result.token, attempt: result.attempt };
          d.attempt = result.attempt;
          return done();
        case 'done':
          answerDuplicate(reply, result.status);
          return;
        case 'in_flight':
          answerInFlight(reply, result.retryAfterMs);
          return;
      }
    };
    // A duplicate of a done key in the hot LRU is answered here and now: no promise, no microtask.
    const hit = ledger.cached?.(key);
    if (hit) return onResult(hit);
    // A spool route's accept claims the key in the transaction that stores it: one round trip, not two.
    if (opts.inAccept) {
      d.claimInAccept = true;
      return done();
    }
    ledger.claim(key).then(
      onResult,
      (err) => {
        metrics.ledgerErrors.inc();
        request.log.warn({ err: errSummary(err), key }, 'ledger claim failed');
        // allow: fail open with the LRU only (the ledger's cache already answered the duplicates it knows)
        if (onError === 'allow') return done();
        const retry = err instanceof GatewayError && err.retryAfterSeconds ? err.retryAfterSeconds : 5;
        answer(reply, 'ledger_unavailable', undefined, retry);
      },
    ).catch((err: Error) => done(err));
  };
}

/** Settles a held claim once: complete with the upstream's status, or release so the retry gets through. */
export async function settle(deps: ClaimDeps, key: string, claim: { token: string }, status: number | null, completes: (s: number) => boolean, log: FastifyBaseLogger, trace?: DeliveryTrace): Promise<void> {
  const complete = status !== null && completes(status);
  const span = trace && childSpan(trace, 'hookgate.settle', { 'hookgate.settle': complete ? 'complete' : 'release' });
  try {
    if (complete) await deps.ledger.complete(key, claim.token, status!);
    else await deps.ledger.release(key, claim.token);
  } catch (err) {
    span?.setAttribute('hookgate.outcome', 'ledger_error');
    // Not lost: the lease runs out and the provider's retry takes the claim over.
    deps.metrics.ledgerErrors.inc();
    log.warn({ err: errSummary(err), key }, 'ledger settle failed; the claim will expire after its lease');
  } finally {
    span?.end();
  }
}
