// Stage 6: claim the delivery. The ledger (with its hot LRU of settled keys in front) answers one of:
// claimed (forward it), done (answer the first status, forward nothing), in flight (409).
import type { preHandlerAsyncHookHandler, FastifyBaseLogger } from 'fastify';
import type { Ledger } from '../ledger/types.js';
import type { Metrics } from '../observability/metrics.js';
import { GatewayError } from '../errors.js';
import { answer } from './answer.js';

export interface ClaimDeps {
  ledger: Ledger;
  onError: 'reject' | 'allow';
  metrics: Metrics;
  log: FastifyBaseLogger;
}

export const DUPLICATE_BODY = '{"duplicate":true}';

export function claimDelivery(deps: ClaimDeps): preHandlerAsyncHookHandler {
  const { ledger, onError, metrics } = deps;
  return async function claim(request, reply) {
    const d = request.hg!;
    if (d.key === undefined) return; // monitor mode, unverified: nothing to claim
    let result;
    try {
      result = await ledger.claim(d.key);
    } catch (err) {
      metrics.ledgerErrors.inc();
      request.log.warn({ err: errSummary(err), key: d.key }, 'ledger claim failed');
      // allow: fail open with the LRU only (the ledger's cache already answered the duplicates it knows)
      if (onError === 'allow') return;
      const retry = err instanceof GatewayError && err.retryAfterSeconds ? err.retryAfterSeconds : 5;
      return answer(reply, 'ledger_unavailable', undefined, retry);
    }
    switch (result.state) {
      case 'claimed':
        d.claim = { token: result.token, attempt: result.attempt };
        d.attempt = result.attempt;
        return;
      case 'done':
        d.outcome = 'duplicate';
        return reply.code(result.status).header('hookgate-outcome', 'duplicate').header('content-type', 'application/json; charset=utf-8').send(DUPLICATE_BODY);
      case 'in_flight':
        return answer(reply, 'in_flight', 'this delivery is being processed by another request; retry later', result.retryAfterMs / 1000);
    }
  };
}

/** Settles a held claim once: complete with the upstream's status, or release so the retry gets through. */
export async function settle(deps: ClaimDeps, key: string, claim: { token: string }, status: number | null, completes: (s: number) => boolean, log: FastifyBaseLogger): Promise<void> {
  try {
    if (status !== null && completes(status)) await deps.ledger.complete(key, claim.token, status);
    else await deps.ledger.release(key, claim.token);
  } catch (err) {
    // Not lost: the lease runs out and the provider's retry takes the claim over.
    deps.metrics.ledgerErrors.inc();
    log.warn({ err: errSummary(err), key }, 'ledger settle failed; the claim will expire after its lease');
  }
}

export function errSummary(err: unknown): { code?: string; message: string } {
  const e = err as { code?: string; message?: string };
  return { code: e?.code, message: String(e?.message ?? err) };
}
