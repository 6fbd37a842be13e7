// One declaration of the configuration file: TypeBox gives the JSON Schema (validated by ajv, written
// to config/hookgate.schema.json) and the TypeScript type of what the YAML holds.
import { Type, type Static } from '@sinclair/typebox';
import { NAMESPACE } from './keys.js';
import { DEFAULT_TOLERANCE } from './units.js';

const DURATION = '^[0-9]+(ms|s|m|h|d)$';
const SIZE = '^[0-9]+(b|kb|mb|gb)?$';
const RATE = '^[0-9]+/(s|m|h)$';

const Duration = (description: string, def: string) => Type.String({ pattern: DURATION, description, default: def });
const Rate = (description: string) => Type.String({ pattern: RATE, description });
const Strict = { additionalProperties: false } as const;

export const SecretList = Type.Array(Type.String({ minLength: 1, description: 'env:NAME, file:PATH, or a literal' }), { minItems: 1 });

export const GenericSchema = Type.Object(
  {
    header: Type.String({ minLength: 1, description: 'the header that carries the signature' }),
    algorithm: Type.Union([Type.Literal('sha1'), Type.Literal('sha256'), Type.Literal('sha512')], { default: 'sha256' }),
    encoding: Type.Union([Type.Literal('hex'), Type.Literal('base64')], { default: 'hex' }),
    prefix: Type.String({ default: '', description: 'text before the signature, e.g. "sha256="' }),
    timestampHeader: Type.String({ default: '', description: 'when set, the signed content is timestamp + separator + body' }),
    separator: Type.String({ default: '.' }),
  },
  Strict,
);

export const PayloadSchema = Type.Object(
  {
    schema: Type.Optional(
      Type.Union([Type.String({ pattern: '^file:.+' }), Type.Object({}, { additionalProperties: true })], {
        description: 'file:PATH of a JSON Schema 2020-12 (JSON, or YAML when the name ends .yaml/.yml), or the schema inline as a mapping',
      }),
    ),
    tenantField: Type.Optional(Type.String({ pattern: '^json:.+', description: 'json:PATH (dotted) of the body whose value must equal the delivery\'s tenant' })),
    maxDepth: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, description: 'how deep objects and arrays may nest; checked on the bytes before any parse' })),
  },
  Strict,
);

const StringOrList = (description: string) =>
  Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })], { description });

export const JwtSchema = Type.Object(
  {
    token: Type.Optional(Type.String({ pattern: '^(bearer|header:.+|body|json:.+)$', description: 'where the token travels: bearer (Authorization: Bearer), header:NAME, body (the body is the token) or json:PATH' })),
    algorithms: Type.Optional(Type.Array(Type.Union(['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'].map((a) => Type.Literal(a))), { minItems: 1, description: 'the algorithms a token may use (never none)' })),
    issuer: Type.Optional(StringOrList('the iss a token must carry (one, or a list)')),
    audience: Type.Optional(StringOrList('the aud a token must carry (one, or a list)')),
    jwksUrl: Type.Optional(Type.String({ pattern: '^https?://', description: 'where the public keys are published (https; http only on loopback); used when the route has no secrets' })),
    bodyHashClaim: Type.Optional(Type.String({ minLength: 1, description: 'the claim holding the SHA-256 of the body' })),
    bodyHashEncoding: Type.Optional(Type.Union([Type.Literal('hex'), Type.Literal('base64')])),
    requireIat: Type.Optional(Type.Boolean({ description: 'iat is required and must be within tolerance (then the route refuses replays older than tolerance)' })),
  },
  Strict,
);

