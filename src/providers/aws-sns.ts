// AWS SNS HTTP/S subscriptions (provider-catalog.md family H, high): the signature travels in the JSON
// body (`Signature`, `SignatureVersion` 1 = SHA1withRSA, 2 = SHA256withRSA, `SigningCertURL`) over
// `Name\nValue\n` of the type's fields in order. The certificate comes only from an SNS host
// (https://sns.<region>.amazonaws.com/…pem, the region of the topic; src/providers/cert-url.ts).
// The route's secrets are the topic ARNs it accepts: a valid signature proves AWS sent the message,
// and only the topic says it is yours (anyone can point their own topic at this URL).
// SubscriptionConfirmation and UnsubscribeConfirmation are verified like messages and forwarded to
// the upstream, which confirms by GETting SubscribeURL: hookgate makes no request a delivery asks for.
// Unsigned envelope fields (MessageAttributes, …) are not covered: no json: keys; the key is MessageId.
import { createPrivateKey, sign as rsaSign, verify as rsaVerify } from 'node:crypto';
import { certRemote, materialFor, type CertPolicy } from './cert-url.js';
import { decodeBase64, fail, invalid, outOfTolerance, parseJson, parseRfc3339, withinTolerance } from './primitives.js';
import type { Scheme, SignedRequest } from './types.js';

const FIELDS: Record<string, readonly string[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};
const HOST = /^sns\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/;
const ARN = /^arn:aws(-cn|-us-gov)?:sns:([a-z0-9-]+):\d{12}:[A-Za-z0-9_.-]{1,256}$/;

export const SNS_CERTS: CertPolicy = {
  name: 'AWS SNS',
  allowed: (u) => u.protocol === 'https:' && HOST.test(u.hostname) && u.port === '' && u.pathname.endsWith('.pem') && !u.username && !u.password && !u.search && !u.hash,
  identities: [],
  chain: 'tls',
};

type Envelope = Record<string, unknown>;
const envelope = (body: Buffer): Envelope | null => {
  const v = parseJson(body);
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Envelope) : null;
};

/** The certificate URL, only when its region is the topic's (a message for us-east-1 is signed there). */
const certUrl = (req: SignedRequest): string | null => {
  const e = envelope(req.body);
  if (!e || typeof e.SigningCertURL !== 'string' || typeof e.TopicArn !== 'string') return null;
  try {
    const host = HOST.exec(new URL(e.SigningCertURL).hostname);
    const arn = ARN.exec(e.TopicArn);
    return host && arn && host[1] === arn[2] ? e.SigningCertURL : 'https://not-the-topic-region.invalid/';
  } catch {
    return e.SigningCertURL;
  }
};

/** `Name\nValue\n` of the type's fields that are present (Subject only when sent). */
export function snsStringToSign(e: Envelope): string | null {
  const fields = FIELDS[String(e.Type)];
  if (!fields) return null;
  let out = '';
  for (const f of fields) {
    const v = e[f];
    if (v === undefined && f === 'Subject') continue;
    if (typeof v !== 'string') return null;
    out += `${f}\n${v}\n`;
  }
  return out;
}

const DOCS = 'https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html';

