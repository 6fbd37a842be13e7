// pino options: JSON lines, signature/authorization/secret-bearing fields redacted by path, never a body.
import pino, { type Logger } from 'pino';
import { PROVIDER_NAMES, getScheme } from '../providers/index.js';

/** Headers that carry a signature or a shared token (providers.md); a log line never shows their values. */
export const SIGNATURE_HEADERS = [...new Set([
  'authorization', 'cookie', 'proxy-authorization',
  'stripe-signature', 'x-hub-signature', 'x-hub-signature-256', 'webhook-signature', 'svix-signature',
  'x-slack-signature', 'x-shopify-hmac-sha256', 'shopify-hmac-sha256', 'x-twilio-signature',
  'x-signature-ed25519', 'x-twilio-email-event-webhook-signature', 'paddle-signature',
  'x-square-hmacsha256-signature', 'x-square-signature', 'x-gitlab-token', 'linear-signature',
  'x-zm-signature', 'x-pagerduty-signature', 'twitch-eventsub-message-signature',
  'x-hubspot-signature', 'x-hubspot-signature-v3', 'typeform-signature', 'calendly-webhook-signature',
  // and every registered provider's own (presets, family files): a new provider is redacted without an edit here
  ...PROVIDER_NAMES.flatMap((n) => getScheme(n)!.info?.headers ?? []).map((h) => h.toLowerCase()).filter((h) => /^[a-z0-9-]+$/.test(h)),
])];

export const REDACT = [
  ...SIGNATURE_HEADERS.flatMap((h) => [`req.headers["${h}"]`, `headers["${h}"]`]),
  '*.secret',
  '*.secrets',
  'secret',
  'body',
  '*.body',
];

/**
 * pino's isoTime, formatted once a millisecond: under load many lines share a millisecond, and
 * `toISOString` was ~2.7 µs of each delivery line in the profile (docs/benchmarks.md). Same output.
 */
let lastMs = -1;
let lastTime = '';
export function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'hookgate' }, redact: { paths: REDACT, censor: '[redacted]' }, timestamp: isoTime }, destination);
}
