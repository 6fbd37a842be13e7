import type { SigningMeta } from './types.js';
// Raw header pairs as stored: a JSON array of strings (names keep their case, pairs their order).
export function encodeHeaders(pairs: readonly string[]): Buffer {
  return Buffer.from(JSON.stringify(pairs), 'utf8');
}

export function decodeHeaders(bytes: Buffer | Uint8Array): string[] {
  const v = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
  if (!Array.isArray(v) || v.length % 2 !== 0 || !v.every((s) => typeof s === 'string')) throw new Error('spool: stored headers are not name/value pairs');
  return v as string[];
}

/** The stored signing metadata (JSON), or null when absent or not of the expected shape. */
export function decodeMeta(text: string | null): SigningMeta | null {
  if (!text) return null;
  try {
    const m = JSON.parse(text) as SigningMeta;
    return Number.isInteger(m.secretIndex) && Number.isFinite(m.signedAt) ? m : null;
  } catch {
    return null;
  }
}
