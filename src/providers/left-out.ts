// Catalog providers (of every family: HMAC, token, keyed-hash, key-in-body, JWT, public-key) and
// provider features (key fetches, probes) that are not shipped, and why: docs/providers.md lists them
// so a user looking for one finds the reason and the workaround (docs/providers-keys.md, providers-handshakes.md).
export interface LeftOut {
  name: string;
  why: string;
}

export const LEFT_OUT: readonly LeftOut[] = [
  { name: 'airwallex', why: 'only a secondary source (x-signature over x-timestamp + body, ms); not confirmed against Airwallex documentation. Use `generic` after checking.' },
  { name: 'authorize-net', why: 'the documentation does not say how the Signature Key becomes HMAC key bytes (hex-decoded or as text); implementations differ. Use `generic` (sha512, prefix `sha512=`, hex) with the form your account needs.' },
  { name: 'bird, etsy, stytch, supabase', why: 'named as Standard Webhooks senders by one secondary source only; if yours sends `webhook-*` / `svix-*` headers with a `whsec_` secret, `provider: standard` verifies it.' },
  { name: 'braintree: the bt_challenge probe', why: 'the `GET ?bt_challenge=` check is unsigned and its answer needs the private key; hookgate does not answer it (`provider: braintree` verifies the deliveries). Answer it from the application on a route of its own.' },
  { name: 'close', why: 'from memory only (hex-decoded key, timestamp + body); not confirmed against a primary source.' },
  { name: 'coinbase-cdp', why: 'low confidence (X-Hook0-Signature with header-binding versions); not confirmed against a primary source.' },
  { name: 'deepgram', why: '`dg-token` carries the API key id, which is not a secret: it authenticates nothing.' },
  { name: 'dropbox-sign', why: 'from memory only, and it signs just `event_time` + `event_type` inside the body (the event data is unsigned).' },
  { name: 'ebay', why: 'ECDSA over the body with a public key fetched by `kid` from the Notification API with an OAuth application token: hookgate holds no API credentials. Its `GET ?challenge_code=` probe (SHA-256 of the code, a verification token and the endpoint URL) is not answered either.' },
  { name: 'fintoc, fourthwall, paymongo, leaf, ashby, notch-pay, chatwoot', why: 'seen only by name and header in the catalog appendix; encodings and signed content not confirmed.' },
  { name: 'flutterwave', why: 'low confidence for both v3 (`verif-hash` token) and v4 (`flutterwave-signature`) from community sources only.' },
  { name: 'xendit', why: 'the x-callback-token header is known from memory only; not confirmed against Xendit documentation.' },
  { name: 'plaid: the key fetch', why: 'Plaid\'s keys come from the authenticated `POST /webhook_verification_key/get` (client id and secret): hookgate holds no API credentials. `provider: plaid` verifies with the JWK configured as the route\'s secret.' },
  { name: 'plivo, contentful', why: 'URL-signed with a nonce (Plivo V3) or a canonical request over chosen headers (Contentful): the engine has no such template yet; their official packages (plivo, @contentful/node-apps-toolkit) would be the test signers.' },
  { name: 'kinde', why: 'low confidence (the body is an RS256 JWT, keys from your Kinde domain\'s JWKS); not confirmed against a primary source. If it is as described, `provider: jwt` with `token: body` and `jwksUrl` covers it.' },
  { name: 'klaviyo', why: 'low confidence: body + HTTP-date timestamp, signature encoding unconfirmed.' },
  { name: 'monday', why: 'low confidence (an `Authorization` JWT signed with the app signing secret, and a `{"challenge": …}` echo probe); not confirmed against a primary source.' },
  { name: 'notion', why: 'the signing key (`verification_token`) arrives in an unsigned POST and becomes the key: that probe needs the flow Asana\'s has (forwarded to the application), which is not built for Notion.' },
  { name: 'nylas', why: 'its creation probe (`GET ?challenge=`) is answered by `handshake: { kind: dropbox }` ([providers-handshakes.md](providers-handshakes.md)), but the signature (`x-nylas-signature`, hex HMAC-SHA256 of the body) is medium confidence and not shipped as a preset: `generic` (sha256, hex, no prefix) with that handshake, after checking.' },
  { name: 'segment', why: 'the algorithm (X-Signature, HMAC-SHA1 hex) is from one secondary source, and Twilio support states that with batching enabled only the first event of a batch is signed: the rest of the body would pass unverified. Use `generic` (sha1, hex) on unbatched destinations after checking.' },
  { name: 'snyk', why: 'low confidence; its documented form is GitHub\'s (`X-Hub-Signature: sha256=<hex>`): `provider: bitbucket` verifies that header.' },
];
