// Fresh signature headers for a late delivery (CONTRACT.md, Spool: re-signing). A handler that
// verifies by itself rejects a signed timestamp older than its window (Stripe: 5 min); a delivery that
// waited in the spool longer than the route's tolerance gets its signature headers made again with
// the current time and the secret that verified it, by the scheme's own signer. The body is never
// changed; header names keep their case and position. Symmetric, timestamped schemes only.
import type { Route } from '../config/load.js';
import type { SigningMeta } from './store/types.js';

/** Whether a delivery signed at `meta.signedAt` is late at `nowMs` for this route. */
export function late(route: Route, meta: SigningMeta | null, nowMs: number): meta is SigningMeta {
  return !!meta && nowMs - meta.signedAt > route.options.toleranceMs;
}

/**
 * The stored headers with the scheme's signature headers replaced (found by name, any case; the
 * Standard Webhooks `webhook-*` and `svix-*` names replace each other: Svix-delivered providers sign `svix-*`). Undefined when nothing could be
 * re-signed (no secret, a scheme that cannot sign, or none of its headers present): the original goes.
 */
export function resignHeaders(route: Route, tenant: string, meta: SigningMeta, method: string, body: Buffer, headers: readonly string[], nowMs: number): string[] | undefined {
  const secret = route.signingSecret?.(tenant, meta.secretIndex);
  if (!secret) return undefined;
  let fresh: Record<string, string>;
  try {
    fresh = route.scheme.sign({ secret, body, url: route.options.publicUrl ?? '', method, timestamp: Math.floor(nowMs / 1000), id: meta.id ?? '' });
  } catch {
    return undefined;
  }
  const out = [...headers];
  let replaced = 0;
  for (const [name, value] of Object.entries(fresh)) {
    const lower = name.toLowerCase();
    const names = lower.startsWith('webhook-') ? [lower, `svix-${lower.slice(8)}`] : lower.startsWith('svix-') ? [lower, `webhook-${lower.slice(5)}`] : [lower];
    for (let i = 0; i < out.length; i += 2) {
      if (names.includes(out[i]!.toLowerCase())) {
        out[i + 1] = value;
        replaced++;
      }
    }
  }
  return replaced ? out : undefined;
}