export const awsSns: Scheme<string> = {
  name: 'aws-sns',
  docs: DOCS,
  info: {
    family: 'cert-url',
    docs: DOCS,
    headers: ['(body) Signature'],
    signed: 'Name\\nValue\\n of the body\'s Message, MessageId, Subject (when sent), Timestamp, TopicArn, Type (confirmations: Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type); SignatureVersion 1 SHA1withRSA, 2 SHA256withRSA',
    timestamp: 'body Timestamp, ISO 8601',
    id: 'json:MessageId',
    secret: 'utf8',
    notes: [
      "The route's secrets are the topic ARNs it accepts, not keys: anyone's topic can point at this URL, and AWS signs it too. The certificate at `SigningCertURL` is fetched only from `https://sns.<region>.amazonaws.com` in the topic's region. `hookgate sign --secret` takes an RSA private key.",
      "Retries keep the first signed Timestamp: raise `tolerance` to the subscription's delivery policy. Unsigned envelope fields (`MessageAttributes`, …) are not covered: no `json:` keys or tenants. Raw message delivery carries no signature: leave it off.",
      '`SubscriptionConfirmation` is verified like a message and forwarded to the upstream, which confirms by GETting `SubscribeURL` ([providers-keys.md](providers-keys.md#aws-sns)).',
    ],
  },
  signedHeaders: [],
  signsBody: false,
  asymmetric: true,
  warnings: ["aws-sns: raise tolerance to your subscription's delivery policy (retries keep the message's signed Timestamp); SubscriptionConfirmation is forwarded to the upstream, which confirms it"],
  key(secret) {
    const arn = secret.trim();
    if (!ARN.test(arn)) throw new Error('aws-sns: each secret is a topic ARN this route accepts (arn:aws:sns:<region>:<account>:<topic>)');
    return arn;
  },
  remote: (_opts, fetcher) => certRemote(SNS_CERTS, fetcher, certUrl),
  verify(req, keys, opts, nowMs, fetched) {
    const e = envelope(req.body);
    if (!e) return fail('malformed', 'the body is not an SNS JSON message');
    if (typeof e.Signature !== 'string' || e.Signature === '') return fail('signature_missing', 'the message has no Signature');
    const str = snsStringToSign(e);
    if (str === null) return fail('malformed', 'the message lacks a field SNS signs for its Type');
    const hash = e.SignatureVersion === '1' ? 'sha1' : e.SignatureVersion === '2' ? 'sha256' : null;
    if (!hash) return fail('signature_invalid', 'SignatureVersion is not 1 or 2');
    const material = materialFor(fetched, e.SigningCertURL);
    if (!material) return fail('signature_invalid', 'the certificate was not resolved for this message');
    const sig = decodeBase64(e.Signature);
    // canonical base64 only: unused low bits of the last character would let one signature take many spellings
    if (!sig) return fail('malformed', 'Signature is not base64');
    if (sig.toString('base64') !== e.Signature) return invalid();
    let ok = false;
    try {
      ok = rsaVerify(hash, Buffer.from(str, 'utf8'), material.key, sig);
    } catch {
      ok = false;
    }
    if (!ok) return invalid();
    const found = keys.indexOf(e.TopicArn as string);
    if (found < 0) return fail('signature_invalid', 'the topic is not one this route accepts');
    const ts = parseRfc3339(String(e.Timestamp));
    if (ts === null) return fail('malformed', 'Timestamp is not an ISO 8601 time');
    if (!withinTolerance(ts, nowMs, opts.toleranceMs)) return outOfTolerance();
    return { ok: true, secretIndex: found, id: String(e.MessageId), timestamp: ts };
  },
  sign(input) {
    return { 'Content-Type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification', 'x-amz-sns-message-id': input.id };
  },
  signBody(input) {
    // a Notification as SNS sends it, the given body as its Message, for topic ARN …:hookgate in us-east-1
    const key = createPrivateKey(input.secret);
    if (key.asymmetricKeyType !== 'rsa') throw new Error('aws-sns: signing needs an RSA private key (PEM)');
    const e: Envelope = {
      Type: 'Notification',
      MessageId: input.id,
      TopicArn: 'arn:aws:sns:us-east-1:123456789012:hookgate',
      Message: input.body.toString('utf8'),
      Timestamp: new Date(input.timestamp * 1000).toISOString(),
      SignatureVersion: '2',
      SigningCertURL: 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-hookgate.pem',
      UnsubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe',
    };
    e.Signature = rsaSign('sha256', Buffer.from(snsStringToSign(e)!), key).toString('base64');
    return Buffer.from(JSON.stringify(e));
  },
};
