// Providers that send Standard Webhooks unchanged (`webhook-*` or `svix-*` headers, `whsec_` secret):
// the `standard` scheme under their own names, so a route names its provider and the listing links its
// documentation. Polar, whose secret is a raw string, is a preset instead (presets/timestamped.ts).
import { createSecretKey, type KeyObject } from 'node:crypto';
import { signStandard, standard, standardKey } from './standard.js';
import type { ProviderInfo, Scheme } from './types.js';

const BASE: Omit<ProviderInfo, 'docs'> = {
  family: 'standard-webhooks',
  headers: ['webhook-signature', 'svix-signature'],
  signed: '{header:webhook-id}.{timestamp}.{body}',
  timestamp: 'header webhook-timestamp (or svix-timestamp), unix s',
  id: 'header:webhook-id',
  secret: 'whsec',
};

// `svix`: the provider delivers through Svix's own brand, so `hookgate sign` writes svix-* headers (Clerk's
// verifyWebhook refuses a delivery without them; Resend's docs read them); verify reads either spelling.
function user(name: string, docs: string, notes?: string[], brand: 'webhook' | 'svix' = 'webhook'): Scheme<unknown> {
  return { ...standard, name, info: { ...BASE, docs, ...(notes ? { notes } : {}) }, sign: (input) => signStandard(input, brand) } as Scheme<unknown>;
}

export const ahasend = user('ahasend', 'https://ahasend.com/docs/api-reference/routes/security', ['Standard Webhooks headers (webhook-*); webhook-id is the idempotency key AhaSend documents.']);
export const ansa = user('ansa', 'https://docs.ansa.dev/docs/signature-verification', ['Ansa delivers through Svix (svix-* headers); the signing secret is on the endpoint\'s page in the Merchant Portal.'], 'svix');
export const clerk = user('clerk', 'https://clerk.com/docs/webhooks/overview', ['Clerk delivers through Svix (svix-* headers); the signing secret is whsec_….'], 'svix');
export const goody = user('goody', 'https://developer.ongoody.com/webhooks/webhook-security', ['Goody delivers through Svix (svix-* headers).'], 'svix');
export const make = user('make', 'https://developers.make.com/event-subscription/implementation/verify-signatures', ['Make event subscriptions follow Standard Webhooks 1.0 (webhook-* headers, whsec_ secret).']);
// The openai package (webhooks.verifySignature) decodes a whsec_ secret as base64 and uses any other as
// its UTF-8 bytes; the Standard Webhooks spec would base64-decode both. The official package wins.
const openaiKey = (secret: string): KeyObject => (secret.startsWith('whsec_') ? standardKey(secret) : createSecretKey(Buffer.from(secret, 'utf8')));
export const openai: Scheme<unknown> = {
  ...user('openai', 'https://platform.openai.com/docs/guides/webhooks', ['The secret is whsec_… (base64 after the prefix); one without the prefix is used as its UTF-8 bytes, as the openai package does.']),
  key: openaiKey,
  sign: (input) => signStandard(input, 'webhook', openaiKey),
} as Scheme<unknown>;
export const orkestapay = user('orkestapay', 'https://docs.orkestapay.com/docs/en/message-verification', ['OrkestaPay delivers through Svix (svix-* headers).'], 'svix');
export const replicate = user('replicate', 'https://replicate.com/docs/topics/webhooks/verify-webhook', ['The secret comes from GET /v1/webhooks/default/secret (whsec_…).']);
export const resend = user('resend', 'https://resend.com/docs/webhooks/verify-webhooks-requests', ['Resend delivers through Svix (svix-* headers); the signing secret is whsec_….'], 'svix');
export const signatureapi = user('signatureapi', 'https://signatureapi.com/docs/api/guides/how-to/verify-webhooks');
export const soharHealth = user('sohar-health', 'https://docs.soharhealth.com/documentation/webhooks/security', ['Sohar Health delivers through Svix (svix-* headers).'], 'svix');
export const superwall = user('superwall', 'https://superwall.com/docs/integrations/webhooks-verify', ['Superwall delivers through Svix (svix-* headers).'], 'svix');
export const svix = user('svix', 'https://docs.svix.com/receiving/verifying-payloads/how-manual', ['svix-* headers (webhook-* on white-labelled accounts: both are read).'], 'svix');
