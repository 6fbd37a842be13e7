// Reads, validates and resolves the configuration once, at the edge. Every problem is reported with
// its field path (`routes[2].secrets[0]: env var STRIPE_SECRET is not set`); the result is frozen and
// the rest of the gateway trusts it.
import { redactCredentials } from './redact.js';
import { readFileSync } from 'node:fs';
import { resolve as resolvePath, dirname } from 'node:path';
import { parseDocument } from 'yaml';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { RawConfig, RawRoute } from './schema.js';
// Generated from the schema by `npm run schema`: validating needs neither ajv nor TypeBox at run time.
import { validate as generatedValidate } from './validate-config.generated.js';
import { DEFAULT_TOLERANCE, parseDuration, parseHostPort, parseRate, parseSize, statusMatcher, type Rate } from './units.js';
import { getScheme, PROVIDER_NAMES, providerForAlias } from '../providers/index.js';
import type { Coverage, Scheme, SchemeOptions } from '../providers/types.js';
import type { LedgerOptions } from '../ledger/types.js';
import { limitProblems } from './limits.js';
import { trustProxyProblems, type TrustProxy } from './trust-proxy.js';
import { contentDigest } from './digest.js';
import { TENANT, TENANT_RULE } from './tenant-name.js';
import { keyPrefix } from './keys.js';
import { resolvePayload, type PayloadContext, type PayloadRules, type RawPayload } from './payload.js';
import { schemaCompiler, type SchemaCompiler } from '../payload/compile.js';
import { resolveJwt } from './jwt.js';
import { resolveHandshake, type RouteHandshake } from './handshake.js';
import { secretLookup, spoolSettings, type SpoolSettings } from './spool.js';

export type { SpoolSettings };

const validateSchema = generatedValidate as unknown as ValidateFunction;

export class ConfigError extends Error {
  /** each problem as it may be printed and logged: a connection URL's credentials are never in it */
  readonly problems: string[];
  constructor(problems: string[]) {
    const safe = problems.map(redactCredentials);
    super(`invalid configuration:\n  ${safe.join('\n  ')}`);
    this.problems = safe;
  }
}

export type TenantRule =
  | { kind: 'literal'; value: string }
  | { kind: 'param' | 'json' | 'header'; name: string };

export type IdempotencyRule = { kind: 'default' } | { kind: 'header' | 'json'; name: string };

export interface Route {
  readonly index: number;
  /** the path as configured: also the `route` metric label */
  readonly path: string;
  readonly provider: string;
  readonly scheme: Scheme<unknown>;
  readonly methods: ReadonlySet<string>;
  readonly tenant: TenantRule;
  /** prepared keys: one list for the route, or one list per tenant (the tenant chooses the secrets) */
  readonly keys: readonly unknown[] | ReadonlyMap<string, readonly unknown[]>;
  readonly options: SchemeOptions;
  readonly forwardTo: string | null;
  readonly bodyLimit: number;
  readonly idempotencyKey: IdempotencyRule;
  /** the key space of the route's deliveries: its path, or the `namespace` several routes share on purpose */
  readonly namespace: string;
  /** `NAMESPACE|`, encoded once (src/config/keys.ts): every key of the route starts with it */
  readonly keyPrefix: string;
  /** lower-cased headers the route's signature can cover (the scheme's, plus generic's timestamp header) */
  readonly signedHeaders: readonly string[];
  /** the route's payload rules (src/config/payload.ts), or null: no check, no cost */
  readonly payload: PayloadRules | null;
  /** the subscription probe the route answers (src/stages/handshake.ts), or null */
  readonly handshake: RouteHandshake | null;
  /** sync: forward while the provider waits; spool: store, answer, deliver later; hybrid: forward, store what fails (src/spool) */
  readonly delivery: 'sync' | 'spool' | 'hybrid';
  /** the route's spool settings (top-level `spool:` with the route's overrides); null on sync routes */
  readonly spool: SpoolSettings | null;
  /**
   * The secret (as configured) that a tenant's delivery was verified with, by index: for re-signing a
   * late spooled delivery. A function, so the secrets never land in a serialised config. Null unless
   * the route spools with `resign` on a symmetric scheme.
   */
  readonly signingSecret: ((tenant: string, index: number) => string | undefined) | null;
}

