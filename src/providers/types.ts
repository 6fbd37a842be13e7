import type { IncomingHttpHeaders } from 'node:http';

/** Why a delivery was refused; each is a stable `hookgate-outcome` code (see src/errors.ts). */
export type VerifyFailure = 'signature_missing' | 'signature_invalid' | 'timestamp_out_of_tolerance' | 'malformed';

export type Verdict =
  | {
      ok: true;
      /** index of the route secret that matched (rotation evidence for hookgate_secret_matches_total) */
      secretIndex: number;
      /** an id covered by the signature (Standard Webhooks' webhook-id, Stripe's body id, …); absent: the key is the digest of the signed bytes */
      id?: string;
      /** the signed timestamp in ms since the epoch, where the scheme signs one */
      timestamp?: number;
      /**
       * The lower-cased headers this delivery's signature covered, where that differs between deliveries
       * (Standard Webhooks: the `webhook-*` or the `svix-*` names); absent: the scheme's `signedHeaders`.
       * An `idempotencyKey: header:NAME` outside them is refused for this delivery.
       */
      headers?: readonly string[];
      /**
       * Hex SHA-256 of the signed content, where that is more than the body (URL-signed schemes: the URL
       * and parameters as signed); absent: the body is what was signed. The key when there is no id.
       */
      digest?: string;
    }
  | { ok: false; code: VerifyFailure; /** safe for callers: never a secret or an expected signature */ message: string };

/** What a route's signature covers, for the config checks. */
export interface Coverage {
  body: boolean;
  headers: readonly string[];
}

/** Route settings a scheme may need, built once from the validated config. */
export interface SchemeOptions {
  /** allowed clock difference in ms, both directions */
  toleranceMs: number;
  /** the URL the provider called (URL-signed schemes); `null` when not configured */
  publicUrl: string | null;
  /** only for `generic` */
  generic?: GenericOptions;
  /** the JWT family (src/providers/jwt.ts): the route's `jwt:` block merged over the provider's facts */
  jwt?: import('./jwt.js').JwtOptions;
}

export interface GenericOptions {
  header: string;
  algorithm: 'sha1' | 'sha256' | 'sha512';
  encoding: 'hex' | 'base64';
  prefix: string;
  timestampHeader: string;
  separator: string;
}

