// Stage 4b: the route's payload rules (CONTRACT.md, Payload rules), after the signature and before the
// tenant limit and the claim: the depth on the bytes first (no parse yet), then the schema, then the
// tenant field. A refusal is 422 payload_invalid with the pointer and the rule, never a body value;
// monitor mode forwards and says `hookgate-verdict: payload_invalid`.
import type { preValidationHookHandler } from 'fastify';
import type { Route } from '../config/load.js';
import type { PayloadRules } from '../config/payload.js';
import type { Delivery } from './context.js';
import { answer } from './answer.js';
import { jsonBody } from './json-body.js';
import { jsonPath } from '../providers/primitives.js';
import { jsonWithinDepth } from '../providers/json-bounds.js';
import { schemaFailure, type PayloadFailure } from '../payload/failure.js';

const EMPTY = Buffer.alloc(0);

/** The first rule a verified delivery breaks, or null. */
export function judgePayload(rules: PayloadRules, d: Delivery, body: Buffer): PayloadFailure | null {
  if (rules.maxDepth !== null && !jsonWithinDepth(body, rules.maxDepth))
    return { pointer: '', rule: 'maxDepth', message: `the body nests objects and arrays deeper than ${rules.maxDepth} levels` };
  if (!rules.schema && !rules.tenantField) return null;
  const data = jsonBody(d, body);
  if (data === undefined) return { pointer: '', rule: 'json', message: 'the body is not JSON' };
  if (rules.schema && !rules.schema.validate(data)) return schemaFailure(rules.schema.errors(), data, rules.schema.names);
  if (rules.tenantField) {
    const { path, pointer } = rules.tenantField;
    const value = jsonPath(data, path);
    if (value === undefined) return { pointer, rule: 'tenantField', message: `${pointer} must be the delivery's tenant, and is missing or not a string` };
    if (value !== d.tenant) return { pointer, rule: 'tenantField', message: `${pointer} names another tenant than the delivery's` };
  }
  return null;
}

export function checkPayload(route: Route, deps: { mode: 'enforce' | 'monitor' }): preValidationHookHandler {
  const rules = route.payload!;
  const monitor = deps.mode === 'monitor';
  return function payload(request, reply, done) {
    const d = request.hg!;
    // Only a verified delivery is judged (monitor mode forwards the unverified ones with their verdict).
    if (d.verdict !== 'ok') return done();
    const failure = judgePayload(rules, d, Buffer.isBuffer(request.body) ? request.body : EMPTY);
    if (!failure) return done();
    if (monitor) {
      d.verdict = 'payload_invalid';
      return done();
    }
    answer(reply, 'payload_invalid', failure.message, undefined, { pointer: failure.pointer, rule: failure.rule });
  };
}
