// One catalogue: every answer hookgate makes itself, its status and its stable code (CONTRACT.md,
// HTTP behaviour). test/errors.test.ts keeps this table and README's in step.
export const CATALOGUE = {
  no_route: { status: 404, message: 'no route matches this path' },
  method_not_allowed: { status: 405, message: 'this route does not accept that method' },
  headers_too_large: { status: 431, message: 'the request headers are larger than the server accepts' },
  body_too_large: { status: 413, message: 'the body is larger than the route accepts' },
  malformed: { status: 400, message: 'the request could not be parsed' },
  signature_missing: { status: 401, message: 'the signature is missing' },
  signature_invalid: { status: 401, message: 'the signature does not match' },
  timestamp_out_of_tolerance: { status: 401, message: 'the signed timestamp is outside the allowed window' },
  payload_invalid: { status: 422, message: "the payload breaks the route's payload rules" },
  rate_limited: { status: 429, message: 'too many requests; retry later' },
  in_flight: { status: 409, message: 'this delivery is being processed; retry later' },
  ledger_unavailable: { status: 503, message: 'the idempotency ledger is unavailable; retry later' },
  keys_unavailable: { status: 503, message: 'the signing keys for this route could not be fetched; retry later' },
  spool_full: { status: 503, message: 'the spool holds as many deliveries as it may; retry later' },
  upstream_unavailable: { status: 502, message: 'the upstream could not be reached' },
  upstream_timeout: { status: 504, message: 'the upstream did not answer in time' },
  // Not in CONTRACT's table: what a bug in hookgate itself answers, without details. Tests assert it never happens.
  internal_error: { status: 500, message: 'hookgate failed to handle this request' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof CATALOGUE;

/** Every `hookgate-outcome` value: the error codes plus the non-error outcomes (`spooled`: stored for the upstream; `handshake`: a probe hookgate answered). */
export type Outcome = ErrorCode | 'forwarded' | 'duplicate' | 'handshake' | 'spooled';

/** An error that becomes a hookgate answer: status from the catalogue, message safe for callers. */
export class GatewayError extends Error {
  readonly status: number;
  constructor(readonly code: ErrorCode, message?: string, readonly retryAfterSeconds?: number, options?: { cause?: unknown }) {
    super(message ?? CATALOGUE[code].message, options);
    this.status = CATALOGUE[code].status;
  }
}

// The bodies of answers without details, by code and message: a flood of refusals repeats a handful.
// Bounded, since a message may name what a request sent.
const BODIES_MAX = 512;
const bodies = new Map<string, string>();

/** `details`: further fields of the body, for codes that say more (payload_invalid: pointer, rule). */
export function errorBody(code: ErrorCode, message?: string, details?: Record<string, string>): string {
  const text = message ?? CATALOGUE[code].message;
  if (details) return JSON.stringify({ error: code, message: text, ...details });
  const key = `${code}\n${text}`;
  let body = bodies.get(key);
  if (body === undefined) {
    body = JSON.stringify({ error: code, message: text });
    if (bodies.size < BODIES_MAX) bodies.set(key, body);
  }
  return body;
}

/** An error as a log field or a message between threads: its code and message, never its stack. */
export function errSummary(err: unknown): { code?: string; message: string; cause?: string } {
  const e = err as { code?: string; message?: string; cause?: { code?: unknown; message?: unknown } };
  // The driver's error under a ledger_unavailable (40001, ECONNREFUSED, …): what an operator looks for first.
  const cause = e?.cause ? String(e.cause.code ?? e.cause.message ?? '') : '';
  return { code: e?.code, message: String(e?.message ?? err), ...(cause ? { cause } : {}) };
}
