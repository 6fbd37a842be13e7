// Stage 4: the tenant, only from the route or from signed material. A tenant taken from the request
// (param:, header:) is trusted only when the route keeps per-tenant secrets, so the signature proves it.
import type { FastifyRequest } from 'fastify';
import type { TenantRule } from '../config/load.js';
import { GatewayError } from '../errors.js';
import { jsonPath } from '../providers/primitives.js';
import { isJsonFieldProblem, jsonFieldUnverified } from '../providers/json-field.js';
import { jsonBody } from './json-body.js';
import { TENANT, TENANT_RULE } from '../config/tenant-name.js';

export type TenantResult = { ok: true; tenant: string } | { ok: false; message: string };

export function tenantOf(rule: TenantRule, request: FastifyRequest, body: Buffer): TenantResult {
  let value: string | undefined;
  switch (rule.kind) {
    case 'literal':
      return { ok: true, tenant: rule.value };
    case 'param':
      value = (request.params as Record<string, string | undefined>)[rule.name];
      break;
    case 'header': {
      const h = request.headers[rule.name];
      value = typeof h === 'string' ? h : undefined;
      break;
    }
    case 'json':
      value = jsonTenant(request, body, rule.name);
      break;
  }
  if (value === undefined || value === '') return { ok: false, message: `no tenant in ${rule.kind}:${rule.name}` };
  if (!TENANT.test(value)) return { ok: false, message: `the tenant in ${rule.kind}:${rule.name} must be ${TENANT_RULE}` };
  return { ok: true, tenant: value };
}

/**
 * Once the signature is verified (or the body already parsed) the field is read from the parse, which
 * later stages share. Before (a per-tenant route choosing its secrets) the body is only scanned:
 * parsing it whole would cost a forged 1 MB body ~30 times the MAC that refuses it. verify.ts checks
 * that both readings agree once the MAC has passed.
 */
function jsonTenant(request: FastifyRequest, body: Buffer, path: string): string | undefined {
  const d = request.hg!;
  if (d.verdict === 'ok' || d.json) return jsonPath(jsonBody(d, body), path);
  const v = jsonFieldUnverified(body, path);
  if (isJsonFieldProblem(v)) throw new GatewayError('malformed', v.message);
  return v;
}
