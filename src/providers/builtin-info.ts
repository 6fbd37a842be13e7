// What `hookgate providers` and docs/providers.md say about the hand-written schemes (the contract's
// first 22). Schemes added later carry their `info` themselves (presets, family files).
import type { ProviderInfo, Scheme } from './types.js';

const I: Record<string, ProviderInfo> = {
  bitbucket: { family: 'hmac', docs: 'https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/', headers: ['X-Hub-Signature'], signed: '{body}', timestamp: null, id: 'digest', secret: 'utf8' },
  calendly: { family: 'hmac', docs: 'https://developer.calendly.com/api-docs/overview/webhooks/webhook-signatures', headers: ['Calendly-Webhook-Signature'], signed: '{timestamp}.{body}', timestamp: 'Calendly-Webhook-Signature (t), unix s', id: 'digest', secret: 'utf8' },
  discord: { family: 'ed25519', docs: 'https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers', headers: ['X-Signature-Ed25519'], signed: '{timestamp}{body}', timestamp: 'header X-Signature-Timestamp, unix s', id: 'json:id', secret: 'public-key', notes: ['The route\'s secret is the application\'s public key (hex); `hookgate sign --secret` takes an Ed25519 private key (PEM or @file).'] },
  generic: { family: 'hmac', docs: 'docs/configuration.md', headers: ['configured'], signed: '{body} or {timestamp}{separator}{body}', timestamp: 'configured header, unix s', id: 'digest', secret: 'utf8', notes: ['Configured per route in its generic: block (header, algorithm, encoding, prefix, timestampHeader, separator).'] },
  github: { family: 'hmac', docs: 'https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries', headers: ['X-Hub-Signature-256'], signed: '{body}', timestamp: null, id: 'digest', secret: 'utf8' },
  gitlab: { family: 'token', docs: 'https://docs.gitlab.com/user/project/integrations/webhooks/', headers: ['X-Gitlab-Token', 'webhook-signature'], signed: 'secret token: nothing; signing token: {header:webhook-id}.{timestamp}.{body}', timestamp: 'signing token: header webhook-timestamp, unix s', id: 'signing token: header:webhook-id; secret token: digest', secret: 'utf8', notes: ['A secret starting with whsec_ is a signing token (Standard Webhooks); any other is a secret token, which signs nothing.'] },
  hubspot: { family: 'url-signed', docs: 'https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests', headers: ['X-HubSpot-Signature-v3'], signed: '{method}{url}{body}{timestamp}', timestamp: 'header X-HubSpot-Request-Timestamp, unix ms', id: 'digest', secret: 'utf8' },
  intercom: { family: 'hmac', docs: 'https://developers.intercom.com/docs/webhooks/webhook-notifications', headers: ['X-Hub-Signature'], signed: '{body}', timestamp: null, id: 'json:id', secret: 'utf8' },
  linear: { family: 'hmac', docs: 'https://linear.app/developers/webhooks', headers: ['Linear-Signature'], signed: '{body}', timestamp: 'body webhookTimestamp, unix ms', id: 'digest', secret: 'utf8' },
  mailgun: { family: 'key-in-body', docs: 'https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks', headers: ['(body) signature'], signed: 'timestamp + token (not the event data)', timestamp: 'body signature.timestamp, unix s', id: 'json:signature.token', secret: 'utf8' },
  paddle: { family: 'hmac', docs: 'https://developer.paddle.com/webhooks/about/signature-verification', headers: ['Paddle-Signature'], signed: '{timestamp}:{body}', timestamp: 'Paddle-Signature (ts), unix s', id: 'json:event_id', secret: 'utf8' },
  pagerduty: { family: 'hmac', docs: 'https://developer.pagerduty.com/docs/webhooks/webhook-signatures/', headers: ['X-PagerDuty-Signature'], signed: '{body}', timestamp: null, id: 'json:event.id', secret: 'utf8' },
  sendgrid: { family: 'ecdsa', docs: 'https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features', headers: ['X-Twilio-Email-Event-Webhook-Signature'], signed: '{timestamp}{body}', timestamp: 'header X-Twilio-Email-Event-Webhook-Timestamp, unix s', id: 'digest', secret: 'public-key', notes: ['The route\'s secret is the verification key (base64 DER or PEM); `hookgate sign --secret` takes a P-256 private key.'] },
  shopify: { family: 'hmac', docs: 'https://shopify.dev/docs/apps/build/webhooks/verify-deliveries', headers: ['X-Shopify-Hmac-Sha256'], signed: '{body}', timestamp: null, id: 'digest', secret: 'utf8' },
  slack: { family: 'hmac', docs: 'https://api.slack.com/docs/verifying-requests-from-slack', headers: ['X-Slack-Signature'], signed: 'v0:{timestamp}:{body}', timestamp: 'header X-Slack-Request-Timestamp, unix s', id: 'json:event_id', secret: 'utf8' },
  square: { family: 'url-signed', docs: 'https://developer.squareup.com/docs/webhooks/step3validate', headers: ['X-Square-Hmacsha256-Signature'], signed: '{url}{body}', timestamp: null, id: 'json:event_id', secret: 'utf8' },
  standard: { family: 'standard-webhooks', docs: 'https://www.standardwebhooks.com/', aliases: ['standard-webhooks'], headers: ['webhook-signature', 'svix-signature'], signed: '{header:webhook-id}.{timestamp}.{body}', timestamp: 'header webhook-timestamp (or svix-timestamp), unix s', id: 'header:webhook-id', secret: 'whsec' },
  stripe: { family: 'hmac', docs: 'https://docs.stripe.com/webhooks#verify-manually', headers: ['Stripe-Signature'], signed: '{timestamp}.{body}', timestamp: 'Stripe-Signature (t), unix s', id: 'json:id', secret: 'utf8' },
  twilio: { family: 'url-signed', docs: 'https://www.twilio.com/docs/usage/webhooks/webhooks-security', headers: ['X-Twilio-Signature'], signed: '{url} + sorted form parameters (JSON: {url} with bodySHA256)', timestamp: null, id: 'digest', secret: 'utf8' },
  twitch: { family: 'hmac', docs: 'https://dev.twitch.tv/docs/eventsub/handling-webhook-events/#verifying-the-event-message', headers: ['Twitch-Eventsub-Message-Signature'], signed: '{header:twitch-eventsub-message-id}{timestamp}{body}', timestamp: 'header Twitch-Eventsub-Message-Timestamp, RFC 3339', id: 'header:twitch-eventsub-message-id', secret: 'utf8' },
  typeform: { family: 'hmac', docs: 'https://www.typeform.com/developers/webhooks/secure-your-webhooks/', headers: ['Typeform-Signature'], signed: '{body}', timestamp: null, id: 'digest', secret: 'utf8' },
  zoom: { family: 'hmac', docs: 'https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events', headers: ['x-zm-signature'], signed: 'v0:{timestamp}:{body}', timestamp: 'header x-zm-request-timestamp, unix s', id: 'digest', secret: 'utf8' },
};

/** The scheme with its listing attached (the hand-written schemes stay as they are). */
export function withBuiltinInfo<K>(name: string, scheme: Scheme<K>): Scheme<K> {
  const info = I[name];
  return info && !scheme.info ? { ...scheme, info } : scheme;
}
