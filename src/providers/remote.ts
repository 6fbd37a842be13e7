// Keys that come from the network: JWKS documents (src/providers/jwks.ts) and provider certificates
// (src/providers/cert-url.ts). The verifiers stay pure: the verify stage awaits `RemoteKeys.resolve`,
// then hands what it resolved to `verify` as its `fetched` argument. Every fetch goes through one
// `Fetcher` (tests inject their own), bounded in time and size, and never follows a redirect: a
// redirect could lead off the origin the configuration allowed.
import type { SignedRequest, VerifyFailure } from './types.js';

// All of undici is large (docs/benchmarks.md) and every gateway loads this module with the provider
// registry: it is loaded on the first fetch, by the routes that fetch keys.
let undiciRequest: typeof import('undici').request | undefined;

export interface FetchLimits {
  timeoutMs: number;
  maxBytes: number;
}

/**
 * GETs a URL and answers its body; throws on a non-2xx answer, a redirect, a timeout or a body over
 * `maxBytes`. `trustedRoots` (PEM) replaces Node's root store for certificate chains: tests only, with
 * a locally generated CA.
 */
export type Fetcher = ((url: URL, limits: FetchLimits) => Promise<Buffer>) & { trustedRoots?: readonly string[] };

export type Resolved =
  | { ok: true; material: unknown }
  | { ok: false; code: VerifyFailure | 'keys_unavailable'; message: string };

export interface RemoteKeys {
  /** Synchronous when the cache already answers; never fetches a URL the route did not allow. */
  resolve(req: SignedRequest, nowMs: number): Resolved | Promise<Resolved>;
}

export const DEFAULT_LIMITS: FetchLimits = { timeoutMs: 5_000, maxBytes: 256 * 1024 };

export const httpFetcher: Fetcher = async (url, limits) => {
  undiciRequest ??= (await import('undici')).request;
  const res = await undiciRequest(url, {
    method: 'GET',
    headersTimeout: limits.timeoutMs,
    bodyTimeout: limits.timeoutMs,
    signal: AbortSignal.timeout(limits.timeoutMs),
    headers: { accept: 'application/json, application/x-pem-file, */*' },
  });
  // a body given up on (a refusal below) is destroyed; its abort must not surface as an uncaught error
  res.body.on('error', () => undefined);
  if (res.statusCode < 200 || res.statusCode > 299) {
    res.body.destroy();
    throw new Error(`${url.origin} answered ${res.statusCode}`);
  }
  const declared = Number(res.headers['content-length'] ?? 0);
  if (declared > limits.maxBytes) {
    res.body.destroy();
    throw new Error(`${url.origin} sent more than ${limits.maxBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > limits.maxBytes) {
      res.body.destroy();
      throw new Error(`${url.origin} sent more than ${limits.maxBytes} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
};

export function unavailable(message: string): Resolved {
  return { ok: false, code: 'keys_unavailable', message };
}
