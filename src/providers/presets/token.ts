// Providers that send a shared token instead of a signature (catalog family T), one entry a provider,
// sorted by name. See token.ts for what such a route does and does not prove.
import type { TokenPreset } from '../token.js';

export const TOKEN: readonly TokenPreset[] = [
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
