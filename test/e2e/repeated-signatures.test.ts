// Providers that send their signature header more than once (Mollie during a 24 h secret rotation) or
// in twin headers (Box's primary and secondary keys), over real HTTP: Node hands a repeated header to
// hookgate joined into one value, and the delivery must still verify when any value matches, and only then.
import t, { type Test } from 'tap';
import { createHmac, randomBytes } from 'node:crypto';
import { request } from 'undici';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';

const hex = (key: string, body: string) => createHmac('sha256', key).update(body).digest('hex');

async function gateway(t: Test, provider: string, secrets: string[]) {
  const up = await startUpstream((_r, res) => {
    res.statusCode = 200;
    res.end('ok');
  });
  t.teardown(() => up.close());
  const env = Object.fromEntries(secrets.map((s, i) => [`S${i}`, s]));
  const gw = await startTestGateway(testConfig({ upstream: { url: up.url }, routes: [{ path: '/hook', provider, tenant: 'acme', secrets: secrets.map((_s, i) => `env:S${i}`) }] }, env));
  t.teardown(() => gw.close());
  const send = async (headers: string[], body: string) => {
    const res = await request(`${gw.url}/hook`, { method: 'POST', headers: ['content-type', 'application/json', ...headers], body });
    await res.body.text();
    return { status: res.statusCode, outcome: res.headers['hookgate-outcome'] };
  };
  return { up, send };
}

t.test('mollie: X-Mollie-Signature sent twice during a rotation verifies when either value is ours', async (t) => {
  const { up, send } = await gateway(t, 'mollie', ['mollie_new_secret_0123456789']);
  const body = JSON.stringify({ resource: 'event', id: `event_${randomBytes(6).toString('hex')}`, type: 'payment-link.paid' });
  const forged = `sha256=${hex('someone_else', body)}`;
  let r = await send(['x-mollie-signature', `sha256=${hex('mollie_old_secret_0123456789', body)}`, 'x-mollie-signature', `sha256=${hex('mollie_new_secret_0123456789', body)}`], body);
  t.same(r, { status: 200, outcome: 'forwarded' }, 'old and new secret: the new one matches');
  t.equal(up.received.length, 1);
  r = await send(['x-mollie-signature', forged, 'x-mollie-signature', forged], JSON.stringify({ resource: 'event', id: 'event_forged' }));
  t.same(r, { status: 401, outcome: 'signature_invalid' }, 'two values, neither ours');
  t.equal(up.received.length, 1, 'the forgery never reached the upstream');
});

t.test('box: the primary or the secondary signature verifies; a duplicated timestamp is refused', async (t) => {
  const { up, send } = await gateway(t, 'box', ['box_primary_key_0123456789', 'box_secondary_key_0123456789']);
  const body = JSON.stringify({ type: 'webhook_event', id: randomBytes(6).toString('hex'), trigger: 'FILE.UPLOADED' });
  const ts = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const b64 = (key: string) => createHmac('sha256', key).update(body).update(ts).digest('base64');
  let r = await send(['box-delivery-timestamp', ts, 'box-signature-primary', b64('rotated_away_key'), 'box-signature-secondary', b64('box_secondary_key_0123456789')], body);
  t.same(r, { status: 200, outcome: 'forwarded' }, 'the secondary key matches');
  r = await send(['box-delivery-timestamp', ts, 'box-delivery-timestamp', ts, 'box-signature-primary', b64('box_primary_key_0123456789')], body);
  t.same(r, { status: 400, outcome: 'malformed' }, 'a timestamp sent twice is ambiguous');
  t.equal(up.received.length, 1);
});
