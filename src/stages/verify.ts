// Stages 3 and 4: verify the signature on the raw bytes, then name the tenant and the delivery key.
// With per-tenant secrets the tenant is read first (unverified) only to choose the secrets: a valid
// signature with that tenant's secret is what proves it.
import type { FastifyReply, FastifyRequest, preValidationHookHandler } from 'fastify';
import type { Route } from '../config/load.js';
import type { Metrics } from '../observability/metrics.js';
import { answer } from './answer.js';
import { tenantOf } from './tenant.js';
import { deliveryKey } from './idempotency.js';

const EMPTY = Buffer.alloc(0);

export interface VerifyDeps {
  mode: 'enforce' | 'monitor';
  metrics: Metrics;
  now: () => number;
}

/**
 * A callback hook: every step is synchronous, and an async hook costs a promise and a microtask a
 * request. `check` answers (and stops the chain) or leaves the request to the next stage.
 */
export function verifySignature(route: Route, deps: VerifyDeps): preValidationHookHandler {
  const check = verifyStage(route, deps);
  return function verify(request, reply, done) {
    if (check(request, reply)) done();
  };
}

/** true: go on; false: answered. */
function verifyStage(route: Route, deps: VerifyDeps): (request: FastifyRequest, reply: FastifyReply) => boolean {
  const { metrics, now } = deps;
  const monitor = deps.mode === 'monitor';
  const scheme = route.scheme;
  const perTenant = route.keys instanceof Map ? route.keys : null;

  // Per secret index: prom-client hashes a labels object on every inc; the objects at least are built once.
  const matched = new Map<number, { route: string; index: string }>();
  const matchLabels = (i: number) => {
    let l = matched.get(i);
    if (!l) matched.set(i, (l = { route: route.path, index: String(i) }));
    return l;
  };

  return function verify(request, reply) {
    const d = request.hg!;
    const body = Buffer.isBuffer(request.body) ? request.body : EMPTY;

    let keys = perTenant ? undefined : (route.keys as readonly unknown[]);
    if (perTenant) {
      const t = tenantOf(route.tenant, request, body);
      if (t.ok) {
        d.tenant = t.tenant;
        keys = perTenant.get(t.tenant);
      }
      if (!keys) {
        if (!monitor) return answer(reply, 'signature_invalid', 'no secret is configured for this tenant'), false;
        d.verdict = 'signature_invalid';
        return true;
      }
    }

    const verdict = scheme.verify({ method: request.method, url: request.url, headers: request.headers, body }, keys!, route.options, now());
    if (!verdict.ok) {
      if (!monitor) return answer(reply, verdict.code, verdict.message), false;
      d.verdict = verdict.code;
      return true;
    }
    d.verdict = 'ok';
    d.secretIndex = verdict.secretIndex;
    d.signedId = verdict.id;
    d.signedAt = verdict.timestamp;
    metrics.secretMatches.inc(matchLabels(verdict.secretIndex));

    if (d.tenant === undefined) {
      const t = tenantOf(route.tenant, request, body);
      if (!t.ok) return answer(reply, 'malformed', t.message), false;
      d.tenant = t.tenant;
    }
    const k = deliveryKey(route, d.tenant, verdict, request, body);
    if (!k.ok) return answer(reply, 'malformed', k.message), false;
    d.key = k.key;
    return true;
  };
}