/** Where one resolved secret was seen first, to refuse it under another tenant (see resolveConfig). */
interface SecretUse {
  where: string;
  route: number;
  /** the tenant name, or `json:PATH` for a route-wide list whose tenant the signed body names */
  tenant: string;
  namespace: string;
}

export interface Config {
  /** absolute path of the file, or null when built from an object */
  readonly file: string | null;
  readonly listen: { host: string; port: number };
  readonly admin: { host: string; port: number };
  readonly mode: 'enforce' | 'monitor';
  /** `false`, `true`, a hop count, or trusted proxy addresses/CIDRs (src/config/trust-proxy.ts) */
  readonly trustProxy: TrustProxy;
  /** the top-level bodyLimit (routes carry their own): what a pass-through may send */
  readonly bodyLimit: number;
  readonly logLevel: string;
  readonly upstream: {
    readonly url: URL;
    readonly timeoutMs: number;
    readonly unmatched: 'reject' | 'forward';
    readonly completes: (status: number) => boolean;
  };
  readonly ledger: LedgerOptions & { readonly onError: 'reject' | 'allow' };
  readonly limits: {
    readonly store: string;
    readonly unverified: Rate;
    /** named tenants; `*` for any other */
    readonly tenants: ReadonlyMap<string, Rate>;
  };
  readonly routes: readonly Route[];
  /** tenants that metrics may name; any other is `other` */
  readonly knownTenants: ReadonlySet<string>;
  /** every `file:` secret read, for the reload watcher */
  readonly secretFiles: readonly string[];
  /** every payload schema file read, watched like the secret files */
  readonly schemaFiles: readonly string[];
  /** bearer token for /spool on the admin listener; null: those endpoints answer 404 */
  readonly adminToken: string | null;
}

export interface Loaded {
  config: Config;
  warnings: string[];
  /**
   * The digest (src/config/digest.ts: keyed, per process) of every file this load read, as read: the
   * config file and each `file:` secret. The reload watcher starts from these, so a change landing
   * between the load and the watcher's start is still a change.
   */
  digests: ReadonlyMap<string, string>;
}

export interface LoadEnv {
  env: NodeJS.ProcessEnv;
  /** folder that relative `file:` paths are read from */
  baseDir: string;
}

/** `/routes/2/secrets/0` → `routes[2].secrets[0]` */
function fieldPath(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  let out = '';
  for (const p of parts) out += /^[0-9]+$/.test(p) ? `[${p}]` : /^[A-Za-z_][\w]*$/.test(p) ? (out ? `.${p}` : p) : `["${p}"]`;
  return out || '(top level)';
}

function describeSchemaError(e: ErrorObject): string | null {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${fieldPath(e.instancePath, String(p.additionalProperty))}: unknown key`;
    case 'required':
      return `${fieldPath(e.instancePath, String(p.missingProperty))}: is required`;
    case 'pattern': {
      const hint = (e.parentSchema as { description?: string } | undefined)?.description;
      return `${fieldPath(e.instancePath)}: expected ${hint ?? `a value matching ${String(p.pattern)}`}, got ${JSON.stringify(e.data)}`;
    }
    case 'const':
    case 'enum':
      return null; // reported once by the union (anyOf) below
    case 'anyOf': {
      const described = (e.parentSchema as { description?: string }).description;
      if (described) return `${fieldPath(e.instancePath)}: expected ${described}, got ${JSON.stringify(e.data)}`;
      const choices = ((e.parentSchema as { anyOf?: { const?: unknown }[] }).anyOf ?? []).map((s) => s.const);
      if (choices.every((c) => c !== undefined)) return `${fieldPath(e.instancePath)}: expected one of ${choices.map((c) => JSON.stringify(c)).join(', ')}, got ${JSON.stringify(e.data)}`;
      return `${fieldPath(e.instancePath)}: expected a list of secret references or a map from tenant to such a list`;
    }
    case 'type':
      return `${fieldPath(e.instancePath)}: expected ${String(p.type)}, got ${e.data === null ? 'nothing' : Array.isArray(e.data) ? 'a list' : typeof e.data}`;
    default:
      return `${fieldPath(e.instancePath)}: ${e.message ?? 'invalid'}`;
  }
}

/** Resolves one secret reference; literal secrets are accepted with a warning. */
function readSecret(ref: string, where: string, envs: LoadEnv, problems: string[], warnings: string[], files: Map<string, string>): string | null {
  if (ref.startsWith('env:')) {
    const name = ref.slice(4);
    const v = envs.env[name];
    if (v === undefined || v === '') {
      problems.push(`${where}: env var ${name} is not set`);
      return null;
    }
    return v;
  }
  if (ref.startsWith('file:')) {
    const path = resolvePath(envs.baseDir, ref.slice(5));
    try {
      const bytes = readFileSync(path);
      // The first read of a file is its baseline: a later, different read can only cause one more reload.
      if (!files.has(path)) files.set(path, contentDigest(bytes));
      const v = bytes.toString('utf8').replace(/\r?\n$/, '');
      if (v === '') {
        problems.push(`${where}: file ${path} is empty`);
        return null;
      }
      return v;
    } catch (err) {
      problems.push(`${where}: file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      return null;
    }
  }
  warnings.push(`${where}: a literal secret is written in the config; prefer env:NAME or file:PATH`);
  return ref;
}

