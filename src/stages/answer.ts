// How hookgate answers by itself: the catalogue's status, `hookgate-outcome`, a JSON error body.
import type { FastifyReply } from 'fastify';
import { CATALOGUE, errorBody, type ErrorCode } from '../errors.js';

export function answer(reply: FastifyReply, code: ErrorCode, message?: string, retryAfterSeconds?: number, details?: Record<string, string>): FastifyReply {
  if (reply.request.hg) reply.request.hg.outcome = code;
  reply.code(CATALOGUE[code].status).header('hookgate-outcome', code).header('content-type', 'application/json; charset=utf-8');
  if (retryAfterSeconds !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfterSeconds))));
  return reply.send(errorBody(code, message, details));
}
