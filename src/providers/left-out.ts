// Catalog providers (of the HMAC, token, keyed-hash and key-in-body families) that are not shipped, and
// why: docs/providers.md lists them so a user looking for one finds the reason and the workaround.
export interface LeftOut {
  name: string;
  why: string;
}

export const LEFT_OUT: readonly LeftOut[] = [
  { name: 'airwallex', why: 'only a secondary source (x-signature over x-timestamp + body, ms); not confirmed against Airwallex documentation. Use `generic` after checking.' },
  { name: 'authorize-net', why: 'the documentation does not say how the Signature Key becomes HMAC key bytes (hex-decoded or as text); implementations differ. Use `generic` (sha512, prefix `sha512=`, hex) with the form your account needs.' },
  { name: 'bird, etsy, stytch, supabase', why: 'named as Standard Webhooks senders by one secondary source only; if yours sends `webhook-*` / `svix-*` headers with a `whsec_` secret, `provider: standard` verifies it.' },
  { name: 'close', why: 'from memory only (hex-decoded key, timestamp + body); not confirmed against a primary source.' },
  { name: 'coinbase-cdp', why: 'low confidence (X-Hook0-Signature with header-binding versions); not confirmed against a primary source.' },
  { name: 'deepgram', why: '`dg-token` carries the API key id, which is not a secret: it authenticates nothing.' },
  { name: 'dropbox-sign', why: 'from memory only, and it signs just `event_time` + `event_type` inside the body (the event data is unsigned).' },
  { name: 'fintoc, fourthwall, paymongo, leaf, ashby, notch-pay, chatwoot', why: 'seen only by name and header in the catalog appendix; encodings and signed content not confirmed.' },
  { name: 'flutterwave', why: 'low confidence for both v3 (`verif-hash` token) and v4 (`flutterwave-signature`) from community sources only.' },
  { name: 'xendit', why: 'the x-callback-token header is known from memory only; not confirmed against Xendit documentation.' },
  { name: 'plivo, contentful', why: 'URL-signed with a nonce (Plivo V3) or a canonical request over chosen headers (Contentful): the engine has no such template yet; their official packages (plivo, @contentful/node-apps-toolkit) would be the test signers.' },
  { name: 'klaviyo', why: 'low confidence: body + HTTP-date timestamp, signature encoding unconfirmed.' },
  { name: 'notion', why: 'the signing key (`verification_token`) arrives in an unsigned POST that hookgate refuses; needs the unsigned-handshake support first.' },
  { name: 'nylas', why: 'the webhook is created with an unsigned `GET ?challenge=` that must be echoed; needs the unsigned-handshake support first.' },
  { name: 'segment', why: 'the algorithm (X-Signature, HMAC-SHA1 hex) is from one secondary source, and Twilio support states that with batching enabled only the first event of a batch is signed: the rest of the body would pass unverified. Use `generic` (sha1, hex) on unbatched destinations after checking.' },
  { name: 'snyk', why: 'low confidence; its documented form is GitHub\'s (`X-Hub-Signature: sha256=<hex>`): `provider: bitbucket` verifies that header.' },
];