function parseRule<K extends string>(value: string, kinds: readonly K[]): { kind: K; name: string } | null {
  const i = value.indexOf(':');
  if (i < 0) return null;
  const kind = value.slice(0, i) as K;
  return kinds.includes(kind) && i < value.length - 1 ? { kind, name: value.slice(i + 1) } : null;
}

/**
 * What a route's signature leaves open (issue 15): no signed timestamp (a capture is forwarded again once
 * the ledger forgets its key), and an id the provider sends in a header its signature does not cover
 * (hookgate keys on the digest instead, or the scheme would be broken if it used that header).
 */
function replayWarnings(raw: RawRoute, at: string, scheme: Scheme<unknown>, options: SchemeOptions, coverage: readonly Coverage[] | null, signedHeaders: readonly string[], key: IdempotencyRule, retention: string, warnings: string[]): void {
  const info = scheme.info;
  // generic and jwt routes say per route whether a time is signed (timestampHeader; requireIat, a detached ts)
  const signsTime = raw.provider === 'generic' ? !!options.generic?.timestampHeader : options.jwt ? options.jwt.iatWindow || options.jwt.detached : !!info?.timestamp;
  const timestamped = signsTime && (coverage === null || coverage.every((c) => c.body));
  if (!timestamped)
    warnings.push(`${at}: ${raw.provider} signs no timestamp, so nothing in a delivery says when it was made: a captured one sent again after ledger.retention (${retention}) is forwarded again; keep retention longer than the provider's retries${raw.provider === 'generic' ? ', or set generic.timestampHeader if the sender signs one' : ''}`);
  const idHeader = info?.id.startsWith('header:') ? info.id.slice(7).toLowerCase() : null;
  if (idHeader && !signedHeaders.includes(idHeader))
    warnings.push(`${at}: ${raw.provider} takes its id from header ${idHeader}, which its signature does not cover: a replay could change it and pass as a new delivery`);
  if (info?.deliveryIdHeader && key.kind === 'default')
    warnings.push(`${at}: ${raw.provider} names deliveries in ${info.deliveryIdHeader}, which its signature does not cover, so the idempotency key is the SHA-256 of what was signed instead: retries with the same bytes are duplicates, and a changed ${info.deliveryIdHeader} does not make a new delivery`);
}

