// Redaction by path: if a header object, a secret or a body ever reaches a log call, its value does not.
import t from 'tap';
import { Writable } from 'node:stream';
import { createLogger, SIGNATURE_HEADERS } from '../../src/observability/logger.js';

t.test('signature, authorization and secret fields are redacted, bodies are dropped', async (t) => {
  let text = '';
  const log = createLogger('info', new Writable({ write: (c, _e, cb) => ((text += c.toString()), cb()) }));
  const headers = Object.fromEntries(SIGNATURE_HEADERS.map((h, i) => [h, `VALUE-${i}-must-not-appear`]));
  log.info({ req: { headers: { ...headers, 'content-type': 'application/json' } } }, 'request');
  log.info({ headers }, 'bare headers');
  log.info({ secret: 'S3CRET-1', route: { secrets: ['S3CRET-2'], secret: 'S3CRET-3' }, body: 'BODY-1', request: { body: 'BODY-2' } }, 'fields');
  for (const i of SIGNATURE_HEADERS.keys()) t.notOk(text.includes(`VALUE-${i}-`), `${SIGNATURE_HEADERS[i]} is redacted`);
  for (const s of ['S3CRET-1', 'S3CRET-2', 'S3CRET-3', 'BODY-1', 'BODY-2']) t.notOk(text.includes(s), `${s} is not logged`);
  t.match(text, /"content-type":"application\/json"/, 'other headers stay readable');
  t.match(text, /"stripe-signature":"\[redacted\]"/, 'the field is there, its value is not');
});

t.test('every line carries its ISO time, the same format as pino\'s isoTime', async (t) => {
  let text = '';
  const log = createLogger('info', new Writable({ write: (c, _e, cb) => ((text += c.toString()), cb()) }));
  const before = Date.now();
  log.info('one');
  log.info('two');
  const after = Date.now();
  const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { time: string });
  t.equal(lines.length, 2);
  for (const l of lines) {
    t.match(l.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const ms = Date.parse(l.time);
    t.ok(ms >= before && ms <= after, 'the time of the call');
  }
});

t.test('attack: the signature and token headers of the JWT, certificate-URL and public-key providers never reach a log line', async (t) => {
  // these names come from each provider's info (src/providers/*): a provider without one was logged in clear
  const names = ['plaid-verification', 'x-webhook-signature', 'x-fusionauth-signature-jwt', 'x-ctct-webhook-sig', 'paypal-transmission-sig', 'telnyx-signature-ed25519', 'x-signature-sha256'];
  let text = '';
  const log = createLogger('info', new Writable({ write: (c, _e, cb) => ((text += c.toString()), cb()) }));
  log.info({ req: { headers: Object.fromEntries(names.map((h) => [h, `TOKEN-${h}-must-not-appear`])) } }, 'request');
  for (const h of names) t.notOk(text.includes(`TOKEN-${h}-`), `${h} is redacted`);
});
