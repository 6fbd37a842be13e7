// Failure classes, the retry schedule and the route's backoff (CONTRACT.md, Spool; shared/spool.md
// §c.7): pure functions of an answer, the state and a random number.
//   - delivered: a status in completeOn;
//   - not reached (refused, unknown host, connect timeout) and overloaded (429, 502, 503, 504): the
//     route backs off and probes, and no attempt is spent (an outage costs nothing);
//   - failed (any other status, a timeout or reset after the request was sent): an attempt is spent,
//     the next one after the schedule's wait ±20 %, and after the last one the delivery is dead.

export type DispatchClass = 'delivered' | 'failed' | 'not_reached' | 'overloaded';

const OVERLOADED = new Set([429, 502, 503, 504]);
// Errors raised before the request could reach the application.
const NOT_REACHED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'ECONNRESET_BEFORE_SEND']);

export function classifyStatus(status: number, completes: (s: number) => boolean): DispatchClass {
  if (completes(status)) return 'delivered';
  return OVERLOADED.has(status) ? 'overloaded' : 'failed';
}

export function classifyError(code: string | undefined): DispatchClass {
  return code !== undefined && NOT_REACHED.has(code) ? 'not_reached' : 'failed';
}

/**
 * After a failed attempt: the wait before the next one, or null when it was the last. `spent` counts
 * the attempts spent so far, this one included (1 after the first failure).
 */
export function nextRetryMs(spent: number, schedule: readonly number[], random: number): number | null {
  if (spent < 1 || spent > schedule.length) return null;
  const base = schedule[spent - 1]!;
  return Math.max(0, Math.round(base * (0.8 + 0.4 * clamp01(random))));
}

export const BACKOFF_BASE_MS = 1_000;
/**
 * not reached: probe at least this often, so an application back from an outage or a deploy gets its
 * first deliveries within a second or two (CONTRACT.md, Spool). A probe to a closed port is one refused
 * connect a route a replica, so a short cap costs nothing worth saving.
 */
export const NOT_REACHED_CAP_MS = 1_500;
export const OVERLOADED_CAP_MS = 60_000;
export const RETRY_AFTER_MAX_MS = 600_000;

/**
 * How long a route waits before its next probe after `step` consecutive not-reached / overloaded
 * answers (1, 2, …): doubling from 1 s to the class's cap, with jitter in the upper half so replicas
 * do not probe together. An overloaded answer's Retry-After (seconds) wins, clamped to [1 s, 10 min].
 */
export function routeBackoffMs(step: number, kind: 'not_reached' | 'overloaded', random: number, retryAfterS?: number): number {
  if (kind === 'overloaded' && retryAfterS !== undefined && Number.isFinite(retryAfterS)) {
    return Math.min(RETRY_AFTER_MAX_MS, Math.max(BACKOFF_BASE_MS, Math.round(retryAfterS * 1000)));
  }
  const cap = kind === 'not_reached' ? NOT_REACHED_CAP_MS : OVERLOADED_CAP_MS;
  const ceiling = Math.min(cap, BACKOFF_BASE_MS * 2 ** Math.max(0, Math.min(step - 1, 20)));
  return Math.round(ceiling * (0.5 + 0.5 * clamp01(random)));
}

/** Retry-After as seconds (delta-seconds or an HTTP date), undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\s*[0-9]+\s*$/.test(v)) return Number(v);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, (t - nowMs) / 1000);
}

/** The `hookgate-delivery` header: replay after an operator's replay, retry once an attempt was spent. */
export function deliveryKind(attempts: number, replays: number): 'first' | 'retry' | 'replay' {
  if (replays > 0) return 'replay';
  return attempts > 0 ? 'retry' : 'first';
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0.5;
}
