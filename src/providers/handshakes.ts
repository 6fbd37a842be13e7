// Handshakes the provider does not sign (provider-catalog.md §3.4): a probe when a subscription is
// created, answered the way each protocol requires. They are facts of a provider (a scheme's
// `handshake`, or HANDSHAKES[name] for providers defined elsewhere) and a route may name one
// explicitly (`handshake: { kind, token }`), e.g. Meta's verify-token probe on a route that verifies
// Meta's X-Hub-Signature-256 with the `github` scheme.
//
// Three ways to answer, from safest to least safe:
//   answer     hookgate answers by itself and nothing reaches the upstream. Only what the protocol makes
//              a probe proves anything (Meta's verify token, X's HMAC of the CRC token); the echoes
//              (Dropbox, Microsoft Graph, Okta, Trello) reveal nothing and reach no handler.
//   after      answered only once the request passed the route's verification (Azure Event Grid: the
//              validation event carries the same Entra ID token or URL secret as every event).
//   forward    forwarded unverified, only in the protocol's narrow shape, with `hookgate-handshake`
//              set (Asana: the secret that signs later events exists only in this request, so only the
//              application can keep it). Never claimed, so it is not a delivery.
import { createHmac, randomBytes, type KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const HANDSHAKE_KINDS = ['meta', 'dropbox', 'microsoft-graph', 'okta', 'asana', 'azure-event-grid', 'trello', 'x-crc'] as const;
export type HandshakeKind = (typeof HANDSHAKE_KINDS)[number];

/** What hookgate answers; `forward`: the request goes on to the upstream unverified. */
export type HandshakeAnswer =
  | { kind: 'answer'; status: number; contentType?: string; headers?: Record<string, string>; body: string }
  | { kind: 'refuse'; message: string }
  | { kind: 'forward' };

export interface HandshakeRequest {
  method: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

export interface Handshake {
  kind: HandshakeKind;
  /** when it is answered: before verification (no body needed), or after it (the body is read and verified) */
  phase: 'before' | 'after';
  /** the documentation of the probe */
  docs: string;
  /** what the route must configure (`handshake.token`), if anything */
  needsToken?: string;
  /** true when it uses the route's own signing secret (X CRC: the consumer secret) */
  usesSecret?: boolean;
  /** one line for docs/providers-handshakes.md and `hookgate providers` */
  summary: string;
  /** null: not this handshake (the request goes through the route as usual) */
  match(req: HandshakeRequest, ctx: HandshakeContext, body?: Buffer): HandshakeAnswer | null;
}

export interface HandshakeContext {
  /** the route's handshake token (Meta's verify token), resolved from its secret reference */
  tokens: readonly string[];
  /** the route's first prepared secret, for handshakes keyed with the signing secret (X CRC) */
  secret?: KeyObject | Buffer | string;
}

const header = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return typeof v === 'string' ? v : undefined;
};

/** Echoed values are bounded and printable: the echo can never carry markup or header injection. */
const ECHO = /^[\x21-\x7e]{1,512}$/;
const text = (body: string): HandshakeAnswer => ({ kind: 'answer', status: 200, contentType: 'text/plain; charset=utf-8', headers: { 'x-content-type-options': 'nosniff' }, body });
const json = (o: unknown, headers?: Record<string, string>): HandshakeAnswer => ({ kind: 'answer', status: 200, contentType: 'application/json; charset=utf-8', body: JSON.stringify(o), ...(headers ? { headers } : {}) });
const refuse = (message: string): HandshakeAnswer => ({ kind: 'refuse', message });

/** Constant time over strings of any length (compares their SHA-256 HMACs under a per-call key). */
function sameToken(a: string, b: string): boolean {
  const k = randomBytes(16);
  return createHmac('sha256', k).update(a).digest().equals(createHmac('sha256', k).update(b).digest());
}

export const HANDSHAKES: Readonly<Record<HandshakeKind, Handshake>> = {
  meta: {
    kind: 'meta',
    phase: 'before',
    docs: 'https://developers.facebook.com/docs/graph-api/webhooks/getting-started#verification-requests',
    needsToken: 'the Verify Token you typed in the App Dashboard',
    summary: 'GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C: hookgate answers C (text) when T is the route\'s handshake.token, 401 otherwise',
    match(req, ctx) {
      if (req.method !== 'GET' || req.query.get('hub.mode') !== 'subscribe') return null;
      const token = req.query.get('hub.verify_token') ?? '';
      const challenge = req.query.get('hub.challenge') ?? '';
      if (!ctx.tokens.some((t) => sameToken(t, token))) return refuse('the verify token does not match');
      return ECHO.test(challenge) ? text(challenge) : refuse('hub.challenge is missing or not printable');
    },
  },
  dropbox: {
    kind: 'dropbox',
    phase: 'before',
    docs: 'https://www.dropbox.com/developers/reference/webhooks#documentation',
    summary: 'GET ?challenge=C: hookgate echoes C (text/plain, nosniff)',
    match(req) {
      if (req.method !== 'GET') return null;
      const c = req.query.get('challenge');
      if (c === null) return null;
      return ECHO.test(c) ? text(c) : refuse('challenge is not printable');
    },
  },
  'microsoft-graph': {
    kind: 'microsoft-graph',
    phase: 'before',
    docs: 'https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks#notificationurl-validation',
    summary: 'POST ?validationToken=T (subscription create/renew): hookgate answers T (text/plain) within the 10 s Graph allows',
    match(req) {
      const token = req.query.get('validationToken');
      if (token === null || (req.method !== 'POST' && req.method !== 'GET')) return null;
      return token.length > 0 && token.length <= 4096 && !/[\r\n]/.test(token) ? text(token) : refuse('validationToken is empty or too long');
    },
  },
  okta: {
    kind: 'okta',
    phase: 'before',
    docs: 'https://developer.okta.com/docs/concepts/event-hooks/#one-time-verification-request',
    summary: 'GET with x-okta-verification-challenge: V: hookgate answers {"verification": V}',
    match(req) {
      if (req.method !== 'GET') return null;
      const v = header(req.headers, 'x-okta-verification-challenge');
      if (v === undefined) return null;
      return ECHO.test(v) ? json({ verification: v }) : refuse('x-okta-verification-challenge is not printable');
    },
  },
  asana: {
    kind: 'asana',
    phase: 'before',
    docs: 'https://developers.asana.com/docs/webhooks-guide#the-webhook-handshake',
    summary: 'POST with X-Hook-Secret and no X-Hook-Signature, empty body: forwarded unverified to the upstream (hookgate-handshake: asana), which echoes the header and keeps the secret; put that secret in the route\'s secrets',
    match(req) {
      if (req.method !== 'POST' || header(req.headers, 'x-hook-secret') === undefined || req.headers['x-hook-signature'] !== undefined) return null;
      const length = header(req.headers, 'content-length');
      if (length !== undefined && length !== '0') return refuse('an Asana handshake has no body');
      if (req.headers['transfer-encoding'] !== undefined) return refuse('an Asana handshake has no body');
      return { kind: 'forward' };
    },
  },
  'azure-event-grid': {
    kind: 'azure-event-grid',
    phase: 'after',
    docs: 'https://learn.microsoft.com/en-us/azure/event-grid/end-point-validation-event-grid-events-schema',
    summary: 'aeg-event-type: SubscriptionValidation, once the request passed verification: hookgate answers {"validationResponse": data.validationCode} (the CloudEvents OPTIONS handshake is not answered: allow OPTIONS on the route and let the upstream answer it)',
    match(req, _ctx, body) {
      if (req.method !== 'POST' || header(req.headers, 'aeg-event-type') !== 'SubscriptionValidation' || !body) return null;
      let code: unknown;
      try {
        const events = JSON.parse(body.toString('utf8')) as unknown;
        const e = Array.isArray(events) ? events[0] : events;
        code = (e as { data?: { validationCode?: unknown } })?.data?.validationCode;
      } catch {
        code = undefined;
      }
      return typeof code === 'string' && ECHO.test(code) ? json({ validationResponse: code }) : refuse('the validation event has no data.validationCode');
    },
  },
  trello: {
    kind: 'trello',
    phase: 'before',
    docs: 'https://developer.atlassian.com/cloud/trello/guides/rest-api/webhooks/#creating-a-webhook',
    summary: 'HEAD on the callback URL when the webhook is created: hookgate answers 200',
    match(req) {
      return req.method === 'HEAD' ? { kind: 'answer', status: 200, body: '' } : null;
    },
  },
  'x-crc': {
    kind: 'x-crc',
    phase: 'before',
    docs: 'https://developer.x.com/en/docs/x-api/enterprise/account-activity-api/guides/securing-webhooks',
    usesSecret: true,
    summary: 'GET ?crc_token=T: hookgate answers {"response_token": "sha256=" + base64 HMAC-SHA256(consumer secret, T)} with the route\'s first secret',
    match(req, ctx) {
      if (req.method !== 'GET') return null;
      const token = req.query.get('crc_token');
      if (token === null) return null;
      if (ctx.secret === undefined) return refuse('the route has no single secret to answer the CRC with');
      if (token.length === 0 || token.length > 1024) return refuse('crc_token is empty or too long');
      return json({ response_token: 'sha256=' + createHmac('sha256', ctx.secret).update(token).digest('base64') });
    },
  },
};

/** Provider name → its handshake, for providers defined in other files (their data may also carry `handshake`). */
export const PROVIDER_HANDSHAKES: Readonly<Record<string, HandshakeKind>> = {
  meta: 'meta',
  whatsapp: 'meta',
  instagram: 'meta',
  messenger: 'meta',
  dropbox: 'dropbox',
  'microsoft-graph': 'microsoft-graph',
  okta: 'okta',
  asana: 'asana',
  'azure-event-grid': 'azure-event-grid',
  trello: 'trello',
  x: 'x-crc',
  twitter: 'x-crc',
};
