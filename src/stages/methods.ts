// Stage 1b: the route's method list (default POST). Answered before the body is read.
import type { onRequestHookHandler } from 'fastify';
import type { Route } from '../config/load.js';
import { answer } from './answer.js';

export function allowMethods(route: Route): onRequestHookHandler {
  const allow = [...route.methods].join(', ');
  return function allowMethod(request, reply, done) {
    if (route.methods.has(request.method)) return done();
    reply.header('allow', allow);
    answer(reply, 'method_not_allowed', `this route accepts ${allow}`);
  };
}
