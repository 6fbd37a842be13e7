// Providers as data: the URL the provider called and the form fields it posted (catalog family E; the route needs publicUrl).
// One entry a provider, sorted by name. Vectors: the provider's published one where it exists, otherwise built
// from the documented construction by an implementation independent of hookgate's (see vector.source).
import type { HmacPreset } from '../hmac-engine.js';

export const URL_SIGNED: readonly HmacPreset[] = [
  {
    name: "mandrill",
    docs: "https://mailchimp.com/developer/transactional/guides/track-respond-activity-webhooks/#authenticating-webhook-requests",
    aliases: ["mailchimp-transactional"],
    algorithm: "sha1",
    signed: "{url}{form:sorted}",
    signature: { headers: ["x-mandrill-signature"], format: "single", encoding: "base64" },
    notes: ["The route's publicUrl must be the webhook URL exactly as configured in Mandrill.", "Mandrill signs its URL check (when the webhook is added) with the key test-webhook: list it as a second secret while adding the webhook, then remove it.", "The body is a batch (mandrill_events, a JSON array): the key is the digest of the URL and fields as signed."],
    vector: {
      secret: "whk_test_secret_0123456789",
      body: "mandrill_events=%5B%7B%22event%22%3A%22send%22%2C%22_id%22%3A%22exampleaaaaaaaaaaaaaaaaaaaaaaaaa%22%2C%22ts%22%3A1700000000%7D%5D",
      headers: {"x-mandrill-signature": "InpTrJR0rdQ4DJCHZLAwGgudai4="},
      source: "built from the documented construction (URL https://hooks.example.com/hook as the route publicUrl, then each POST field name and value sorted by name)",
    },
  },
];
