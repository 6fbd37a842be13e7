// pino options: JSON lines, signature/authorization/secret-bearing fields redacted by path, never a body.
import pino, { type Logger } from 'pino';

/** Headers that carry a signature or a shared token (providers.md); a log line never shows their values. */
export const SIGNATURE_HEADERS = [
  'authorization', 'cookie', 'proxy-authorization',
  'stripe-signature', 'x-hub-signature', 'x-hub-signature-256', 'webhook-signature', 'svix-signature',
  'x-slack-signature', 'x-shopify-hmac-sha256', 'shopify-hmac-sha256', 'x-twilio-signature',
  'x-signature-ed25519', 'x-twilio-email-event-webhook-signature', 'paddle-signature',
  'x-square-hmacsha256-signature', 'x-square-signature', 'x-gitlab-token', 'linear-signature',
  'x-zm-signature', 'x-pagerduty-signature', 'twitch-eventsub-message-signature',
  'x-hubspot-signature', 'x-hubspot-signature-v3', 'typeform-signature', 'calendly-webhook-signature',
];

export const REDACT = [
  ...SIGNATURE_HEADERS.flatMap((h) => [`req.headers["${h}"]`, `headers["${h}"]`]),
  '*.secret',
  '*.secrets',
  'secret',
  'body',
  '*.body',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'hookgate' }, redact: { paths: REDACT, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
