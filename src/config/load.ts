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
import { parseDuration, parseHostPort, parseRate, parseSize, statusMatcher, type Rate } from './units.js';
import { getScheme, PROVIDER_NAMES } from '../providers/index.js';
import type { Scheme, SchemeOptions } from '../providers/types.js';
import type { LedgerOptions } from '../ledger/types.js';
import { limitProblems } from '../limits/config.js';
import { trustProxyProblems, type TrustProxy } from './trust-proxy.js';
import { contentDigest } from './digest.js';

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
}

export interface Config {
  /** absolute path of the file, or null when built from an object */
  readonly file: string | null;
  readonly listen: { host: string; port: number };
  readonly admin: { host: string; port: number };
  readonly mode: 'enforce' | 'monitor';
  /** `false`, `true`, a hop count, or trusted proxy addresses/CIDRs (src/config/trust-proxy.ts) */
  readonly trustProxy: TrustProxy;
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

function resolveRoute(raw: RawRoute, i: number, cfg: RawConfig, envs: LoadEnv, problems: string[], warnings: string[], files: Map<string, string>, defaultBodyLimit: number): Route | null {
  const at = `routes[${i}]`;
  const before = problems.length;
  const scheme = getScheme(raw.provider);
  if (!scheme) problems.push(`${at}.provider: expected one of ${PROVIDER_NAMES.join(', ')}, got ${JSON.stringify(raw.provider)}`);

  const params = [...raw.path.matchAll(/:([A-Za-z_][\w]*)/g)].map((m) => m[1]!);
  const tenantRule = parseRule(raw.tenant, ['param', 'json', 'header'] as const);
  const tenant: TenantRule = tenantRule ?? { kind: 'literal', value: raw.tenant };
  if (tenant.kind === 'param' && !params.includes(tenant.name)) problems.push(`${at}.tenant: the path ${raw.path} has no :${tenant.name} parameter`);
  if (tenant.kind === 'header') tenant.name = tenant.name.toLowerCase();

  const toleranceMs = parseDuration(raw.tolerance);
  const options: SchemeOptions = { toleranceMs, publicUrl: raw.publicUrl ?? null };
  if (raw.provider === 'generic') {
    if (!raw.generic) problems.push(`${at}.generic: is required for provider generic (header, algorithm, encoding, …)`);
    else options.generic = { ...raw.generic, header: raw.generic.header.toLowerCase(), timestampHeader: raw.generic.timestampHeader.toLowerCase() } as SchemeOptions['generic'];
  } else if (raw.generic) problems.push(`${at}.generic: only allowed with provider generic`);
  if (scheme?.urlSigned && !raw.publicUrl) problems.push(`${at}.publicUrl: is required for provider ${raw.provider}, which signs the URL the provider called`);
  if (scheme?.warnings) for (const w of scheme.warnings) warnings.push(`${at}: ${w}`);

  const prepare = (ref: string, where: string): unknown => {
    const secret = readSecret(ref, where, envs, problems, warnings, files);
    if (secret === null || !scheme) return null;
    try {
      return scheme.key(secret, options);
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
      return null;
    }
  };
  let keys: Route['keys'];
  if (Array.isArray(raw.secrets)) {
    keys = raw.secrets.map((ref, j) => prepare(ref, `${at}.secrets[${j}]`));
    if (tenant.kind === 'param' || tenant.kind === 'header')
      warnings.push(`${at}.tenant: ${raw.tenant} is not signed and the route's secrets are shared by every tenant, so a caller can name any tenant; give each tenant its own secrets (a map) or take the tenant from signed material`);
  } else {
    if (tenant.kind === 'literal') problems.push(`${at}.secrets: a per-tenant map needs a tenant taken from the request (param:, header: or json:), not the literal ${JSON.stringify(tenant.value)}`);
    const map = new Map<string, unknown[]>();
    for (const [name, refs] of Object.entries(raw.secrets)) map.set(name, refs.map((ref, j) => prepare(ref, `${at}.secrets.${name}[${j}]`)));
    keys = map;
  }

  const idem = raw.idempotencyKey === 'default' ? null : parseRule(raw.idempotencyKey, ['header', 'json'] as const);
  const idempotencyKey: IdempotencyRule = idem ? { kind: idem.kind, name: idem.kind === 'header' ? idem.name.toLowerCase() : idem.name } : { kind: 'default' };
  const signedHeaders = [...(scheme?.signedHeaders ?? []), ...(options.generic?.timestampHeader ? [options.generic.timestampHeader] : [])];
  if (idempotencyKey.kind === 'header' && scheme && !signedHeaders.includes(idempotencyKey.name))
    warnings.push(`${at}.idempotencyKey: header ${idempotencyKey.name} is not covered by the ${raw.provider} signature, so a replayed body with a new value passes as a new delivery`);

  const methods = new Set(raw.methods.map((m) => m.toUpperCase()));
  let bodyLimit = defaultBodyLimit;
  if (raw.bodyLimit) bodyLimit = parseSize(raw.bodyLimit);
  if (parseDuration(cfg.ledger.retention) < toleranceMs) problems.push(`${at}.tolerance: ${raw.tolerance} is longer than ledger.retention ${cfg.ledger.retention}; a replay inside the window would find its key forgotten`);

  if (problems.length > before || !scheme) return null;
  return { index: i, path: raw.path, provider: raw.provider, scheme, methods, tenant, keys, options, forwardTo: raw.forwardTo ?? null, bodyLimit, idempotencyKey };
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
  const routes: Route[] = [];
  const seenPaths = new Map<string, number>();
  raw.routes.forEach((r, i) => {
    const normalized = r.path.replace(/:[A-Za-z_][\w]*/g, ':');
    const prev = seenPaths.get(normalized);
    if (prev !== undefined) problems.push(`routes[${i}].path: ${r.path} is already served by routes[${prev}]`);
    else seenPaths.set(normalized, i);
    const route = resolveRoute(r, i, raw, envs, problems, warnings, files, bodyLimit);
    if (route) routes.push(route);
  });

  // Tenants a route can name: literals and per-tenant secret maps. A param/header/json tenant with a
  // route-wide secret list can name anything, so then no configured tenant is unreachable.
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
  if (problems.length) throw new ConfigError(problems);

  const config: Config = {
    file,
    listen: listen!,
    admin: admin!,
    mode: raw.mode,
    trustProxy: raw.trustProxy,
    logLevel: raw.logLevel,
    upstream: { url: upstreamUrl!, timeoutMs, unmatched: raw.upstream.unmatched, completes: statusMatcher(raw.upstream.completeOn) },
    ledger: { url: ledgerUrl, ...(raw.ledger.schema ? { schema: raw.ledger.schema } : {}), retentionMs, leaseMs, cache: raw.ledger.cache, migrate: raw.ledger.migrate, onError: raw.ledger.onError },
    limits: { store, unverified: unverified!, tenants },
    routes,
    knownTenants: known,
    secretFiles: [...files.keys()],
  };
  return { config: deepFreeze(config), warnings, digests: files };
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
