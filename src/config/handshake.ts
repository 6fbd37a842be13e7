// A route's handshake (src/providers/handshakes.ts): the provider's own, or `handshake: { kind, token }`
// naming one explicitly (a provider verified with another's scheme, e.g. Meta with `github`).
import type { RawRoute } from './schema.js';
import { HANDSHAKES, PROVIDER_HANDSHAKES, type Handshake, type HandshakeContext } from '../providers/handshakes.js';
import type { Scheme } from '../providers/types.js';

export interface RouteHandshake {
  def: Handshake;
  ctx: HandshakeContext;
}

/**
 * `secret(ref, where)` resolves a secret reference as `secrets` are (null: reported already).
 * `firstKey` is the route's first prepared secret (X's CRC is keyed with the signing secret).
 */
export function resolveHandshake(
  raw: RawRoute,
  at: string,
  scheme: Scheme<unknown> | undefined,
  secret: (ref: string, where: string) => string | null,
  firstKey: unknown,
  problems: string[],
): RouteHandshake | null {
  const block = raw.handshake;
  const kind = block?.kind ?? scheme?.handshake ?? PROVIDER_HANDSHAKES[raw.provider];
  if (!kind) return null;
  if (block?.kind === 'none') return null;
  const def = HANDSHAKES[kind as keyof typeof HANDSHAKES];
  const refs = block?.token === undefined ? [] : Array.isArray(block.token) ? block.token : [block.token];
  if (def.needsToken && refs.length === 0) {
    problems.push(`${at}.handshake.token: is required for the ${def.kind} handshake (${def.needsToken}), e.g. env:NAME`);
    return null;
  }
  if (!def.needsToken && refs.length) {
    problems.push(`${at}.handshake.token: the ${def.kind} handshake uses no token; remove it`);
    return null;
  }
  const tokens: string[] = [];
  refs.forEach((ref, j) => {
    const v = secret(ref, `${at}.handshake.token${refs.length > 1 ? `[${j}]` : ''}`);
    if (v !== null) tokens.push(v);
  });
  const ctx: HandshakeContext = { tokens };
  if (def.usesSecret) {
    if (!Array.isArray(raw.secrets)) {
      problems.push(`${at}.secrets: the ${def.kind} handshake answers with the route's secret, so the route needs one secret list (not a map per tenant)`);
      return null;
    }
    if (firstKey !== null && firstKey !== undefined) ctx.secret = firstKey as HandshakeContext['secret'];
  }
  return { def, ctx };
}
