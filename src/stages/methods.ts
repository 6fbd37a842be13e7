// Stage 1b: the route's method list (default POST). Answered before the body is read.
import type { onRequestHookHandler } from 'fastify';
import type { Route } from '../config/load.js';
import { answer } from './answer.js';
import { hangUpIfUnread } from './hang-up.js';

/**
 * Also where a delivery starts: `request.hg` is set here, per route, rather than in a global hook
 * that would read `request.routeOptions` (a getter that builds a dozen-field object each call).
 * A literal tenant is the route's own: known before verification, so refusals are counted under it.
 */
export function allowMethods(route: Route): onRequestHookHandler {
  const allow = [...route.methods].join(', ');
  const tenant = route.tenant.kind === 'literal' ? route.tenant.value : undefined;
  return function allowMethod(request, reply, done) {
    // a handshake hook (src/stages/handshake.ts) may have started the delivery already
    request.hg ??= { route, startedAt: process.hrtime.bigint(), tenant };
    if (route.methods.has(request.method)) return done();
    reply.header('allow', allow);
    hangUpIfUnread(reply);
    answer(reply, 'method_not_allowed', `this route accepts ${allow}`);
  };
}
