import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { EventWebhook } from '@sendgrid/eventwebhook';
import { sendgrid } from '../../src/providers/sendgrid.js';
import type { SchemeOptions, SignedRequest } from '../../src/providers/types.js';

const opts: SchemeOptions = { toleranceMs: 300_000, publicUrl: null };
const SIG = 'x-twilio-email-event-webhook-signature';
const TS_H = 'x-twilio-email-event-webhook-timestamp';
const req = (body: Buffer | string, sig: string, ts: string): SignedRequest => ({
  method: 'POST',
  url: '/webhooks/sendgrid',
  headers: { 'content-type': 'application/json', [SIG]: sig, [TS_H]: ts },
  body: Buffer.from(body),
});
const verify = (r: SignedRequest, keys: string[], nowMs: number) => sendgrid.verify(r, keys.map((k) => sendgrid.key(k, opts)), opts, nowMs);

// @sendgrid/eventwebhook src/eventwebhook.spec.js (providers.md §3.8, §5.1)
const KEY1 = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==';
const SIG1 = 'MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=';
const TS1 = '1600112502';
const BODY1 =
  JSON.stringify([
    {
      email: 'hello@world.com',
      event: 'dropped',
      reason: 'Bounced Address',
      sg_event_id: 'ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA',
      sg_message_id: 'LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0',
      'smtp-id': '<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>',
      timestamp: 1600112492,
    },
  ]) + '\r\n';
const KEY2 = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEQ4LIFtWztlsF7skFqOncjD1lun4H5w8XOhyOArHW9RcIx/FfEzx6cikC/yPfUvwaX/JScE7Fc9CJD2afQ9Ok3Q==';
const SIG2 = 'MEYCIQC/I4o6vCgqRYrTljjoVWB/GRWNtxeePlLMHr3x9ETeRQIhAIpV+03nREPTTHWSW0wIOA0EoMPdcNgXa70yCaqDJlu5';
const TS2 = '1619651159';
const BODY2 =
  JSON.stringify([
    {
      email: 'invalid@gmail.com',
      event: 'processed',
      send_at: 0,
      sg_event_id: 'cHJvY2Vzc2VkLTE5OTQyMTEyLXFOd0JMZ1BRUWpXNkRKdktRd1NBYnctMA',
      sg_message_id: 'qNwBLgPQQjW6DJvKQwSAbw.filterdrecv-canary-547b64655b-cw6zx-1-6089EA4A-56.0',
      'smtp-id': '<qNwBLgPQQjW6DJvKQwSAbw@ismtpd0178p1mdw1.sendgrid.net>',
      timestamp: 1619651146,
    },
    {
      email: 'invalid@gmail.com',
      event: 'bounce',
      ip: '167.89.101.76',
      reason:
        '552 5.2.2 The email account that you tried to reach is over quota and inactive. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaPerm c17si1130468pgv.34 - gsmtp',
      sg_event_id: 'Ym91bmNlLTAtMTk5NDIxMTItcU53QkxnUFFRalc2REp2S1F3U0Fidy0w',
      sg_message_id: 'qNwBLgPQQjW6DJvKQwSAbw.filterdrecv-canary-547b64655b-cw6zx-1-6089EA4A-56.0',
      'smtp-id': '<qNwBLgPQQjW6DJvKQwSAbw@ismtpd0178p1mdw1.sendgrid.net>',
      status: '5.2.2',
      timestamp: 1619651147,
      tls: 1,
      type: 'blocked',
    },
  ])
    .split('},{')
    .join('},\r\n{') + '\r\n';

t.test('the published SendGrid vectors verify (single event and a batch), keyed on the digest', async (t) => {
  const v1 = verify(req(BODY1, SIG1, TS1), [KEY1], Number(TS1) * 1000);
  t.same(v1, { ok: true, secretIndex: 0, timestamp: Number(TS1) * 1000 });
  t.match(verify(req(BODY2, SIG2, TS2), [KEY2], Number(TS2) * 1000 + 60_000), { ok: true, secretIndex: 0 });
  // the trailing \r\n is signed
  t.match(verify(req(BODY1.trimEnd(), SIG1, TS1), [KEY1], Number(TS1) * 1000), { ok: false, code: 'signature_invalid' });
  // the other vector's key does not verify it; rotation finds the right one
  t.match(verify(req(BODY1, SIG1, TS1), [KEY2], Number(TS1) * 1000), { ok: false, code: 'signature_invalid' });
  t.match(verify(req(BODY1, SIG1, TS1), [KEY2, KEY1], Number(TS1) * 1000), { ok: true, secretIndex: 1 });
});

