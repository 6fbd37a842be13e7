// The two limit stages (CONTRACT.md steps 2 and 5). Each counts one request in a fixed window and
// either continues or answers 429 `rate_limited` with Retry-After: the seconds until the window resets.
import type { onRequestHookHandler, preHandlerHookHandler } from 'fastify';
import { createRequire } from 'node:module';
import type { Rate } from '../config/units.js';
import type { Metrics } from '../observability/metrics.js';
import { answer } from '../stages/answer.js';
import { hangUpIfUnread } from '../stages/hang-up.js';
import type { LimitStore } from './store.js';

const require = createRequire(import.meta.url);
type NormalizeIP = (ip: string, ipv6Subnet?: number) => string;
let v6: NormalizeIP | undefined;

/**
 * An IPv4 address (no `:`) is its own key, as in @fastify/rate-limit's normalizeIP; only IPv6 needs
 * its /64 reduction. That module (the plugin and an IP address library) is loaded on the first IPv6
 * client: it costs idle memory, and its IPv6 regular expression costs every request.
 */
export function normalizeIP(ip: string): string {
  if (!ip.includes(':')) return ip.toLowerCase();
  v6 ??= (require('@fastify/rate-limit') as { normalizeIP: NormalizeIP }).normalizeIP;
  return v6(ip);
}

/** The rates in force; a reload swaps it whole. */
export interface LimitSettings {
  readonly unverified: Rate;
  /** named tenants, and `*` for each other tenant */
  readonly tenants: ReadonlyMap<string, Rate>;
  /** tenants a metric label may name; any other is `other` */
  readonly knownTenants: ReadonlySet<string>;
}

/**
 * Keys carry the window so that a reload that changes a window starts a fresh count instead of
 * inheriting a Redis TTL set for the old one.
 */
export const unverifiedKey = (ip: string, windowMs: number) => `u:${windowMs}:${normalizeIP(ip)}`;
export const tenantKey = (tenant: string, windowMs: number) => `t:${windowMs}:${tenant}`;

export function tenantRate(settings: LimitSettings, tenant: string): Rate {
  return settings.tenants.get(tenant) ?? settings.tenants.get('*')!;
}

/**
 * Step 2: per client address, before the body is read or any crypto runs. `request.ip` follows
 * x-forwarded-for only as far as `trustProxy` allows (Fastify's option, fed by
 * src/config/trust-proxy.ts); IPv6 addresses count per /64, since one host usually holds a whole /64.
 */
export function limitUnverified(store: LimitStore, settings: () => LimitSettings, metrics: Metrics): onRequestHookHandler {
  return function limitUnverified(request, reply, done) {
    const rate = settings().unverified;
    store.hit(unverifiedKey(request.ip, rate.windowMs), rate.windowMs, rate.max, (hit) => {
      if (hit.current <= rate.max) return done();
      metrics.rateLimited.cell('unverified', 'none').inc();
      hangUpIfUnread(reply);
      answer(reply, 'rate_limited', `more than ${rate.text} from this address; retry later`, hit.ttlMs / 1000);
    });
  };
}

/**
 * Step 5: per tenant, after verification. It runs in preHandler, so a request that failed
 * verification (answered in preValidation) never reaches it and never spends a tenant's quota.
 */
export function limitTenant(store: LimitStore, settings: () => LimitSettings, metrics: Metrics): preHandlerHookHandler {
  return function limitTenant(request, reply, done) {
    const tenant = request.hg?.tenant;
    if (tenant === undefined) return done();
    const s = settings();
    const rate = tenantRate(s, tenant);
    store.hit(tenantKey(tenant, rate.windowMs), rate.windowMs, rate.max, (hit) => {
      if (hit.current <= rate.max) return done();
      metrics.rateLimited.cell('tenant', s.knownTenants.has(tenant) ? tenant : 'other').inc();
      answer(reply, 'rate_limited', `tenant ${tenant} is over its rate of ${rate.text}; retry later`, hit.ttlMs / 1000);
    });
  };
}