// The spool's settings (CONTRACT.md, Spool). Top level: the defaults for every spool route, with
// defaults; per route: any key of it, no defaults (the top level's apply).
const spoolProperties = (withDefaults: boolean) => {
  const d = <T>(v: T) => (withDefaults ? { default: v } : {});
  return {
    acceptStatus: Type.Integer({ minimum: 200, maximum: 299, description: 'answered to the provider once the delivery is stored', ...d(200) }),
    concurrency: Type.Integer({ minimum: 1, maximum: 1000, description: 'deliveries in flight to the upstream, per replica', ...d(4) }),
    tenantRate: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Rate('deliveries per second to the upstream per tenant'))),
    retry: Type.Array(Type.String({ pattern: DURATION }), { maxItems: 50, description: 'waits after each failed attempt, each ±20 % jitter; then dead', ...d(['5s', '5m', '30m', '2h', '5h', '10h', '10h']) }),
    maxAge: Type.String({ pattern: DURATION, description: 'a delivery not done by then is dead (at most ledger.retention)', ...d('72h') }),
    keepDelivered: Type.String({ pattern: DURATION, description: 'how long delivered deliveries keep their bytes', ...d('24h') }),
    keepDead: Type.String({ pattern: DURATION, description: 'how long dead and cancelled deliveries keep their bytes', ...d('7d') }),
    maxPending: Type.Integer({ minimum: 1, description: 'pending + delivering deliveries of the route; over it: 503 spool_full', ...d(100000) }),
    tenantMaxPending: Type.Integer({ minimum: 1, description: 'the same for one tenant of the route', ...d(10000) }),
    resign: Type.Boolean({ description: 'timestamped HMAC schemes: a delivery dispatched later than the route\'s tolerance after it was signed gets fresh signature headers', ...d(true) }),
  };
};
export const SpoolSchema = Type.Object(spoolProperties(true), { ...Strict, default: {} });
export const RouteSpoolSchema = Type.Partial(Type.Object(spoolProperties(false)), Strict);

export const RouteSchema = Type.Object(
  {
    path: Type.String({ pattern: '^/', description: 'exact path, or with :params' }),
    provider: Type.String({ minLength: 1 }),
    methods: Type.Array(Type.String({ pattern: '^[A-Za-z]+$' }), { minItems: 1, default: ['POST'] }),
    tenant: Type.String({ minLength: 1, default: 'default', description: 'a literal, param:NAME, json:PATH or header:NAME' }),
    secrets: Type.Optional(Type.Union([SecretList, Type.Record(Type.String({ minLength: 1 }), SecretList, { minProperties: 1 })])),
    // no schema default: a route without one takes its provider's window (load.ts), else DEFAULT_TOLERANCE
    tolerance: Type.Optional(Type.String({ pattern: DURATION, description: `allowed clock difference for signed timestamps (default: the provider's own window where it has one, see hookgate providers; else ${DEFAULT_TOLERANCE})` })),
    publicUrl: Type.Optional(Type.String({ pattern: '^https?://', description: 'the URL the provider calls (URL-signed schemes)' })),
    forwardTo: Type.Optional(Type.String({ pattern: '^/', description: 'path on the upstream; default: the same path' })),
    bodyLimit: Type.Optional(Type.String({ pattern: SIZE })),
    idempotencyKey: Type.String({ default: 'default', pattern: '^(default|header:.+|json:.+)$' }),
    namespace: Type.Optional(Type.String({ pattern: NAMESPACE.source, description: "a key space several routes share on purpose (1-64 letters, digits, '.', '_' or '-'); default: the route's own path" })),
    generic: Type.Optional(GenericSchema),
    payload: Type.Optional(PayloadSchema),
    jwt: Type.Optional(JwtSchema),
    handshake: Type.Optional(
      Type.Object(
        {
          kind: Type.Union(['meta', 'dropbox', 'microsoft-graph', 'okta', 'asana', 'azure-event-grid', 'trello', 'x-crc', 'none'].map((k) => Type.Literal(k)), { description: "the subscription probe to answer (default: the provider's own; none: forward it like any request)" }),
          token: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })], { description: "Meta's verify token: env:NAME, file:PATH or a literal" })),
        },
        Strict,
      ),
    ),
    delivery: Type.Union([Type.Literal('sync'), Type.Literal('spool'), Type.Literal('hybrid')], { default: 'sync', description: 'sync: forward while the provider waits; spool: store, answer, deliver when the upstream can take it; hybrid: forward now, store what the upstream fails' }),
    spool: Type.Optional(RouteSpoolSchema),
  },
  Strict,
);