function pair() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    b64: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    pem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    pubPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}
const A = pair();
const B = pair();
const TS = 1_700_000_000;
const BODY = '[{"email":"a@example.com","event":"delivered","sg_event_id":"x1"},\r\n{"email":"b@example.com","event":"open","sg_event_id":"x2"}]\r\n';
const signed = (body = BODY, pem = A.pem, ts = TS) => {
  const h = sendgrid.sign({ secret: pem, body: Buffer.from(body), url: '', method: 'POST', timestamp: ts, id: '' });
  return req(body, h['X-Twilio-Email-Event-Webhook-Signature']!, h['X-Twilio-Email-Event-Webhook-Timestamp']!);
};

t.test('sign() with a test key pair; @sendgrid/eventwebhook accepts it', async (t) => {
  const r = signed();
  const ew = new EventWebhook();
  t.ok(ew.verifySignature(ew.convertPublicKeyToECDSA(A.b64), BODY, r.headers[SIG] as string, r.headers[TS_H] as string));
  t.same(verify(r, [A.b64], TS * 1000), { ok: true, secretIndex: 0, timestamp: TS * 1000 });
  t.match(verify(r, [A.pubPem], TS * 1000), { ok: true }, 'a PEM public key works too');
});

t.test('a changed byte, a wrong key, a changed timestamp fail; rotation reports the index', async (t) => {
  const r = signed();
  t.match(verify({ ...r, body: Buffer.from(BODY.replace('open', 'opem')) }, [A.b64], TS * 1000), { ok: false, code: 'signature_invalid' });
  t.match(verify(r, [B.b64], TS * 1000), { ok: false, code: 'signature_invalid' });
  t.match(verify({ ...r, headers: { ...r.headers, [TS_H]: String(TS + 1) } }, [A.b64], TS * 1000), { ok: false, code: 'signature_invalid' });
  t.match(verify(r, [B.b64, A.b64], TS * 1000), { ok: true, secretIndex: 1 });
});

t.test('stale and future timestamps are refused', async (t) => {
  const r = signed();
  t.match(verify(r, [A.b64], TS * 1000 + 301_000), { ok: false, code: 'timestamp_out_of_tolerance' });
  t.match(verify(r, [A.b64], TS * 1000 - 301_000), { ok: false, code: 'timestamp_out_of_tolerance' });
});

t.test('missing, duplicated and unparseable headers', async (t) => {
  const r = signed();
  t.match(verify({ ...r, headers: { [TS_H]: String(TS) } }, [A.b64], TS * 1000), { ok: false, code: 'signature_missing' });
  t.match(verify({ ...r, headers: { [SIG]: r.headers[SIG] } }, [A.b64], TS * 1000), { ok: false, code: 'signature_missing' });
  t.match(verify({ ...r, headers: { ...r.headers, [SIG]: '%%%' } }, [A.b64], TS * 1000), { ok: false, code: 'malformed' });
  t.match(verify({ ...r, headers: { ...r.headers, [SIG]: 'AAAA' } }, [A.b64], TS * 1000), { ok: false, code: 'signature_invalid' }, 'base64 that is not DER');
  t.match(verify({ ...r, headers: { ...r.headers, [TS_H]: 'yesterday' } }, [A.b64], TS * 1000), { ok: false, code: 'malformed' });
  t.match(verify({ ...r, headers: { ...r.headers, [SIG]: [r.headers[SIG] as string, 'AAAA'] } }, [A.b64], TS * 1000), { ok: false, code: 'malformed' });
  t.match(verify({ ...r, headers: { ...r.headers, [SIG]: `${r.headers[SIG]}, ${r.headers[SIG]}` } }, [A.b64], TS * 1000), { ok: false, code: 'malformed' }, 'joined by Node');
  t.match(verify({ ...r, headers: { ...r.headers, [TS_H]: `${TS}, ${TS}` } }, [A.b64], TS * 1000), { ok: false, code: 'malformed' }, 'timestamp joined by Node');
});

t.test('key(): a P-256 public key; anything else is a clear error', async (t) => {
  t.throws(() => sendgrid.key('not a key', opts), /verification key/);
  const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  t.throws(() => sendgrid.key(ed, opts), /P-256/);
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  t.throws(() => sendgrid.key(p384, opts), /P-256/);
  t.throws(() => sendgrid.sign({ secret: generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), body: Buffer.from(BODY), url: '', method: 'POST', timestamp: TS, id: '' }), /P-256/);
  t.equal(sendgrid.asymmetric, true);
});
