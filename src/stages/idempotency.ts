// The delivery's key (CONTRACT.md, Idempotency; layout in src/config/keys.ts): the route's namespace +
// tenant + an id from signed material: the scheme's signed id, else the SHA-256 of what it signed;
// `idempotencyKey` overrides with a header this delivery's signature covered or a field of a signed body.
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Route } from '../config/load.js';
import { SEPARATOR } from '../config/keys.js';
import { jsonPath } from '../providers/primitives.js';
import { jsonBody } from './json-body.js';

/** Ids travel in the hookgate-idempotency-key header: printable ASCII, bounded; anything else is hashed. */
const PLAIN_ID = /^[\x21-\x7e]{1,200}$/;

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export type KeyResult = { ok: true; key: string } | { ok: false; message: string };

/** What verification established, as far as the key needs it (the verdict itself: nothing is copied). */
export interface Signed {
  id?: string | undefined;
  /** digest of the signed content when it is more than the body */
  digest?: string | undefined;
  /** headers this delivery's signature covered; absent: every header the route's scheme signs */
  headers?: readonly string[] | undefined;
}

export function deliveryKey(route: Route, tenant: string, signed: Signed, request: FastifyRequest, body: Buffer): KeyResult {
  let id: string | undefined;
  const rule = route.idempotencyKey;
  if (rule.kind === 'header') {
    // `check` refuses a header the scheme can never sign; this delivery may still have been verified
    // under other names (Standard Webhooks' svix-* beside a forged webhook-id).
    if (!(signed.headers ?? route.signedHeaders).includes(rule.name)) return { ok: false, message: `header ${rule.name} (the configured idempotency key) is not covered by this delivery's signature` };
    const h = request.headers[rule.name];
    id = typeof h === 'string' && h !== '' ? h : undefined;
    if (id === undefined) return { ok: false, message: `header ${rule.name} (the configured idempotency key) is missing` };
  } else if (rule.kind === 'json') {
    id = jsonPath(jsonBody(request.hg!, body), rule.name);
    if (id === undefined) return { ok: false, message: `the body has no ${rule.name} (the configured idempotency key)` };
  } else {
    id = signed.id;
  }
  const part = id === undefined ? `sha256:${signed.digest ?? sha256(body)}` : PLAIN_ID.test(id) ? `id:${id}` : `id-sha256:${sha256(id)}`;
  return { ok: true, key: route.keyPrefix + tenant + SEPARATOR + part };
}
