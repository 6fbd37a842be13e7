// The request target and Host, checked on every route (and on pass-through) before anything reads
// them; and the upstream path of a routed delivery, which is the route's, never the raw target.
import type { onRequestHookHandler } from 'fastify';
import type { Route } from '../config/load.js';
import { answer } from './answer.js';
import { hangUpIfUnread } from './hang-up.js';

const SLASH = 47;

/**
 * Why a request's target or Host cannot be used, or null. Only origin-form is a path (RFC 9112
 * §3.2.1): an absolute-form target (`POST http://evil/x`) would be forwarded as a path, `*` is not
 * one, and a fragment is never part of a request (RFC 9110 §4.2.5). Two Host headers are a
 * malformed request (RFC 9112 §3.2) that undici would refuse to send, after the claim was taken.
 */
export function targetProblem(url: string, rawHeaders: readonly string[]): string | null {
  if (url.charCodeAt(0) !== SLASH) return 'the request target must be a path, not an absolute URL or *';
  if (url.includes('#')) return 'the request target has a fragment (#)';
  let hosts = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host' && ++hosts > 1) return 'the request has more than one Host header';
  }
  return null;
}

/**
 * Why a decoded path parameter cannot stand for one segment of the upstream path, or null: a dot
 * segment, a slash or backslash (decoded, or still encoded for a router that decodes twice), or NUL
 * would let the parameter step out of the route's path (`/p/acme/..%2F..%2Fadmin`).
 */
export function paramProblem(value: string): string | null {
  if (value === '') return 'a path parameter is empty';
  if (value === '.' || value === '..') return 'a path parameter is a dot segment';
  if (/[/\\\0]|%(2f|5c|00)/i.test(value)) return 'a path parameter holds a slash, a backslash or NUL';
  if (/^(\.|%2e){1,2}$/i.test(value)) return 'a path parameter is an encoded dot segment';
  return null;
}

const PARAM = /:([A-Za-z_]\w*)/g;

export function paramNames(path: string): string[] {
  return [...path.matchAll(PARAM)].map((m) => m[1]!);
}

/**
 * The upstream path of a delivery on a route: its `forwardTo`, or its own path with each parameter
 * put back encoded (so `/p/ac%6De/x` arrives as `/p/acme/x`, whatever spelling the caller chose).
 */
export function upstreamPath(route: Pick<Route, 'path' | 'forwardTo'>): (params: Readonly<Record<string, string | undefined>>) => string {
  if (route.forwardTo !== null) {
    const to = route.forwardTo;
    return () => to;
  }
  const path = route.path;
  if (!paramNames(path).length) return () => path;
  return (params) => path.replace(PARAM, (_, name: string) => encodeURIComponent(params[name] ?? ''));
}

/**
 * The whole upstream request target of a delivery, built once per route: the upstream URL's path, the
 * route's path with its parameters (never the raw target), and the query as received (URL-signed
 * schemes such as Twilio sign it, and handlers that verify by themselves must see the same bytes).
 * The synchronous forward and the spool both use it, so a stored delivery goes where a forward would.
 */
export function upstreamTarget(upstreamUrl: URL, route: Pick<Route, 'path' | 'forwardTo'>): (params: Readonly<Record<string, string | undefined>>, url: string) => string {
  const base = upstreamUrl.pathname.replace(/\/$/, '');
  const path = upstreamPath(route);
  return (params, url) => {
    const q = url.indexOf('?');
    return base + path(params) + (q < 0 ? '' : url.slice(q));
  };
}

/** The first stage after the method: a target, Host and parameters the forward can use, or 400. */
export function checkRouteTarget(route: Route): onRequestHookHandler {
  const names = paramNames(route.path);
  return function checkTarget(request, reply, done) {
    let problem = targetProblem(request.url, request.raw.rawHeaders);
    if (problem === null && names.length) {
      const params = request.params as Record<string, string | undefined>;
      for (const name of names) if ((problem = paramProblem(params[name] ?? '')) !== null) break;
    }
    if (problem === null) return done();
    hangUpIfUnread(reply);
    answer(reply, 'malformed', problem);
  };
}