export const ConfigSchema = Type.Object(
  {
    listen: Type.String({ default: '0.0.0.0:8080', description: 'HOST:PORT for traffic' }),
    admin: Type.String({ default: '127.0.0.1:9090', description: 'HOST:PORT for /healthz /readyz /metrics' }),
    mode: Type.Union([Type.Literal('enforce'), Type.Literal('monitor')], { default: 'enforce' }),
    bodyLimit: Type.String({ pattern: SIZE, default: '1mb' }),
    trustProxy: Type.Union(
      [
        Type.Boolean(),
        Type.Integer({ minimum: 1, description: 'the number of proxies in front of hookgate that append to X-Forwarded-For' }),
        Type.Array(Type.String({ description: 'an address, a CIDR, or loopback / linklocal / uniquelocal' }), { minItems: 1 }),
      ],
      {
        default: false,
        description: 'false, true, a hop count of 1 or more, or a list of trusted proxy addresses/CIDRs',
      },
    ),
    logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
    upstream: Type.Object(
      {
        url: Type.String({ pattern: '^https?://', description: 'the application, e.g. http://127.0.0.1:8000' }),
        timeout: Duration('how long the upstream may take to answer', '30s'),
        unmatched: Type.Union([Type.Literal('reject'), Type.Literal('forward')], { default: 'reject' }),
        completeOn: Type.Array(Type.String({ pattern: '^([1-5]xx|[1-5][0-9][0-9])$' }), { minItems: 1, default: ['2xx', '4xx'] }),
      },
      Strict,
    ),
    ledger: Type.Object(
      {
        url: Type.String({ default: 'embedded', pattern: '^(embedded(:.+)?|postgres(ql)?://.+|env:.+|file:.+)$', description: 'embedded, embedded:PATH, postgres://… (or env:NAME / file:PATH holding one, to keep a password out of the file)' }),
        schema: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$', description: 'PostgreSQL/CockroachDB schema for the ledger tables (default: the search_path)' })),
        retention: Duration('how long a delivery key is remembered', '72h'),
        lease: Duration('how long a claim in flight blocks its duplicates', '30s'),
        // the hot cache's arrays are made for all of it at start (45 bytes an entry: 450 MB at the bound)
        cache: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 100000, description: 'entries of the hot LRU of settled keys (0: none)' }),
        onError: Type.Union([Type.Literal('reject'), Type.Literal('allow')], { default: 'reject' }),
        migrate: Type.Boolean({ default: true }),
      },
      { ...Strict, default: {} },
    ),
    limits: Type.Object(
      {
        store: Type.String({ default: 'memory', pattern: '^(memory|rediss?://.+|env:.+|file:.+)$', description: 'memory, redis://… (or env:NAME / file:PATH holding one)' }),
        unverified: Type.Optional(Rate('per client address, before verification (default 200/s)')),
        tenants: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Rate('per tenant, after verification'))),
      },
      { ...Strict, default: {} },
    ),
    adminToken: Type.Optional(Type.String({ minLength: 1, description: 'bearer token for /spool on the admin listener: env:NAME, file:PATH, or a literal' })),
    spool: SpoolSchema,
    routes: Type.Array(RouteSchema, { minItems: 1 }),
  },
  Strict,
);

export type RawConfig = Static<typeof ConfigSchema>;
export type RawRoute = Static<typeof RouteSchema>;

/**
 * The schema as users' editors and `helm` see it: keys with a default are optional there (hookgate's
 * own validator fills the defaults in before checking what is required).
 */
export function publishedSchema(): Record<string, unknown> {
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (!node || typeof node !== 'object') return node;
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) o[k] = strip(v);
    const props = o.properties as Record<string, { default?: unknown }> | undefined;
    if (props && Array.isArray(o.required)) {
      o.required = (o.required as string[]).filter((k) => props[k]?.default === undefined);
      if ((o.required as string[]).length === 0) delete o.required;
    }
    return o;
  };
  return { $schema: 'http://json-schema.org/draft-07/schema#', title: 'hookgate configuration', ...(strip(JSON.parse(JSON.stringify(ConfigSchema))) as object) };
}