/** One request as the verifier sees it. Pure data: no sockets, no clock. */
export interface SignedRequest {
  method: string;
  /** path and query exactly as received, e.g. `/webhooks/twilio?x=1` */
  url: string;
  /** Node's lower-cased headers */
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface SignInput {
  /** the secret (or, for asymmetric schemes, the PEM private key) */
  secret: string;
  body: Buffer;
  /** full URL the provider would call (URL-signed schemes) */
  url: string;
  method: string;
  /** unix seconds */
  timestamp: number;
  id: string;
  generic?: GenericOptions;
}

/**
 * A signature scheme. `K` is the prepared form of one configured secret (an HMAC key Buffer,
 * a KeyObject for asymmetric schemes), built once at config load by `key()`.
 */
export interface Scheme<K = unknown> {
  readonly name: string;
  /** Prepares one configured secret; throws an Error whose message names what is wrong (never the secret). */
  key(secret: string, opts: SchemeOptions): K;
  /**
   * Pure: headers, bytes, url, prepared secrets, options and the clock in; a verdict out. `fetched` is
   * what `remote` resolved for this request (a JWKS key set, a provider certificate's key), if any.
   */
  verify(req: SignedRequest, keys: readonly K[], opts: SchemeOptions, nowMs: number, fetched?: unknown): Verdict;
  /**
   * Keys that come from the network (JWKS, certificate URLs; src/providers/remote.ts): built once per route
   * by the verify stage, which awaits what it resolves before the pure `verify`. Only the configured
   * origins or the provider's own hosts are ever fetched.
   */
  remote?(opts: SchemeOptions, fetcher: import('./remote.js').Fetcher): import('./remote.js').RemoteKeys;
  /** When coverage depends on the route's options (the `jwt` family: a body-hash claim or not); replaces `signsBody`. */
  coverageOf?(opts: SchemeOptions): Coverage;
  /** False when the route may leave out `secrets` with these options (keys from a JWKS URL). */
  needsSecrets?(opts: SchemeOptions): boolean;
  /** The unsigned subscription probe this provider sends (src/providers/handshakes.ts), if any. */
  readonly handshake?: import('./handshakes.js').HandshakeKind;
  /** Documentation URL of the provider's signature scheme. */
  readonly docs?: string;
  /** Headers of a valid delivery (for `hookgate sign` and tests of handlers). */
  sign(input: SignInput): Record<string, string>;
  /**
   * Only for schemes whose signature travels inside the body (Mailgun): the body of a valid delivery,
   * with the signature written into it. `hookgate sign` sends this body with the headers of `sign()`.
   */
  signBody?(input: SignInput): Buffer;
  /**
   * Lower-cased header names the signature can cover (every delivery, unless its verdict names fewer).
   * `check` refuses an `idempotencyKey: header:NAME` outside them.
   */
  readonly signedHeaders: readonly string[];
  /**
   * False when the signature does not cover the body (Mailgun: timestamp + token only; GitLab's secret
   * token: nothing), so neither the tenant nor the idempotency key may be read from it (`json:`).
   */
  readonly signsBody: boolean;
  /**
   * When what is signed depends on a route's prepared secrets (GitLab: a signing token signs the body and
   * the webhook-* headers, a secret token nothing): the coverage of one secret list, replacing
   * `signsBody` and `signedHeaders` for the route.
   */
  coverageWith?(keys: readonly K[]): Coverage;
  /** True when the scheme signs the URL and the route needs `publicUrl`. */
  readonly urlSigned?: boolean;
  /** True when the configured secret is a public key (verification) and signing needs a private key file. */
  readonly asymmetric?: boolean;
  /** Extra warnings for `hookgate check` (e.g. Mailgun: the body is not signed). */
  readonly warnings?: readonly string[];
  /** What `hookgate providers` and docs/providers.md say about the scheme. Every registered provider has one. */
  readonly info?: ProviderInfo;
}

/**
 * A provider as `hookgate providers` lists it and docs/providers.md documents it (generated from these).
 * Pure data: a new family file sets it on its scheme, and the listing, the docs and the table tests follow.
 */
export interface ProviderInfo {
  /** the family of construction: hmac, standard-webhooks, url-signed, keyed-hash, token, key-in-body, ed25519, ecdsa, jwt, … */
  family: string;
  /** the provider's own documentation of its signature (a primary source) */
  docs: string;
  /** other names of the same provider (forgejo for gitea); `check` answers one with the name to write instead */
  aliases?: readonly string[];
  /** the headers that carry the signature, as the provider spells them */
  headers: readonly string[];
  /** what is signed, in the template notation of docs/providers.md (`{timestamp}.{body}`) */
  signed: string;
  /** where the signed timestamp comes from (`header X-Timestamp, unix ms`), or null when none is signed */
  timestamp: string | null;
  /** where the idempotency id comes from: `json:PATH` of the signed body, `header:NAME` of a signed header, or `digest` */
  id: string;
  /**
   * The provider's own delivery-id header where its signature does not cover it (X-GitHub-Delivery): never
   * the key, and `check` says the key is the digest instead.
   */
  deliveryIdHeader?: string;
  /** how a configured secret becomes the key (`utf8` as is, `hex`, `base64`, `whsec` = whsec_ + base64, `public-key`) */
  secret: 'utf8' | 'hex' | 'base64' | 'whsec' | 'public-key';
  /** a sentence or two a user must know (handshakes, unsigned fields, where the secret is found) */
  notes?: readonly string[];
  /**
   * The window the provider's own SDK allows (Box 10m, Cloudinary 2h): the route's tolerance when it sets
   * none, so deliveries the provider considers fresh are not refused; absent: DEFAULT_TOLERANCE.
   */
  tolerance?: string;
}
