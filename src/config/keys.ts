// The idempotency key's layout (CONTRACT.md, Idempotency): `NAMESPACE|TENANT|KIND:VALUE`.
//   NAMESPACE  the route's path, percent-encoded outside a path's safe characters (so it never holds
//              `|`, a space or a non-ASCII byte), or an explicit `namespace:` name (which never starts
//              with `/`, so it never equals a path);
//   TENANT     the tenant alphabet (src/config/tenant-name.ts): no `|`;
//   KIND       `id` (an id, verbatim), `id-sha256` (the digest of an id that is not printable or too
//              long) or `sha256` (the digest of the signed content): ids and digests never meet.
// Neither of the first two parts can hold the separator, so a key splits back into exactly one
// (namespace, tenant, kind, value): two deliveries share a key only when all four are equal. The key
// stays printable ASCII: it travels in the hookgate-idempotency-key header and the logs; the ledger
// stores its SHA-256, so its length is not bounded by a column.

/** An explicit `namespace:` (schema pattern too): never `/…`, never the separator. */
export const NAMESPACE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const SEPARATOR = '|';

// RFC 3986 pchar and `/`, minus `%` (so the encoding stays injective)
const SAFE = /^[A-Za-z0-9._~!$&'()*+,;=:@/-]$/;

/** The namespace part of a route's keys, computed once at load. */
export function keyNamespace(namespace: string): string {
  let out = '';
  for (const byte of Buffer.from(namespace, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && SAFE.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** `NAMESPACE|`: what every key of the route starts with. */
export function keyPrefix(namespace: string): string {
  return keyNamespace(namespace) + SEPARATOR;
}