function resolveRoute(raw: RawRoute, i: number, cfg: RawConfig, envs: LoadEnv, problems: string[], warnings: string[], files: Map<string, string>, defaultBodyLimit: number, secretUses: Map<string, SecretUse>, payloads: PayloadContext): Route | null {
  const at = `routes[${i}]`;
  const before = problems.length;
  const scheme = getScheme(raw.provider);
  const canonical = scheme ? undefined : providerForAlias(raw.provider);
  // one name a provider (the forwarded hookgate-provider is that name): another name of it says which to write
  if (canonical) problems.push(`${at}.provider: ${raw.provider} is listed under its name ${canonical}; write provider: ${canonical}`);
  else if (!scheme) problems.push(`${at}.provider: expected one of ${PROVIDER_NAMES.join(', ')}, got ${JSON.stringify(raw.provider)}`);

  const params = [...raw.path.matchAll(/:([A-Za-z_][\w]*)/g)].map((m) => m[1]!);
  const tenantRule = parseRule(raw.tenant, ['param', 'json', 'header'] as const);
  const tenant: TenantRule = tenantRule ?? { kind: 'literal', value: raw.tenant };
  if (tenant.kind === 'param' && !params.includes(tenant.name)) problems.push(`${at}.tenant: the path ${raw.path} has no :${tenant.name} parameter`);
  if (tenant.kind === 'header') tenant.name = tenant.name.toLowerCase();
  // A literal is a tenant name like any other (it goes into the key, a header and a metric label).
  if (tenant.kind === 'literal' && !TENANT.test(tenant.value))
    problems.push(`${at}.tenant: expected a tenant name of ${TENANT_RULE}, or param:NAME, header:NAME or json:PATH; got ${JSON.stringify(raw.tenant)}`);
  const namespace = raw.namespace ?? raw.path;

  // the route's own, else the window the provider's SDK allows (Box, Cloudinary, ElevenLabs), else the default
  const tolerance = raw.tolerance ?? scheme?.info?.tolerance ?? DEFAULT_TOLERANCE;
  const toleranceMs = parseDuration(tolerance);
  const options: SchemeOptions = { toleranceMs, publicUrl: raw.publicUrl ?? null };
  if (raw.provider === 'generic') {
    if (!raw.generic) problems.push(`${at}.generic: is required for provider generic (header, algorithm, encoding, …)`);
    else options.generic = { ...raw.generic, header: raw.generic.header.toLowerCase(), timestampHeader: raw.generic.timestampHeader.toLowerCase() } as SchemeOptions['generic'];
  } else if (raw.generic) problems.push(`${at}.generic: only allowed with provider generic`);
  const jwt = resolveJwt(raw, at, problems, warnings);
  if (jwt) options.jwt = jwt;
  if (scheme?.urlSigned && !raw.publicUrl) problems.push(`${at}.publicUrl: is required for provider ${raw.provider}, which signs the URL the provider called`);
  if (scheme?.warnings) for (const w of scheme.warnings) warnings.push(`${at}: ${w}`);

  // One secret under two tenants lets a delivery captured for one be accepted as the other: the key
  // differs by tenant (and route), so the ledger cannot tell it is a replay. Compared as resolved.
  const remember = (secret: string, where: string, tenantName: string): void => {
    const prev = secretUses.get(secret);
    if (!prev) return void secretUses.set(secret, { where, route: i, tenant: tenantName, namespace });
    if (prev.tenant !== tenantName)
      problems.push(`${where}: the same secret as ${prev.where} (tenant ${prev.tenant}) under tenant ${tenantName}: a delivery captured for one would be accepted again as the other; give each tenant its own secret`);
    else if (prev.route !== i && prev.namespace !== namespace)
      warnings.push(`${where}: the same secret as ${prev.where}, on another route with its own key space: a delivery captured on one route is forwarded again on the other; if both receive the same provider account's deliveries, give them the same namespace`);
  };
  const rawSecrets: Array<[string, number, string]> = [];
  const prepare = (ref: string, where: string, tenantName: string, index = 0, lookupTenant = tenantName): unknown => {
    const secret = readSecret(ref, where, envs, problems, warnings, files);
    if (secret !== null) remember(secret, where, tenantName);
    if (secret !== null) rawSecrets.push([lookupTenant, index, secret]);
    if (secret === null || !scheme) return null;
    try {
      return scheme.key(secret, options);
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
      return null;
    }
  };
  let keys: Route['keys'];
  if (raw.secrets === undefined) {
    // only where keys come from elsewhere (a JWKS URL); src/config/jwt.ts names what is missing
    if (!scheme?.needsSecrets || scheme.needsSecrets(options)) {
      if (!options.jwt) problems.push(`${at}.secrets: is required`);
    }
    keys = [];
  } else if (Array.isArray(raw.secrets)) {
    const shared = tenant.kind === 'literal' ? tenant.value : `${tenant.kind}:${tenant.name}`;
    keys = raw.secrets.map((ref, j) => prepare(ref, `${at}.secrets[${j}]`, shared, j, '*'));
    // The contract: the tenant comes only from the route or from signed material.
    if (tenant.kind === 'param' || tenant.kind === 'header')
      problems.push(`${at}.tenant: ${raw.tenant} is taken from the request, and with one secret list for the route nothing proves it: a delivery captured for one tenant would be accepted again under every other name. Give secrets as a map from tenant to its own secrets (then the signature proves the tenant), or use a literal tenant or json:PATH of the signed body`);
  } else {
    if (tenant.kind === 'literal') problems.push(`${at}.secrets: a per-tenant map needs a tenant taken from the request (param:, header: or json:), not the literal ${JSON.stringify(tenant.value)}`);
    const map = new Map<string, unknown[]>();
    for (const [name, refs] of Object.entries(raw.secrets)) {
      if (!TENANT.test(name)) problems.push(`${at}.secrets["${name}"]: a tenant name is ${TENANT_RULE}, so no request can name this one`);
      map.set(name, refs.map((ref, j) => prepare(ref, `${at}.secrets.${name}[${j}]`, name, j)));
    }
    keys = map;
  }
  // What the route's signature covers: what every one of its secret lists covers (GitLab: it depends on
  // the kind of secret). Body-derived tenants and keys need a signed body; with a map, the tenant's own
  // secret proves the tenant even where the body is not signed.
  const lists = keys instanceof Map ? [...keys.values()] : [keys];
  const coverage = scheme?.coverageOf ? [scheme.coverageOf(options)] : scheme?.coverageWith ? lists.map((l) => scheme.coverageWith!(l)) : null;
  const signsBody = coverage ? coverage.every((c) => c.body) : scheme?.signsBody ?? true;
  const schemeHeaders = coverage ? scheme!.signedHeaders.filter((h) => coverage.every((c) => c.headers.includes(h))) : scheme?.signedHeaders ?? [];
  if (!signsBody && tenant.kind === 'json' && !(keys instanceof Map))
    problems.push(`${at}.tenant: ${raw.provider} does not sign the body, so ${raw.tenant} can be changed in a captured delivery and name any tenant; use a literal tenant, or a map from tenant to its own secrets`);

  const idem = raw.idempotencyKey === 'default' ? null : parseRule(raw.idempotencyKey, ['header', 'json'] as const);
  const idempotencyKey: IdempotencyRule = idem ? { kind: idem.kind, name: idem.kind === 'header' ? idem.name.toLowerCase() : idem.name } : { kind: 'default' };
  const signedHeaders = Object.freeze([...schemeHeaders, ...(options.generic?.timestampHeader ? [options.generic.timestampHeader] : [])]);
  // The key must come only from what the signature covers: anything else a replay can change.
  if (idempotencyKey.kind === 'header' && scheme && !signedHeaders.includes(idempotencyKey.name))
    problems.push(`${at}.idempotencyKey: header ${idempotencyKey.name} is not covered by the ${raw.provider} signature (${signedHeaders.length ? `it covers ${signedHeaders.join(', ')}` : 'it covers no header'}), so a replayed delivery with a new value would get a new key; use default (the scheme's signed id, else the digest of what it signed)${signedHeaders.length ? ' or one of those headers' : ''}`);
  if (idempotencyKey.kind === 'json' && !signsBody)
    problems.push(`${at}.idempotencyKey: ${raw.provider} does not sign the body, so ${raw.idempotencyKey} can be changed in a captured delivery and pass as a new one; use default (the scheme's signed id, else the digest of what it signed)`);

  if (scheme) replayWarnings(raw, at, scheme, options, coverage, signedHeaders, idempotencyKey, cfg.ledger.retention, warnings);

  const methods = new Set(raw.methods.map((m) => m.toUpperCase()));
  let bodyLimit = defaultBodyLimit;
  if (raw.bodyLimit) bodyLimit = parseSize(raw.bodyLimit);
  // The window is two-sided: a delivery first seen `tolerance` before its signed timestamp is still
  // accepted `tolerance` after it, so its key must be remembered for 2 × tolerance.
  if (parseDuration(cfg.ledger.retention) < 2 * toleranceMs)
    problems.push(`${at}.tolerance: ${tolerance}${raw.tolerance ? '' : ` (${raw.provider}'s default)`} accepts a signed timestamp up to ${tolerance} either side of the clock, so ledger.retention (${cfg.ledger.retention}) must be at least 2 × tolerance, or a replay late in the window finds its key forgotten; raise ledger.retention or lower tolerance`);

  const payload = raw.payload && Object.keys(raw.payload).length ? resolvePayload(raw.payload as RawPayload, `${at}.payload`, payloads) : null;
  const firstKey = Array.isArray(keys) ? keys[0] : undefined;
  const handshake = resolveHandshake(raw, at, scheme, (ref, where) => readSecret(ref, where, envs, problems, warnings, files), firstKey, problems);
  const spool = raw.delivery === 'sync' ? null : spoolSettings(raw, at, cfg, problems);

  if (problems.length > before || !scheme) return null;
  return {
    index: i, path: raw.path, provider: raw.provider, scheme, methods, tenant, keys, options, forwardTo: raw.forwardTo ?? null, bodyLimit, idempotencyKey,
    namespace, keyPrefix: keyPrefix(namespace), signedHeaders, payload, handshake, delivery: spool ? raw.delivery : 'sync', spool,
    signingSecret: spool?.resign && !scheme.asymmetric && !scheme.urlSigned && rawSecrets.length ? secretLookup(rawSecrets) : null,
  };
}

/** Validates and resolves a parsed document. Throws ConfigError listing every problem. */
export function resolveConfig(input: unknown, envs: LoadEnv, file: string | null = null): Loaded {
  const problems: string[] = [];
  const warnings: string[] = [];
  const doc = structuredClone(input ?? {});
  if (!validateSchema(doc)) {
    const seen = new Set<string>();
    // A described union (trustProxy) is reported once, as a whole, instead of once per branch it missed.
    const unions = (validateSchema.errors ?? []).filter((e) => e.keyword === 'anyOf' && (e.parentSchema as { description?: string }).description).map((e) => e.instancePath);
    for (const e of validateSchema.errors ?? []) {
      if (e.keyword !== 'anyOf' && unions.some((u) => e.instancePath === u || e.instancePath.startsWith(`${u}/`))) continue;
      const line = describeSchemaError(e);
      if (line && !seen.has(line)) (seen.add(line), problems.push(line));
    }
    throw new ConfigError(problems);
  }
  const raw = doc as RawConfig;
  const field = <T>(at: string, f: () => T): T | null => {
    try {
      return f();
    } catch (err) {
      problems.push(`${at}: ${(err as Error).message}`);
      return null;
    }
  };
  const listen = field('listen', () => parseHostPort(raw.listen));
  const admin = field('admin', () => parseHostPort(raw.admin));
  if (listen && admin && listen.port === admin.port && listen.port !== 0) problems.push(`admin: must not share the traffic port ${listen.port}`);
  const bodyLimit = parseSize(raw.bodyLimit);
  problems.push(...trustProxyProblems(raw.trustProxy));
  const unverified = field('limits.unverified', () => parseRate(raw.limits.unverified ?? '200/s'));
  const tenants = new Map<string, Rate>();
  for (const [name, rate] of Object.entries(raw.limits.tenants ?? {})) {
    const r = field(`limits.tenants["${name}"]`, () => parseRate(rate));
    if (r) tenants.set(name, r);
  }
  if (!tenants.has('*')) tenants.set('*', parseRate('100/s'));
  // Connection URLs may carry passwords: they can come from env:/file: like secrets.
  const connection = (value: string, at: string, shape: RegExp, expected: string): string => {
    if (!value.startsWith('env:') && !value.startsWith('file:')) return value;
    const v = readSecret(value, at, envs, problems, warnings, new Map()); // bound at start: not watched
    if (v !== null && !shape.test(v)) problems.push(`${at}: ${value} holds something that is not ${expected}`);
    return v ?? value;
  };
  const ledgerUrl = connection(raw.ledger.url, 'ledger.url', /^(embedded(:.+)?|postgres(ql)?:\/\/.+)$/, 'embedded, embedded:PATH or postgres://…');
  const store = connection(raw.limits.store, 'limits.store', /^(memory|rediss?:\/\/.+)$/, 'memory or redis://…');
  problems.push(...limitProblems(store, Object.keys(raw.limits.tenants ?? {})));
  const upstreamUrl = field('upstream.url', () => new URL(raw.upstream.url));

  const files = new Map<string, string>();
  const secretUses = new Map<string, SecretUse>();
  let compiler: SchemaCompiler | undefined;
  const payloads: PayloadContext = {
    baseDir: envs.baseDir, problems, files: new Map(), cache: new Map(),
    compiler: () => (compiler ??= schemaCompiler((w) => warnings.push(w))),
  };
  const routes: Route[] = [];
  const seenPaths = new Map<string, number>();
  raw.routes.forEach((r, i) => {
    const normalized = r.path.replace(/:[A-Za-z_][\w]*/g, ':');
    const prev = seenPaths.get(normalized);
    if (prev !== undefined) problems.push(`routes[${i}].path: ${r.path} is already served by routes[${prev}]`);
    else seenPaths.set(normalized, i);
    const route = resolveRoute(r, i, raw, envs, problems, warnings, files, bodyLimit, secretUses, payloads);
    if (route) routes.push(route);
  });

  // Tenants a route can name: literals and per-tenant secret maps. A json tenant with a route-wide
  // secret list can name anything, so then no configured tenant is unreachable.
  const known = new Set<string>();
  let open = false;
  for (const r of routes) {
    if (r.tenant.kind === 'literal') known.add(r.tenant.value);
    else if (r.keys instanceof Map) for (const t of r.keys.keys()) known.add(t);
    else open = true;
  }
  for (const name of tenants.keys())
    if (name !== '*' && !open && !known.has(name)) problems.push(`limits.tenants["${name}"]: no route can produce tenant ${name}`);
  for (const name of tenants.keys()) if (name !== '*') known.add(name);

  const retentionMs = parseDuration(raw.ledger.retention);
  const leaseMs = parseDuration(raw.ledger.lease);
  const timeoutMs = parseDuration(raw.upstream.timeout);
  if (leaseMs < timeoutMs)
    warnings.push(`ledger.lease: ${raw.ledger.lease} is shorter than upstream.timeout ${raw.upstream.timeout}; a delivery the upstream is still working on can be taken over by a retry and reach it twice`);
  if (raw.ledger.schema && !ledgerUrl.startsWith('postgres')) problems.push('ledger.schema: only applies to a postgres:// ledger');
  if (ledgerUrl === 'embedded' || ledgerUrl === 'embedded:' || ledgerUrl === 'embedded::memory:')
    for (const r of routes) if (r.delivery !== 'sync') problems.push(`routes[${r.index}].delivery: ${r.delivery} needs a durable ledger, and ledger.url ${raw.ledger.url} keeps everything in memory (a restart loses every stored delivery); use embedded:PATH on a persistent volume, or postgres://…`);
  const adminToken = raw.adminToken === undefined ? null : readSecret(raw.adminToken, 'adminToken', envs, problems, warnings, files);
  if (adminToken !== null && adminToken.length < 16) problems.push('adminToken: at least 16 characters (it guards replay and cancel of every stored delivery); generate one, e.g. openssl rand -hex 32');
  if (problems.length) throw new ConfigError(problems);
  // A spooled delivery is answered 2xx only once stored; on SQLite that needs a sync at every commit.
  const spooling = routes.some((r) => r.delivery !== 'sync');

  const config: Config = {
    file,
    listen: listen!,
    admin: admin!,
    mode: raw.mode,
    trustProxy: raw.trustProxy,
    bodyLimit,
    logLevel: raw.logLevel,
    upstream: { url: upstreamUrl!, timeoutMs, unmatched: raw.upstream.unmatched, completes: statusMatcher(raw.upstream.completeOn) },
    ledger: { url: ledgerUrl, ...(raw.ledger.schema ? { schema: raw.ledger.schema } : {}), retentionMs, leaseMs, cache: raw.ledger.cache, migrate: raw.ledger.migrate, onError: raw.ledger.onError, ...(spooling ? { synchronous: 'full' as const } : {}) },
    limits: { store, unverified: unverified!, tenants },
    routes,
    knownTenants: known,
    secretFiles: [...files.keys()],
    schemaFiles: [...payloads.files.keys()],
    adminToken,
  };
  return { config: deepFreeze(config), warnings, digests: new Map([...files, ...payloads.files]) };
}

/** Reads a YAML file and resolves it; YAML syntax errors are reported with their line. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Loaded {
  const file = resolvePath(path);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new ConfigError([`${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  const doc = parseDocument(bytes.toString('utf8'), { uniqueKeys: true });
  if (doc.errors.length) throw new ConfigError(doc.errors.map((e) => `${path}:${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`));
  const loaded = resolveConfig(doc.toJS(), { env, baseDir: dirname(file) }, file);
  return { ...loaded, digests: new Map([[file, contentDigest(bytes)], ...loaded.digests]) };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o) && !(o instanceof URL) && !(o instanceof Map) && !(o instanceof Set) && !Buffer.isBuffer(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
