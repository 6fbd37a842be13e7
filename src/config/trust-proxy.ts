// `trustProxy`: which proxies in front of hookgate may tell it the client's address (X-Forwarded-For)
// and the scheme (X-Forwarded-Proto). The client address keys the unverified rate limit, so a setting
// that believes a header the client wrote lets the client choose its own count.
//
// Forms (CONTRACT: `false | true`; the hop count and the list are extensions):
// - `false`: nobody; the TCP peer is the client.
// - `true`: everybody; the left-most X-Forwarded-For entry is the client (spoofable unless the proxy
//   in front replaces the header).
// - a hop count N >= 1: the N proxies nearest hookgate append honestly; the client is the N-th address
//   from the right of [X-Forwarded-For…, peer]. Entries further left were written by the client.
// - a list of addresses/CIDRs: walking from the peer leftwards, addresses in the list are proxies;
//   the first one outside it is the client. A peer outside the list is the client itself.
//
// Fastify 5 refuses a plain number (`trustProxy: 1` trusts nothing there, since a hop count cannot
// tell a proxy from a direct caller), so a hop count is handed over as the equivalent trust function,
// the same one Express uses for a number (`hop < N`).
import { fromFastify } from '../from-fastify.js';
import { isIP } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';

export type TrustProxy = boolean | number | readonly string[];
export type TrustFn = (address: string, hop: number) => boolean;

// The copy of @fastify/proxy-addr that Fastify itself uses, so hookgate and Fastify agree on every entry.
const proxyAddr = fromFastify('@fastify/proxy-addr') as {
  compile(val: string[]): TrustFn;
  all(req: unknown, trust: TrustFn): string[];
};

/** proxy-addr's named ranges, accepted as list entries. */
export const NAMED_RANGES = ['loopback', 'linklocal', 'uniquelocal'] as const;

/** Why one list entry is not an address or CIDR, or null when it is. Never echoes more than the entry. */
export function proxyEntryProblem(entry: string): string | null {
  if ((NAMED_RANGES as readonly string[]).includes(entry)) return null;
  const slash = entry.indexOf('/');
  const addr = slash < 0 ? entry : entry.slice(0, slash);
  const kind = isIP(addr);
  if (kind === 0) return `${JSON.stringify(entry)} is not an IP address or CIDR (e.g. 10.0.0.0/8, fd00::/8, or ${NAMED_RANGES.join(', ')})`;
  if (slash < 0) return null;
  const prefix = entry.slice(slash + 1);
  const max = kind === 4 ? 32 : 128;
  if (!/^[0-9]{1,3}$/.test(prefix) || Number(prefix) < 1 || Number(prefix) > max)
    return `${JSON.stringify(entry)} has a prefix length that is not 1-${max}`;
  return null;
}

/** Problems with a validated-by-schema value, each naming its entry (`trustProxy[1]: …`). */
export function trustProxyProblems(value: TrustProxy, at = 'trustProxy'): string[] {
  if (!Array.isArray(value)) return [];
  const out: string[] = [];
  value.forEach((entry, i) => {
    const p = proxyEntryProblem(entry);
    if (p) out.push(`${at}[${i}]: ${p}`);
  });
  if (!out.length) {
    try {
      proxyAddr.compile([...value]);
    } catch (err) {
      out.push(`${at}: ${(err as Error).message}`); // a disagreement with Fastify's parser, not expected
    }
  }
  return out;
}

/** The trust function for a setting: who may speak for the client. */
export function trustFunction(value: TrustProxy): TrustFn {
  if (value === true) return () => true;
  if (value === false) return () => false;
  if (typeof value === 'number') {
    const hops = value;
    return (_address, hop) => hop < hops;
  }
  return proxyAddr.compile([...value]);
}

/** What Fastify's `trustProxy` option gets: booleans and lists unchanged, a hop count as its function. */
export function fastifyTrustProxy(value: TrustProxy): boolean | string[] | TrustFn {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return trustFunction(value);
  return [...value];
}

/**
 * The X-Forwarded-For chain hookgate vouches for, left to right: from the client address it used
 * (request.ip) to the TCP peer. Untrusted entries further left are the caller's claims and are
 * dropped; with `false`, or a peer that is not a trusted proxy, that is the peer alone.
 */
export function trustedChain(req: { headers: Record<string, unknown>; socket: { remoteAddress?: string | undefined } }, trust: TrustFn): string[] {
  return proxyAddr.all(req, trust).reverse();
}

/**
 * X-Forwarded-For as far as it can be believed: only IP addresses. An entry that is not one (a name,
 * `unknown`, a port, 12 kB of text) was not written by a proxy that knew the client's address, so it
 * and everything left of it are dropped; undefined when nothing is left (the TCP peer is then the
 * client). Without this, `trustProxy: true` made any string a rate-limit key of its own, and the
 * upstream received it as an address.
 */
export function believableForwardedFor(value: string): string | undefined {
  const entries = value.split(',');
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i]!.trim();
    entries[i] = e;
    if (isIP(e) === 0) return i === entries.length - 1 ? undefined : entries.slice(i + 1).join(', ');
  }
  return value;
}

/** Rewrites the request's X-Forwarded-For to what can be believed, before anything reads request.ip. */
export function sanitizeForwardedFor(headers: IncomingHttpHeaders): void {
  const v = headers['x-forwarded-for'];
  if (v === undefined) return;
  const kept = believableForwardedFor(Array.isArray(v) ? v.join(', ') : v);
  if (kept === undefined) delete headers['x-forwarded-for'];
  else if (kept !== v) headers['x-forwarded-for'] = kept;
}
