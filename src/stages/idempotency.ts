// The delivery's key (CONTRACT.md, Idempotency): provider + tenant + an id from signed material —
// the scheme's signed id, else the SHA-256 of the signed bytes; `idempotencyKey` overrides.
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Route } from '../config/load.js';
import { jsonPath } from '../providers/primitives.js';
import { jsonBody } from './json-body.js';

/** Ids travel in the hookgate-idempotency-key header: printable ASCII, bounded; anything else is hashed. */
const PLAIN_ID = /^[\x21-\x7e]{1,200}$/;

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export type KeyResult = { ok: true; key: string } | { ok: false; message: string };

export function deliveryKey(route: Route, tenant: string, signedId: string | undefined, request: FastifyRequest, body: Buffer): KeyResult {
  let id: string | undefined;
  const rule = route.idempotencyKey;
  if (rule.kind === 'header') {
    const h = request.headers[rule.name];
    id = typeof h === 'string' && h !== '' ? h : undefined;
    if (id === undefined) return { ok: false, message: `header ${rule.name} (the configured idempotency key) is missing` };
  } else if (rule.kind === 'json') {
    id = jsonPath(jsonBody(request.hg!, body), rule.name);
    if (id === undefined) return { ok: false, message: `the body has no ${rule.name} (the configured idempotency key)` };
  } else {
    id = signedId;
  }
  const part = id === undefined ? `sha256:${sha256(body)}` : PLAIN_ID.test(id) ? id : `sha256:${sha256(id)}`;
  return { ok: true, key: `${route.provider}:${tenant}:${part}` };
}
