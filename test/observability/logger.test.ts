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
