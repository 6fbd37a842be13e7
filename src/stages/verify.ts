// Stages 3 and 4: verify the signature on the raw bytes, then name the tenant and the delivery key.
// With per-tenant secrets the tenant is read first (unverified) only to choose the secrets: a valid
// signature with that tenant's secret is what proves it.
import type { preValidationAsyncHookHandler } from 'fastify';
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

export function verifySignature(route: Route, deps: VerifyDeps): preValidationAsyncHookHandler {
  const { metrics, now } = deps;
  const monitor = deps.mode === 'monitor';
  const scheme = route.scheme;
  const perTenant = route.keys instanceof Map ? route.keys : null;

  return async function verify(request, reply) {
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
        if (!monitor) return answer(reply, 'signature_invalid', 'no secret is configured for this tenant');
        d.verdict = 'signature_invalid';
        return;
      }
    }

    const verdict = scheme.verify({ method: request.method, url: request.url, headers: request.headers, body }, keys!, route.options, now());
    if (!verdict.ok) {
      if (!monitor) return answer(reply, verdict.code, verdict.message);
      d.verdict = verdict.code;
      return;
    }
    d.verdict = 'ok';
    d.secretIndex = verdict.secretIndex;
    d.signedId = verdict.id;
    metrics.secretMatches.inc({ route: route.path, index: String(verdict.secretIndex) });

    if (d.tenant === undefined) {
      const t = tenantOf(route.tenant, request, body);
      if (!t.ok) return answer(reply, 'malformed', t.message);
      d.tenant = t.tenant;
    }
    const k = deliveryKey(route, d.tenant, verdict.id, request, body);
    if (!k.ok) return answer(reply, 'malformed', k.message);
    d.key = k.key;
  };
}
