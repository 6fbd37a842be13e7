// Named providers of the JWT family (src/providers/jwt.ts): each is its facts, nothing else.
// Sources: provider-catalog.md family J and each provider's documentation (the `docs` URL).
import { jwtScheme, type JwtProvider } from './jwt.js';

// said of every provider whose token proves the sender but not the body
const UNBOUND = 'The token proves who sent the request, not what the body holds: until it expires (`exp` is required) a captured token can carry any body. `json:` keys and tenants are refused; the key is the body\'s digest.';

/** `jwt`: any JWT-signed webhook, everything from the route's `jwt:` block (token, algorithms, keys, claims). */
export const JWT_GENERIC: JwtProvider = {
  name: 'jwt',
  docs: 'https://www.rfc-editor.org/rfc/rfc8725',
  token: { kind: 'header', name: 'authorization', bearer: true },
  algorithms: [],
  bodyHash: null,
  iatWindow: false,
  info: {
    headers: ['Authorization'],
    signed: 'JWT claims; with jwt.bodyHashClaim, that claim = SHA-256 of {body}; without, not the body',
    notes: [
      'Configured per route in its `jwt:` block: `token` (bearer, header:NAME, body, json:PATH), `algorithms` (required), `issuer`, `audience`, `jwksUrl`, `bodyHashClaim`, `requireIat` ([providers-keys.md](providers-keys.md)).',
      'Secrets: a shared secret for HS* algorithms, else PEM public keys, JWKs or a JWKS document; or none with `jwt.jwksUrl`. Without `bodyHashClaim` the token does not bind the body (`json:` keys refused, the key is the digest); with `requireIat` its `iat` must be within `tolerance`.',
    ],
  },
};

