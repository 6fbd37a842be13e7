// A route's spool settings (CONTRACT.md, Spool): the top-level `spool:` block with the route's own keys
// over it, validated where load.ts resolves the route; and the re-signing secret lookup.
import type { RawConfig, RawRoute } from './schema.js';
import { parseDuration, parseRate, type Rate } from './units.js';

export interface SpoolSettings {
  readonly acceptStatus: number;
  readonly concurrency: number;
  /** waits after each failed attempt (ms); after the last, dead */
  readonly retryMs: readonly number[];
  readonly maxAgeMs: number;
  readonly keepDeliveredMs: number;
  readonly keepDeadMs: number;
  /** pending + delivering of this route (the top-level value unless the route sets its own) */
  readonly maxPending: number;
  readonly tenantMaxPending: number;
  /** the top-level bounds, across every route of the spool (CONTRACT.md: "across the spool") */
  readonly spoolMaxPending: number;
  readonly spoolTenantMaxPending: number;
  /** re-sign deliveries dispatched later than the route's tolerance after they were signed */
  readonly resign: boolean;
  /** deliveries per window to the upstream, per tenant (`*`: any other); empty: unpaced */
  readonly tenantRate: ReadonlyMap<string, Rate>;
}

/** (tenant or '*', index) → secret, for re-signing; held in a closure, never in the config's data. */
export function secretLookup(entries: Array<[string, number, string]>): (tenant: string, index: number) => string | undefined {
  const m = new Map(entries.map(([t, i, s]) => [`${t}\0${i}`, s]));
  return (tenant, index) => m.get(`${tenant}\0${index}`) ?? m.get(`*\0${index}`);
}

// Providers whose answer is the product (TwiML, interaction responses): a stored delivery cannot give it.
const SYNC_ONLY: Record<string, string> = {
  twilio: 'Twilio reads the TwiML of the answer',
  discord: 'Discord interactions are answered by the response body',
};

/** The route's spool settings: the top-level block, the route's keys over it; problems name the field. */
export function spoolSettings(raw: RawRoute, at: string, cfg: RawConfig, problems: string[]): SpoolSettings | null {
  const before = problems.length;
  const why = SYNC_ONLY[raw.provider];
  if (why) problems.push(`${at}.delivery: ${raw.delivery} is refused for provider ${raw.provider}: ${why}, so its deliveries must stay synchronous; use delivery: sync`);
  if (cfg.mode === 'monitor') problems.push(`${at}.delivery: ${raw.delivery} needs mode: enforce (monitor mode forwards every request, verified or not); use delivery: sync while monitoring`);
  const s = { ...cfg.spool, ...(raw.spool ?? {}) };
  const where = (key: string) => (raw.spool && key in raw.spool ? `${at}.spool.${key}` : `spool.${key}`);
  const tenantRate = new Map<string, Rate>();
  for (const [name, rate] of Object.entries(s.tenantRate ?? {})) {
    try {
      tenantRate.set(name, parseRate(rate));
    } catch (err) {
      problems.push(`${where('tenantRate')}["${name}"]: ${(err as Error).message}`);
    }
  }
  const retentionMs = parseDuration(cfg.ledger.retention);
  const maxAgeMs = parseDuration(s.maxAge);
  // The ledger must remember a spooled key at least as long as the spool may still deliver it.
  if (maxAgeMs > retentionMs) problems.push(`${where('maxAge')}: ${s.maxAge} is longer than ledger.retention (${cfg.ledger.retention}): a provider's retry after the key is forgotten would be spooled twice; raise ledger.retention or lower maxAge`);
  if (s.tenantMaxPending > s.maxPending) problems.push(`${where('tenantMaxPending')}: ${s.tenantMaxPending} is more than maxPending (${s.maxPending}); one tenant could fill the spool`);
  if (problems.length > before) return null;
  return {
    acceptStatus: s.acceptStatus,
    concurrency: s.concurrency,
    retryMs: s.retry.map(parseDuration),
    maxAgeMs,
    keepDeliveredMs: parseDuration(s.keepDelivered),
    keepDeadMs: parseDuration(s.keepDead),
    maxPending: s.maxPending,
    tenantMaxPending: s.tenantMaxPending,
    spoolMaxPending: cfg.spool.maxPending,
    spoolTenantMaxPending: cfg.spool.tenantMaxPending,
    resign: s.resign,
    tenantRate,
  };
}
