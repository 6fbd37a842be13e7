// The spool's admin API on the admin listener (CONTRACT.md, Spool): `Authorization: Bearer
// <adminToken>` on every request; without a configured token the endpoints answer 404, as if absent.
// Bodies only with ?body=1, and then with signature and credential headers redacted.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/load.js';
import type { Spool } from './index.js';
import { DEFAULT_REPLAY_PACE, type ReplayPace, type SpoolFilter, type SpoolState } from './store/types.js';
import { decodeCursor } from './cursor.js';

const STATES: readonly SpoolState[] = ['pending', 'delivering', 'delivered', 'dead', 'cancelled'];
/** header names whose values are credentials or signatures: never shown */
const SECRET_HEADER = /sign|auth|token|secret|hmac|key|cookie|password/i;

const digest = (s: string) => createHash('sha256').update(s).digest();

export function redactHeaders(pairs: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < pairs.length; i += 2) out.push(pairs[i]!, SECRET_HEADER.test(pairs[i]!) ? '[redacted]' : pairs[i + 1]!);
  return out;
}

function fail(reply: FastifyReply, status: number, error: string, message: string) {
  return reply.code(status).header('cache-control', 'no-store').send({ error, message });
}

/** The filter of a query string or a JSON body; a string naming the bad field, or the filter. */
export function parseFilter(q: Record<string, unknown>, now: number): SpoolFilter | string {
  const f: SpoolFilter = {};
  if (q.route !== undefined) f.route = String(q.route);
  if (q.tenant !== undefined) f.tenant = String(q.tenant);
  if (q.state !== undefined) {
    if (!STATES.includes(q.state as SpoolState)) return `state: expected one of ${STATES.join(', ')}`;
    f.state = q.state as SpoolState;
  }
  for (const k of ['since', 'until'] as const) {
    if (q[k] === undefined) continue;
    const t = parseTime(String(q[k]), now);
    if (t === undefined) return `${k}: expected an RFC 3339 time or an age like 2h`;
    f[k] = t;
  }
  if (q.cursor !== undefined) {
    const after = decodeCursor(String(q.cursor));
    if (!after) return 'cursor: expected the nextCursor of an earlier answer, unchanged';
    f.after = after;
  }
  if (q.limit !== undefined) {
    const n = Number(q.limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000) return 'limit: expected a whole number from 1 to 1000';
    f.limit = n;
  }
  return f;
}

/** A bulk replay's pace: `perSecond` deliveries made due each second (default 100). */
export function parsePace(perSecond: unknown): ReplayPace | string {
  if (perSecond === undefined) return DEFAULT_REPLAY_PACE;
  const n = Number(perSecond);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) return 'perSecond: expected a whole number from 1 to 10000 (deliveries a bulk replay makes due each second)';
  return { max: n, windowMs: 1000 };
}

/** `2h` (that long ago) or an RFC 3339 time, as ms. */
export function parseTime(s: string, now: number): number | undefined {
  const m = /^([0-9]+)(s|m|h|d)$/.exec(s);
  if (m) return now - Number(m[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[m[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

export function registerSpoolAdmin(admin: FastifyInstance, deps: { spool: Spool; config: () => Config; now?: () => number }): void {
  const { spool, config } = deps;
  const now = deps.now ?? Date.now;

  admin.register(async (scope) => {
    scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      const token = config().adminToken;
      if (token === null) return fail(reply, 404, 'not_found', 'no adminToken is configured');
      const header = request.headers.authorization ?? '';
      const given = header.startsWith('Bearer ') ? header.slice(7) : '';
      // Compared as digests: equal lengths, constant time.
      if (!timingSafeEqual(digest(given), digest(token))) return fail(reply, 401, 'unauthorized', 'Authorization: Bearer <adminToken> is required');
      reply.header('cache-control', 'no-store');
    });

    scope.get('/spool/stats', async () => {
      const s = await spool.store.stats();
      return {
        counts: s.counts,
        oldestPendingSeconds: Object.fromEntries(s.oldestPendingMs.map((o) => [o.route, o.ms / 1000])),
        paused: s.paused,
      };
    });

    scope.get('/spool/deliveries', async (request, reply) => {
      const f = parseFilter(request.query as Record<string, unknown>, now());
      if (typeof f === 'string') return fail(reply, 400, 'bad_request', f);
      const page = await spool.store.page(f);
      return { deliveries: page.deliveries, nextCursor: page.next };
    });

    scope.get('/spool/deliveries/:id', async (request, reply) => {
      const { id } = request.params as { id: string };
      const withBody = (request.query as { body?: string }).body === '1';
      const d = await spool.store.byId(id, withBody);
      if (!d) return fail(reply, 404, 'not_found', 'no delivery with this id');
      const { request: req, ...row } = d;
      return req ? { ...row, request: { method: req.method, path: req.path, headers: redactHeaders(req.headers), body: req.body.toString('base64') } } : row;
    });

    scope.post('/spool/deliveries/:id/replay', async (request, reply) => {
      const { id } = request.params as { id: string };
      if (await spool.store.replay(id)) {
        spool.dispatcher.poke();
        return { replayed: true };
      }
      const d = await spool.store.byId(id, false);
      return d ? fail(reply, 409, 'conflict', 'the delivery is being delivered now') : fail(reply, 404, 'not_found', 'no delivery with this id');
    });

    scope.post('/spool/deliveries/:id/cancel', async (request, reply) => {
      const { id } = request.params as { id: string };
      const d = await spool.store.byId(id, false);
      if (!d) return fail(reply, 404, 'not_found', 'no delivery with this id');
      const route = config().routes.find((r) => r.path === d.route);
      if (await spool.store.cancel(id, route?.spool?.keepDeadMs ?? 7 * 86_400_000)) return { cancelled: true };
      return fail(reply, 409, 'conflict', `a ${d.state} delivery cannot be cancelled (only pending or dead ones)`);
    });

    scope.post('/spool/replay', async (request, reply) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const f = parseFilter(body, now());
      if (typeof f === 'string') return fail(reply, 400, 'bad_request', f);
      const pace = parsePace(body.perSecond);
      if (typeof pace === 'string') return fail(reply, 400, 'bad_request', pace);
      const count = await spool.store.replayMany(f, body.dryRun === true, pace);
      if (body.dryRun !== true) spool.dispatcher.poke();
      return { count, dryRun: body.dryRun === true };
    });

    for (const verb of ['pause', 'resume'] as const) {
      scope.post(`/spool/${verb}`, async (request, reply) => {
        const body = (request.body ?? {}) as { route?: unknown; tenant?: unknown };
        const route = config().routes.find((r) => r.path === body.route && r.delivery !== 'sync');
        if (!route) return fail(reply, 400, 'bad_request', `route: expected the path of a spool route as configured (${config().routes.filter((r) => r.delivery !== 'sync').map((r) => r.path).join(', ')})`);
        const tenant = body.tenant === undefined ? '*' : String(body.tenant);
        if (verb === 'pause') await spool.store.pause(route.path, tenant);
        else {
          await spool.store.resume(route.path, tenant);
          spool.dispatcher.poke();
        }
        return { route: route.path, tenant, paused: verb === 'pause' };
      });
    }
  });
}
