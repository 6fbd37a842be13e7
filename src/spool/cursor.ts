// The opaque cursor of `GET /spool/deliveries` and `hookgate spool ls`: the position of the last row
// of a page (its received_at at the store's own precision, and its key hash). The next page is the
// rows strictly before it in (received_at, key hash) descending order: a keyset, so rows inserted
// meanwhile (newer) never shift a page and no row is listed twice.
import type { ListPosition } from './store/types.js';

export function encodeCursor(p: ListPosition): string {
  return Buffer.from(`${p.at}.${p.hash.toString('hex')}`).toString('base64url');
}

/** The position a cursor names; undefined when it is not one this gateway made. */
export function decodeCursor(s: string): ListPosition | undefined {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(s)) return undefined;
  const m = /^([0-9]{1,18})\.([0-9a-f]{64})$/.exec(Buffer.from(s, 'base64url').toString('latin1'));
  return m ? { at: m[1]!, hash: Buffer.from(m[2]!, 'hex') } : undefined;
}

/** A page of `limit` rows from a query that fetched `limit + 1`: the next cursor only when more follow. */
export function pageOf<T>(rows: T[], limit: number, position: (row: T) => ListPosition): { rows: T[]; next: string | null } {
  if (rows.length <= limit) return { rows, next: null };
  const page = rows.slice(0, limit);
  return { rows: page, next: encodeCursor(position(page[limit - 1]!)) };
}