export const PROVIDERS: readonly JwtProvider[] = [
  {
    // high: "Plaid-Verification header … alg ES256 … request_body_sha256 … iat older than 5 minutes"
    name: 'plaid',
    docs: 'https://plaid.com/docs/api/webhooks/webhook-verification/',
    token: { kind: 'header', name: 'plaid-verification', bearer: false },
    algorithms: ['ES256'],
    bodyHash: { claim: 'request_body_sha256', encoding: 'hex' },
    iatWindow: true,
    info: {
      headers: ['Plaid-Verification'],
      signed: 'JWT (ES256) claims; request_body_sha256 = hex SHA-256 of {body}',
      notes: ["The route's secret is the JWK Plaid returns from `/webhook_verification_key/get` for the token's `kid` (JSON), or a PEM: hookgate holds no Plaid API credentials to fetch it. `hookgate sign --secret` takes a P-256 private key (PEM or @file)."],
    },
  },
  {
    // medium: JWS HS256 with the notification's "JWS secret token", iss netlify, sha256 of the body
    name: 'netlify',
    docs: 'https://docs.netlify.com/site-deploys/deploy-notifications/#payload-signature',
    token: { kind: 'header', name: 'x-webhook-signature', bearer: false },
    algorithms: ['HS256'],
    issuer: ['netlify'],
    bodyHash: { claim: 'sha256', encoding: 'hex' },
    iatWindow: false,
    info: {
      headers: ['X-Webhook-Signature'],
      signed: 'JWS (HS256, iss netlify) claims; sha256 = hex SHA-256 of {body}',
      notes: ["The secret is the deploy notification's JWS secret token."],
    },
  },
  {
    // medium: Messages/Voice/Verify v2 signed webhooks, HS256 with the account's signature secret
    name: 'vonage',
    docs: 'https://developer.vonage.com/en/getting-started/concepts/webhooks#validating-signed-webhooks',
    token: { kind: 'header', name: 'authorization', bearer: true },
    algorithms: ['HS256'],
    bodyHash: { claim: 'payload_hash', encoding: 'hex' },
    iatWindow: true,
    info: {
      headers: ['Authorization'],
      signed: 'JWT (HS256) claims; payload_hash = hex SHA-256 of {body}',
      notes: ["The secret is the account's signature secret; the token travels as `Authorization: Bearer`. The legacy SMS API's `sig` parameter is another scheme, not verified here."],
    },
  },
  {
    // high (docs: X-FusionAuth-Signature-JWT, claim request_body_sha256); HMAC, RSA or EC keys (Key Master)
    name: 'fusionauth',
    docs: 'https://fusionauth.io/docs/extend/events-and-webhooks/signing',
    token: { kind: 'header', name: 'x-fusionauth-signature-jwt', bearer: false },
    algorithms: ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'],
    bodyHash: { claim: 'request_body_sha256', encoding: 'base64' },
    iatWindow: false,
    idPath: 'event.id',
    info: {
      headers: ['X-FusionAuth-Signature-JWT'],
      signed: 'JWT (RS*/ES*) claims; request_body_sha256 = base64 SHA-256 of {body}',
      notes: ["The route's secret is the Key Master public key (PEM), a JWKS document, or none with `jwt.jwksUrl` (your FusionAuth's `/.well-known/jwks.json`). An HMAC key from Key Master: `provider: fusionauth-hmac`. `hookgate sign --secret` takes an RSA or EC private key."],
    },
  },
  {
    // FusionAuth with an HMAC key from Key Master: a shared secret instead of a public key
    name: 'fusionauth-hmac',
    docs: 'https://fusionauth.io/docs/extend/events-and-webhooks/signing',
    token: { kind: 'header', name: 'x-fusionauth-signature-jwt', bearer: false },
    algorithms: ['HS256', 'HS384', 'HS512'],
    bodyHash: { claim: 'request_body_sha256', encoding: 'base64' },
    iatWindow: false,
    idPath: 'event.id',
    info: {
      headers: ['X-FusionAuth-Signature-JWT'],
      signed: 'JWT (HS256/384/512) claims; request_body_sha256 = base64 SHA-256 of {body}',
      notes: ["The secret is the Key Master HMAC key; a public key: `provider: fusionauth`."],
    },
  },
  {
    // medium: push subscriptions with authentication: an OIDC ID token from Google, aud = the configured
    // audience (default: the push endpoint URL). It does not bind the body.
    name: 'google-pubsub',
    docs: 'https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions',
    token: { kind: 'header', name: 'authorization', bearer: true },
    algorithms: ['RS256'],
    issuer: ['https://accounts.google.com', 'accounts.google.com'],
    audienceRequired: true,
    bodyHash: null,
    iatWindow: false,
    expRequired: true,
    jwks: { url: 'https://www.googleapis.com/oauth2/v3/certs', origins: ['https://www.googleapis.com'] },
    claims: (_b, url) => ({ iss: 'https://accounts.google.com', aud: url }),
    warnings: ['google-pubsub: the push token proves Google sent the request, not what the body holds; the key is the body\'s digest and json: keys and tenants are refused'],
    info: {
      headers: ['Authorization'],
      signed: 'OIDC ID token (RS256, iss accounts.google.com, aud, exp); not the body',
      notes: ["No secrets: Google's keys come from its JWKS (https://www.googleapis.com/oauth2/v3/certs). `jwt.audience` is required: the subscription's audience (default: the push endpoint URL).", UNBOUND],
    },
  },
  {
    // medium: Bot Connector → bot: a JWT from the Bot Framework's OpenID metadata, aud = the bot's app id
    name: 'bot-framework',
    docs: 'https://learn.microsoft.com/en-us/azure/bot-service/rest-api/bot-framework-rest-connector-authentication',
    token: { kind: 'header', name: 'authorization', bearer: true },
    algorithms: ['RS256'],
    issuer: ['https://api.botframework.com'],
    audienceRequired: true,
    bodyHash: null,
    iatWindow: false,
    expRequired: true,
    jwks: { url: 'https://login.botframework.com/v1/.well-known/keys', origins: ['https://login.botframework.com'] },
    claims: (_b, url) => ({ iss: 'https://api.botframework.com', aud: url }),
    warnings: ['bot-framework: the bearer token proves the Bot Connector sent the request, not what the body holds; the key is the body\'s digest and json: keys and tenants are refused'],
    info: {
      headers: ['Authorization'],
      signed: 'JWT (RS256, iss https://api.botframework.com, aud, exp); not the body',
      notes: ["No secrets: keys come from the Bot Framework's JWKS (https://login.botframework.com/v1/.well-known/keys). `jwt.audience` (the bot's app id) is required.", UNBOUND],
    },
  },
  {
    // high (developer.constantcontact.com, webhook authenticity, v3): X-CTCT-WEBHOOK-SIG is a detached
    // JWS with an unencoded payload (RFC 7797, b64: false, crit [b64]) over the body, RS256, `ts` in
    // the protected header; keys from Constant Contact's JWKS
    name: 'constant-contact',
    docs: 'https://developer.constantcontact.com/api_guide/webhook_authenticity.html',
    token: { kind: 'header', name: 'x-ctct-webhook-sig', bearer: false },
    algorithms: ['RS256'],
    bodyHash: null,
    iatWindow: false,
    detached: true,
    jwks: { url: 'https://developer.constantcontact.com/.well-known/jwks.json', origins: ['https://developer.constantcontact.com'] },
    info: {
      headers: ['X-CTCT-WEBHOOK-SIG'],
      signed: 'detached JWS (RFC 7797, b64: false, RS256): {protected header} and {body}',
      notes: ["No secrets: keys come from Constant Contact's JWKS (https://developer.constantcontact.com/.well-known/jwks.json)."],
    },
  },
  {
    // medium: Event Grid webhook delivery secured with Microsoft Entra ID: a bearer token for your app,
    // issued by your tenant. It does not bind the body. The SubscriptionValidation probe is answered once
    // the token verified (src/providers/handshakes.ts).
    name: 'azure-event-grid',
    docs: 'https://learn.microsoft.com/en-us/azure/event-grid/secure-webhook-delivery',
    token: { kind: 'header', name: 'authorization', bearer: true },
    algorithms: ['RS256'],
    audienceRequired: true,
    issuerRequired: true,
    bodyHash: null,
    iatWindow: false,
    expRequired: true,
    jwks: { url: 'https://login.microsoftonline.com/common/discovery/v2.0/keys', origins: ['https://login.microsoftonline.com'] },
    claims: (_b, url) => ({ iss: 'https://sts.windows.net/00000000-0000-0000-0000-000000000000/', aud: url }),
    handshake: 'azure-event-grid',
    warnings: ['azure-event-grid: the Entra ID token proves Event Grid sent the request, not what the body holds; the key is the body\'s digest and json: keys and tenants are refused'],
    info: {
      headers: ['Authorization'],
      signed: 'Microsoft Entra ID token (RS256, iss your tenant, aud your app, exp); not the body',
      notes: ["No secrets: keys come from Entra ID's JWKS. `jwt.issuer` (your tenant's issuer) and `jwt.audience` (your app) are required.", "The `SubscriptionValidation` probe is answered only after its token verified ([providers-handshakes.md](providers-handshakes.md)).", UNBOUND],
    },
  },
];

export const jwt = jwtScheme(JWT_GENERIC);
export const JWT_SCHEMES = Object.fromEntries(PROVIDERS.map((p) => [p.name, jwtScheme(p)]));
export const JWT_PROVIDERS: Readonly<Record<string, JwtProvider>> = Object.fromEntries([JWT_GENERIC, ...PROVIDERS].map((p) => [p.name, p]));
