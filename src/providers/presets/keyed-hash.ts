// Providers as data: keyed hashes that are not HMACs (catalog family L).
// One entry a provider, sorted by name. Vectors: the provider's published one where it exists, otherwise built
// from the documented construction by an implementation independent of hookgate's (see vector.source).
import type { HmacPreset } from '../hmac-engine.js';

export const KEYED_HASH: readonly HmacPreset[] = [
  {
    name: "cloudinary",
    docs: "https://cloudinary.com/documentation/notifications#verifying_notification_signatures",
    algorithm: "sha1",
    mac: "hash",
    signed: "{body}{timestamp}{secret}",
    signature: { headers: ["x-cld-signature"], format: "single", encoding: "hex" },
    timestamp: { header: "x-cld-timestamp", unit: "s" },
    // cloudinary utils.verifyNotificationSignature: valid_for = 7200 s
    tolerance: "2h",
    notes: ["SHA-1(body + timestamp + API secret) (the account's default; accounts switched to SHA-256 are not this preset). The default tolerance is Cloudinary's own two hours (its SDK's verifyNotificationSignature)."],
    vector: {
      secret: "whk_test_secret_0123456789",
      body: "{\"notification_type\":\"upload\",\"public_id\":\"sample\",\"version\":1700000000}",
      headers: {"x-cld-signature": "809f01c2920a055b69cef4aff71fa4549c150989", "x-cld-timestamp": "1700000000"},
      now: 1700000000000,
      source: "built from the documented construction (independent HMAC)",
    },
  },
  {
    name: "recharge",
    docs: "https://docs.getrecharge.com/docs/webhooks-overview",
    algorithm: "sha256",
    mac: "hash",
    signed: "{secret}{body}",
    signature: { headers: ["x-recharge-hmac-sha256"], format: "single", encoding: "hex" },
    notes: ["Despite the header name this is SHA-256(client secret + body), not an HMAC. The secret is the API client secret."],
    vector: {
      secret: "whk_test_secret_0123456789",
      body: "{\"subscription\":{\"id\":1,\"status\":\"active\"}}",
      headers: {"x-recharge-hmac-sha256": "cc7bd31f0c17aa7e21f4cf18673c7116d675a7bf51833fa460c0e1c1335f683b"},
      source: "built from the documented construction (independent HMAC)",
    },
  },
];
