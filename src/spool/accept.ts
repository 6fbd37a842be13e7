// The last stage of a `delivery: spool` route (CONTRACT.md, Spool): store the delivery and answer
// `acceptStatus` with `hookgate-outcome: spooled`, only after the ledger key (done, acceptStatus) and
// the request (method, path, headers in order and case, body bytes) have committed in one statement.
// Then, when this replica had a free slot, it delivers it at once (dispatcher.ts); otherwise a poll does.
import { upstreamTarget } from '../stages/request-target.js';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { isHandshake } from './handshake.js';
import type { Config, Route } from '../config/load.js';
import type { Metrics } from '../observability/metrics.js';
import { GatewayError, errSummary } from '../errors.js';
import { answer, answerDuplicate, answerInFlight } from '../stages/answer.js';
import { upstreamHeaders } from '../stages/forward.js';
import { trustFunction } from '../config/trust-proxy.js';
import type { Spool } from './index.js';
import { keyHash } from '../ledger/common.js';
import { spanContextOf } from '../observability/tracing.js';
import type { Ledger } from '../ledger/types.js';
import { randomUUID } from 'node:crypto';

export const SPOOLED_BODY = '{"spooled":true}';
/** Retry-After on spool_full: the dispatcher drains at the upstream's pace, so not at once */
const FULL_RETRY_S = 30;

export interface SpoolStageDeps {
  config: Config;
  metrics: Metrics;
  spool: Spool;
  /** the ledger (its LRU learns the keys the accept settles) */
  ledger: Ledger;
  /** the synchronous forward of the route (handshakes, and a route without a claim) */
  forward: RouteHandlerMethod;
}

export function acceptDelivery(route: Route, deps: SpoolStageDeps): RouteHandlerMethod {
  const store = storeDelivery(route, deps);
  return async function accept(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
    const d = request.hg!;
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    // A handshake's answer is the application's: forwarded while the provider waits, never stored.
    if (isHandshake(route.provider, request.headers, body)) return deps.forward.call(this, request, reply);
    // Without a claim (ledger.onError: allow with the ledger down) nothing can be stored durably.
    if ((!d.claim && !d.claimInAccept) || d.key === undefined) return answer(reply, 'ledger_unavailable', undefined, 5);
    return store(request, reply, { dispatch: true });
  };
}

/** How a delivery is stored: delivered at once by this replica when it may, or after attempts already spent (hybrid). */
export interface StoreHow {
  dispatch: boolean;
  attempts?: number;
  delayMs?: number;
}

/**
 * Stores the claimed delivery of `request` and answers the provider: acceptStatus spooled once
 * committed, 503 spool_full / ledger_unavailable otherwise (the claim is then released by the
 * onResponse safety net, so the provider's retry gets through).
 */
export function storeDelivery(route: Route, deps: Omit<SpoolStageDeps, 'forward'>): (request: FastifyRequest, reply: FastifyReply, how: StoreHow) => Promise<FastifyReply> {
  const { config, spool } = deps;
  const settings = route.spool!;
  const trust = trustFunction(config.trustProxy);
  const target = upstreamTarget(config.upstream.url, route);

  return async function store(request: FastifyRequest, reply: FastifyReply, how: StoreHow) {
    const d = request.hg!;
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    // the accept claims the key itself (a spool route), or settles the claim made before it (hybrid)
    const claimHere = d.claimInAccept === true;
    const token = claimHere ? randomUUID() : d.claim!.token;
    const key = d.key!;
    const tenant = d.tenant ?? 'default';

    let over: 'spool' | 'tenant' | null;
    try {
      over = await spool.pending.over(route.path, tenant, settings);
    } catch (err) {
      return unavailable(request, reply, err);
    }
    if (over) {
      spool.metrics?.rejected(route.path, 'spool_full');
      // The claim stays held: the onResponse safety net releases it, so the provider's retry gets through.
      return answer(reply, 'spool_full', over === 'tenant' ? `tenant ${tenant} holds as many deliveries as it may in the spool; retry later` : undefined, FULL_RETRY_S);
    }

    const owner = how.dispatch ? spool.dispatcher.reserve(route) : null;
    const input = {
      ...(how.attempts ? { attempts: how.attempts } : {}),
      ...(how.delayMs ? { delayMs: how.delayMs } : {}),
      ...(claimHere ? { claim: true } : {}),
      key, ledgerToken: token, acceptStatus: settings.acceptStatus, retentionMs: config.ledger.retentionMs,
      route: route.path, tenant, dispatchOwner: owner, leaseMs: spool.dispatcher.leaseMs(),
      method: request.method, path: target(request.params as Record<string, string>, request.url), headers: upstreamHeaders(request, trust, []), body,
      // what re-signing a late delivery needs (never the secret itself)
      meta: route.signingSecret && d.signedAt !== undefined && d.secretIndex !== undefined
        ? { secretIndex: d.secretIndex, signedAt: d.signedAt, ...(d.signedId !== undefined ? { id: d.signedId } : {}) }
        : null,
      // tracing on: the delivery span's context, so that every later dispatch links to it (survives restarts)
      ...(d.trace ? { trace: spanContextOf(d.trace) } : {}),
    };
    let result;
    try {
      result = await spool.store.accept(input);
    } catch (err) {
      if (owner) {
        spool.dispatcher.unreserve(route);
        // The answer may be lost with the row stored `delivering` under our token: delivered once the database answers.
        spool.dispatcher.maybeHeld(route, [keyHash(key)], owner);
      }
      // The claim stays held and is released by the onResponse safety net (fenced: if the accept did
      // land after all, the key is done and the release changes nothing).
      return unavailable(request, reply, err);
    }
    // The claim is settled (done) by the accept, or no longer ours: never release it after this.
    d.claim = undefined;
    if (result.state !== 'spooled' || !result.delivering) if (owner) spool.dispatcher.unreserve(route);
    switch (result.state) {
      case 'lost':
        // Our claim's lease ran out and another request holds the key now: it stores the delivery.
        return answerInFlight(reply, 1000);
      case 'done':
        // a duplicate of a settled key, found by the accept's own claim
        deps.ledger.learn?.(key, result.status, result.expiresInMs);
        return answerDuplicate(reply, result.status);
      case 'in_flight':
        return answerInFlight(reply, result.retryAfterMs);
      case 'duplicate':
        return answerDuplicate(reply, settings.acceptStatus);
      case 'spooled':
        spool.pending.added(route.path, tenant);
        deps.ledger.learn?.(key, settings.acceptStatus, config.ledger.retentionMs);
        d.outcome = 'spooled';
        reply.code(settings.acceptStatus).header('hookgate-outcome', 'spooled').header('content-type', 'application/json; charset=utf-8');
        await reply.send(SPOOLED_BODY);
        if (result.delivering && owner) {
          spool.dispatcher.run(route, {
            keyHash: keyHash(key), key, route: route.path, tenant, owner, attempts: 0, replays: 0, receivedAt: result.receivedAt,
            method: input.method, path: input.path, headers: input.headers, body, meta: input.meta,
            ...(input.trace ? { trace: input.trace } : {}),
          });
        }
        return reply;
    }
  };

  function unavailable(request: FastifyRequest, reply: FastifyReply, err: unknown) {
    deps.metrics.ledgerErrors.inc();
    spool.metrics?.rejected(route.path, 'ledger_unavailable');
    request.log.warn({ err: errSummary(err), key: request.hg!.key }, 'spool: storing the delivery failed');
    const retry = err instanceof GatewayError && err.retryAfterSeconds ? err.retryAfterSeconds : 5;
    return answer(reply, 'ledger_unavailable', undefined, retry);
  }
}
