// The whole request in one screen (CONTRACT.md's eight steps). Each route is built from the stages,
// in this order; the last is the forward, whose answer settles the claim.
//
//   1 match the route ............ fastify routing; unknown path: 404 no_route or pass-through (app.ts)
//   1b method ...................... onRequest     405
//   1c target, Host, parameters .... onRequest     400 (the upstream path is the route's, src/stages/request-target.ts)
//   2 limit unverified traffic ..... onRequest     429 (per client address, before any crypto)
//   - read the raw body ............ parser        413 past bodyLimit, nothing buffered beyond it
//   3 verify the signature ......... preValidation 400 / 401
//   4 resolve the tenant and key ... preValidation 400
//   4b payload rules ............... preValidation 422 (only routes with `payload`)
//   5 limit the tenant ............. preHandler    429
//   6 claim the delivery ........... preHandler    duplicate / 409 / 503
//   7 forward the exact bytes ...... handler       502 / 504
//   8 settle the claim ............. handler (before answering), onResponse as a safety net
//
// An answer made before the body is all read closes the connection (src/stages/hang-up.ts).
import type { FastifyInstance, onRequestHookHandler, preHandlerAsyncHookHandler, preHandlerHookHandler } from 'fastify';
import type { Config, Route } from './config/load.js';
import type { Metrics } from './observability/metrics.js';
import { allowMethods } from './stages/methods.js';
import { checkRouteTarget } from './stages/request-target.js';
import { verifySignature } from './stages/verify.js';
import { checkPayload } from './stages/payload.js';
import { handshakeAfter, handshakeBefore, startDelivery } from './stages/handshake.js';
import { claimDelivery, type ClaimDeps } from './stages/claim.js';
import { forwardDelivery } from './stages/forward.js';
import type { Pool } from 'undici';
import { acceptDelivery } from './spool/accept.js';
import { hybridDelivery } from './spool/hybrid.js';
import type { Spool } from './spool/index.js';

export const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export interface Limiters {
  /** per client address, before verification */
  unverified?: onRequestHookHandler;
  /** per tenant, after verification */
  tenant?: preHandlerHookHandler | preHandlerAsyncHookHandler;
  /** a reload swaps the rates (the hooks and their store stay); see src/limits */
  reconfigure?(config: Config): void;
}

export interface PipelineDeps {
  config: Config;
  metrics: Metrics;
  upstream: Pool;
  claims: ClaimDeps | null;
  limiters: Limiters;
  now: () => number;
  /** key fetching for JWKS and certificate-URL routes (default: HTTP, bounded) */
  fetcher?: import('./providers/remote.js').Fetcher;
  /** present when a route spools (src/spool) */
  spool?: Spool | null;
}

export function registerRoute(app: FastifyInstance, route: Route, deps: PipelineDeps): void {
  const { config, metrics, limiters } = deps;
  const monitor = config.mode === 'monitor';
  // an unsigned handshake probe (GET/HEAD/OPTIONS on a POST route) is answered before the method check,
  // after the unverified limiter (a probe is unverified traffic too)
  const before = handshakeBefore(route);
  const after = handshakeAfter(route);
  const unverified = limiters.unverified ? [limiters.unverified] : [];
  const onRequest: onRequestHookHandler[] = before
    ? [startDelivery(route), checkRouteTarget(route), ...unverified, before, allowMethods(route)]
    : [allowMethods(route), checkRouteTarget(route), ...unverified];
  const preHandler: (preHandlerHookHandler | preHandlerAsyncHookHandler)[] = [];
  if (limiters.tenant && !monitor) preHandler.push(limiters.tenant);
  if (deps.claims && !monitor) preHandler.push(claimDelivery(deps.claims, { inAccept: route.delivery === 'spool' }));

  const verify = verifySignature(route, { mode: config.mode, metrics, now: deps.now, ...(deps.fetcher ? { fetcher: deps.fetcher } : {}) });
  const forward = forwardDelivery(route, { config, upstream: deps.upstream, metrics, claims: deps.claims });
  app.route({
    method: ALL_METHODS,
    url: route.path,
    bodyLimit: route.bodyLimit,
    config: { route },
    onRequest,
    preValidation: [verify, ...(after ? [after] : []), ...(route.payload ? [checkPayload(route, { mode: config.mode })] : [])],
    preHandler,
    // 7 on a spool route: store and answer; the dispatcher forwards later (src/spool).
    handler: route.delivery === 'sync' ? forward
      : route.delivery === 'spool' ? acceptDelivery(route, { config, metrics, spool: spoolOf(route, deps), forward, ledger: deps.claims!.ledger })
      : hybridDelivery(route, { config, metrics, spool: spoolOf(route, deps), forward, upstream: deps.upstream, claims: deps.claims!, ledger: deps.claims!.ledger }),
  });
}

function spoolOf(route: Route, deps: PipelineDeps): Spool {
  if (!deps.spool || !deps.claims) throw new Error(`route ${route.path}: delivery: spool needs the spool and the ledger, and this gateway was started without them (a reload cannot add the first spool route: restart)`);
  return deps.spool;
}
