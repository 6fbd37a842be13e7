// How hookgate answers by itself: the catalogue's status, `hookgate-outcome`, a JSON error body.
import type { FastifyReply } from 'fastify';
import { CATALOGUE, errorBody, type ErrorCode } from '../errors.js';

export function answer(reply: FastifyReply, code: ErrorCode, message?: string, retryAfterSeconds?: number, details?: Record<string, string>): FastifyReply {
  if (reply.request.hg) reply.request.hg.outcome = code;
  reply.code(CATALOGUE[code].status).header('hookgate-outcome', code).header('content-type', 'application/json; charset=utf-8');
  if (retryAfterSeconds !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfterSeconds))));
  return reply.send(errorBody(code, message, details));
}

export const DUPLICATE_BODY = '{"duplicate":true}';

/** A duplicate of a settled delivery: its first status, forwarded nothing. */
export function answerDuplicate(reply: FastifyReply, status: number): FastifyReply {
  if (reply.request.hg) reply.request.hg.outcome = 'duplicate';
  return reply.code(status).header('hookgate-outcome', 'duplicate').header('content-type', 'application/json; charset=utf-8').send(DUPLICATE_BODY);
}

/** Another request holds the delivery's key: 409, retry after `retryAfterMs`. */
export function answerInFlight(reply: FastifyReply, retryAfterMs: number): FastifyReply {
  return answer(reply, 'in_flight', 'this delivery is being processed by another request; retry later', retryAfterMs / 1000);
}
