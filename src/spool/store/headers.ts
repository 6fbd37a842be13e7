import type { SigningMeta } from './types.js';
import type { StoredSpanContext } from '../../observability/tracing.js';
// Raw header pairs as stored: a JSON array of strings (names keep their case, pairs their order).
export function encodeHeaders(pairs: readonly string[]): Buffer {
  return Buffer.from(JSON.stringify(pairs), 'utf8');
}

export function decodeHeaders(bytes: Buffer | Uint8Array): string[] {
  const v = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
  if (!Array.isArray(v) || v.length % 2 !== 0 || !v.every((s) => typeof s === 'string')) throw new Error('spool: stored headers are not name/value pairs');
  return v as string[];
}

/**
 * The meta column (JSON): the signing metadata's fields, and `trace` (the accepting span's W3C
 * header values) when the delivery was traced. null when there is neither: an untraced delivery of
 * a route without a timestamped scheme stores what it stored before.
 */
export function encodeMeta(meta: SigningMeta | null, trace: StoredSpanContext | undefined): string | null {
  if (!trace) return meta ? JSON.stringify(meta) : null;
  return JSON.stringify(meta ? { ...meta, trace } : { trace });
}

// A traceparent is 55 characters; tracestate is at most 32 members (W3C): anything else was not written by encodeMeta.
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The meta column read back: the signing metadata (or null) and the accepting span's context (when stored and well formed). */
export function decodeStoredMeta(text: string | null): { meta: SigningMeta | null; trace?: StoredSpanContext } {
  if (!text) return { meta: null };
  let m: Partial<SigningMeta> & { trace?: Partial<StoredSpanContext> };
  try {
    m = JSON.parse(text) as typeof m;
  } catch {
    return { meta: null };
  }
  if (!m || typeof m !== 'object') return { meta: null };
  const meta = Number.isInteger(m.secretIndex) && Number.isFinite(m.signedAt)
    ? { secretIndex: m.secretIndex!, signedAt: m.signedAt!, ...(typeof m.id === 'string' ? { id: m.id } : {}) }
    : null;
  const t = m.trace;
  if (!t || typeof t.traceparent !== 'string' || !TRACEPARENT.test(t.traceparent)) return { meta };
  const trace: StoredSpanContext = typeof t.tracestate === 'string' && t.tracestate.length <= 512 ? { traceparent: t.traceparent, tracestate: t.tracestate } : { traceparent: t.traceparent };
  return { meta, trace };
}
