// Providers that send a shared token instead of a signature (catalog family T), one entry a provider,
// sorted by name. See token.ts for what such a route does and does not prove.
import type { TokenPreset } from '../token.js';

export const TOKEN: readonly TokenPreset[] = [
  {
    name: 'cloudflare-notifications',
    docs: 'https://developers.cloudflare.com/notifications/get-started/configure-webhooks/',
    header: 'cf-webhook-auth',
    notes: ["The secret is the webhook destination's secret, sent verbatim in cf-webhook-auth on every dispatch (Cloudflare Stream webhooks are signed instead: cloudflare-stream)."],
    vector: {
      secret: 'cf_notifications_secret_0123',
      body: '{"name":"hookgate","text":"Universal SSL certificate active","data":{},"ts":1700000000}',
      headers: { 'cf-webhook-auth': 'cf_notifications_secret_0123' },
      source: "the documented construction (Cloudflare's API: the secret is passed in the cf-webhook-auth header)",
    },
  },
  {
    name: 'hugging-face',
    docs: 'https://huggingface.co/docs/hub/webhooks',
    aliases: ['huggingface'],
    header: 'X-Webhook-Secret',
    notes: ["The webhook's secret, sent verbatim in X-Webhook-Secret (Hugging Face signs nothing)."],
    vector: {
      secret: 'hf_webhook_secret_0123456789',
      body: '{"event":{"action":"update","scope":"repo.content"},"repo":{"type":"model","name":"acme/model"}}',
      headers: { 'x-webhook-secret': 'hf_webhook_secret_0123456789' },
      source: 'the documented construction (the secret verbatim in X-Webhook-Secret)',
    },
  },
  {
    name: 'revenuecat',
    docs: 'https://www.revenuecat.com/docs/integrations/webhooks',
    header: 'Authorization',
    notes: ['The secret is the whole authorization header value set on the webhook in the RevenueCat dashboard (e.g. Bearer …), compared verbatim.'],
    vector: {
      secret: 'Bearer rc_webhook_token_0123456789',
      body: '{"api_version":"1.0","event":{"id":"CD489E0E-5D0A-4ECF-9B4E-8A36C1D3B6A4","type":"INITIAL_PURCHASE"}}',
      headers: { authorization: 'Bearer rc_webhook_token_0123456789' },
      source: 'the documented construction (the configured authorization header value, verbatim)',
    },
  },
  {
    name: 'telegram',
    docs: 'https://core.telegram.org/bots/api#setwebhook',
    header: 'X-Telegram-Bot-Api-Secret-Token',
    notes: ['The secret is the secret_token given to setWebhook (1-256 characters A-Z, a-z, 0-9, _ and -).'],
    vector: {
      secret: 'tg_secret_token_0123456789',
      body: '{"update_id":10000,"message":{"message_id":1,"date":1700000000,"text":"hi"}}',
      headers: { 'x-telegram-bot-api-secret-token': 'tg_secret_token_0123456789' },
      source: 'the documented construction (the header carries the secret_token verbatim)',
    },
  },
];
