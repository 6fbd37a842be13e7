// Unsigned subscription handshakes through a real gateway: each probe answered as its protocol requires
// (status, content type, body), nothing reaching the upstream unless the protocol needs the application
// (Asana), a probe with the wrong verify token refused, the Event Grid probe answered only once its
// token verified, and everything that is not the probe still verified as usual.
import t, { type Test } from 'tap';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { request } from 'undici';
import { SignJWT } from 'jose';
import { sign as octokitSign } from '@octokit/webhooks-methods';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';

const SECRET = 'app-secret-for-handshakes';

async function gateway(t: Test, route: Record<string, unknown>, env: Record<string, string> = {}) {
  const up = await startUpstream((_r, res) => void res.end('app'));
  t.teardown(() => up.close());
  const config = testConfig({ upstream: { url: up.url }, routes: [{ path: '/hook', tenant: 'acme', secrets: ['env:SECRET'], ...route }] }, { SECRET, ...env });
  const gw = await startTestGateway(config);
  t.teardown(() => gw.close());
  const send = async (method: string, path: string, headers: Record<string, string> = {}, body?: string) => {
    const res = await request(`${gw.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  };
  return { up, gw, send };
}

t.test('meta: hub.challenge is echoed only for the configured verify token; signed events still verify', async (t) => {
  const { up, send } = await gateway(t, { provider: 'github', handshake: { kind: 'meta', token: 'env:META_VERIFY' } }, { META_VERIFY: 'my-verify-token' });
  const ok = await send('GET', '/hook?hub.mode=subscribe&hub.verify_token=my-verify-token&hub.challenge=1158201444');
  t.equal(ok.status, 200);
  t.equal(ok.text, '1158201444');
  t.equal(ok.headers['hookgate-outcome'], 'handshake');
  t.match(ok.headers['content-type'], /^text\/plain/);
  const wrong = await send('GET', '/hook?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444');
  t.equal(wrong.status, 401);
  t.equal(wrong.headers['hookgate-outcome'], 'signature_invalid');
  t.notOk(wrong.text.includes('my-verify-token'));
  t.equal((await send('GET', '/hook')).status, 405, 'any other GET is still not allowed');
  const body = '{"object":"page","entry":[]}';
  const signed = await send('POST', '/hook', { 'x-hub-signature-256': await octokitSign(SECRET, body) }, body);
  t.equal(signed.headers['hookgate-outcome'], 'forwarded');
  t.equal((await send('POST', '/hook', {}, body)).status, 401, 'an unsigned event is refused');
  t.equal(up.received.length, 1, 'only the signed event reached the upstream');
});

t.test('meta: the verify token is required at load', async (t) => {
  t.throws(() => testConfig({ upstream: { url: 'http://127.0.0.1:1' }, routes: [{ path: '/h', provider: 'github', tenant: 'a', secrets: ['x'], handshake: { kind: 'meta' } }] }), /routes\[0\]\.handshake\.token: is required for the meta handshake/);
  t.throws(() => testConfig({ upstream: { url: 'http://127.0.0.1:1' }, routes: [{ path: '/h', provider: 'github', tenant: 'a', secrets: ['x'], handshake: { kind: 'dropbox', token: 'x' } }] }), /uses no token/);
});

t.test('dropbox: GET ?challenge= is echoed as text/plain with nosniff; markup is refused', async (t) => {
  const { up, send } = await gateway(t, { provider: 'github', handshake: { kind: 'dropbox' } });
  const r = await send('GET', '/hook?challenge=abc123XYZ');
  t.equal(r.status, 200);
  t.equal(r.text, 'abc123XYZ');
  t.equal(r.headers['x-content-type-options'], 'nosniff');
  t.equal((await send('GET', '/hook?challenge=%3Cscript%3E%20x')).status, 401, 'not printable without spaces: refused');
  t.equal(up.received.length, 0);
});

t.test('microsoft-graph: POST ?validationToken= is answered with the decoded token in text/plain', async (t) => {
  const { up, send } = await gateway(t, { provider: 'github', handshake: { kind: 'microsoft-graph' } });
  const r = await send('POST', '/hook?validationToken=Validation%3A%20Testing%20client%20application%20reachability%20for%20subscription%20Request-Id%3A%2025', { 'content-type': 'text/plain' }, '');
  t.equal(r.status, 200);
  t.equal(r.text, 'Validation: Testing client application reachability for subscription Request-Id: 25');
  t.match(r.headers['content-type'], /^text\/plain/);
  t.equal(up.received.length, 0);
});

t.test('okta: the verification challenge header is answered as JSON', async (t) => {
  const { send } = await gateway(t, { provider: 'github', handshake: { kind: 'okta' } });
  const r = await send('GET', '/hook', { 'x-okta-verification-challenge': 'z0ifgRKQ8tPp0zuXuRvBNqgF6v5NgmRhB6dvX4N0' });
  t.equal(r.status, 200);
  t.same(JSON.parse(r.text), { verification: 'z0ifgRKQ8tPp0zuXuRvBNqgF6v5NgmRhB6dvX4N0' });
});

t.test('trello: HEAD when the webhook is created is answered 200', async (t) => {
  const { up, send } = await gateway(t, { provider: 'github', handshake: { kind: 'trello' } });
  const r = await send('HEAD', '/hook');
  t.equal(r.status, 200);
  t.equal(r.headers['hookgate-outcome'], 'handshake');
  t.equal(up.received.length, 0);
});

t.test('x: the CRC is answered with the HMAC of crc_token under the route\'s secret', async (t) => {
  const { send } = await gateway(t, { provider: 'github', handshake: { kind: 'x-crc' } });
  const r = await send('GET', '/hook?crc_token=challenge-1234');
  t.equal(r.status, 200);
  t.same(JSON.parse(r.text), { response_token: 'sha256=' + createHmac('sha256', SECRET).update('challenge-1234').digest('base64') });
});

t.test('asana: the X-Hook-Secret handshake is forwarded unverified (marked), only with an empty body', async (t) => {
  const { up, send } = await gateway(t, { provider: 'github', handshake: { kind: 'asana' } });
  const r = await send('POST', '/hook', { 'x-hook-secret': 'b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81' });
  t.equal(r.status, 200);
  t.equal(r.headers['hookgate-outcome'], 'forwarded');
  t.equal(up.received.length, 1);
  t.equal(up.received[0]!.headers['hookgate-handshake'], 'asana');
  t.equal(up.received[0]!.headers['x-hook-secret'], 'b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81');
  t.equal(up.received[0]!.headers['hookgate-idempotency-key'], undefined, 'not a delivery: no key, no claim');
  const smuggled = await send('POST', '/hook', { 'x-hook-secret': 'x', 'content-type': 'application/json' }, '{"events":[{"action":"deleted"}]}');
  t.equal(smuggled.status, 401, 'a body riding on a handshake header is refused');
  const spoofed = await send('POST', '/hook', { 'x-hook-secret': 'x', 'hookgate-handshake': 'asana', 'x-hook-signature': 'deadbeef' }, '{}');
  t.equal(spoofed.status, 401, 'with a signature header it is an event, verified as usual');
  t.equal(up.received.length, 1);
});

t.test('azure-event-grid: the validation event is answered only once its Entra ID token verified', async (t) => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ISS = 'https://sts.windows.net/11111111-2222-3333-4444-555555555555/';
  const AUD = 'api://hookgate-events';
  const up = await startUpstream((_r, res) => void res.end('app'));
  t.teardown(() => up.close());
  const config = testConfig(
    { upstream: { url: up.url }, routes: [{ path: '/eg', provider: 'azure-event-grid', tenant: 'acme', secrets: ['env:PUB'], jwt: { issuer: ISS, audience: AUD } }] },
    { PUB: publicKey.export({ format: 'pem', type: 'spki' }).toString() },
  );
  const gw = await startTestGateway(config);
  t.teardown(() => gw.close());
  const token = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setIssuer(ISS).setAudience(AUD).setIssuedAt().setExpirationTime('5m').sign(privateKey);
  const body = JSON.stringify([{ id: '2d1781af', topic: '/subscriptions/x', subject: '', data: { validationCode: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6', validationUrl: 'https://rp-eastus2.eventgrid.azure.net/validate' }, eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent', eventTime: '2018-01-25T22:12:19.4556811Z', dataVersion: '1' }]);
  const probe = (headers: Record<string, string>) => request(`${gw.url}/eg`, { method: 'POST', headers: { 'aeg-event-type': 'SubscriptionValidation', 'content-type': 'application/json', ...headers }, body });
  const ok = await probe({ authorization: `Bearer ${token}` });
  t.equal(ok.statusCode, 200);
  t.equal(ok.headers['hookgate-outcome'], 'handshake');
  t.same(await ok.body.json(), { validationResponse: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6' });
  const anon = await probe({});
  t.equal(anon.statusCode, 401, 'without the token the probe is not answered: nobody subscribes this endpoint to their topic');
  await anon.body.text();
  const event = await request(`${gw.url}/eg`, { method: 'POST', headers: { 'aeg-event-type': 'Notification', authorization: `Bearer ${token}` }, body: '[{"id":"e1","eventType":"Microsoft.Storage.BlobCreated","data":{}}]' });
  t.equal(event.headers['hookgate-outcome'], 'forwarded');
  await event.body.text();
  t.equal(up.received.length, 1, 'only the event reached the upstream');
});

t.test('probes are unverified traffic: the per-address limit applies to them before any answer', async (t) => {
  const { startLimitedGateway } = await import('../helpers/limits.js');
  const up = await startUpstream((_r, res) => void res.end('app'));
  t.teardown(() => up.close());
  const config = testConfig({ upstream: { url: up.url }, limits: { unverified: '3/m' }, routes: [{ path: '/hook', provider: 'github', tenant: 'acme', secrets: ['env:SECRET'], handshake: { kind: 'x-crc' } }] }, { SECRET });
  const lg = await startLimitedGateway(config);
  t.teardown(() => lg.close());
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await request(`${lg.gw.url}/hook?crc_token=t${i}`);
    statuses.push(res.statusCode);
    await res.body.text();
  }
  t.same(statuses, [200, 200, 200, 429, 429]);
});
