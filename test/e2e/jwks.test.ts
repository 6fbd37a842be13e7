// JWT routes whose keys come from a JWKS URL, through a real gateway and a real JWKS server on port 0:
// the set is fetched once and cached, refetched when a token names a new kid (rotation), and never
// refetched more than once per interval however many unknown kids arrive; a redirect to another
// origin, a key URL named by the token (jku), an oversized document are never followed or used.
import t, { type Test } from 'tap';
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { SignJWT } from 'jose';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';

interface KeyServer {
  url: string;
  hits: string[];
  serve: (status: number, body: string, headers?: Record<string, string>) => void;
  close(): Promise<void>;
}

async function keyServer(): Promise<KeyServer> {
  let answer = { status: 404, body: '', headers: {} as Record<string, string> };
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(req.url!);
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(answer.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    serve: (status, body, headers = {}) => void (answer = { status, body, headers }),
    close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwks = (...keys: [KeyObject, string][]) => JSON.stringify({ keys: keys.map(([k, kid]) => ({ ...k.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' })) });
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const ISS = 'https://issuer.example.com';

async function setup(t: Test, jwksPath = '/jwks.json') {
  const keys = await keyServer();
  t.teardown(() => keys.close());
  const up = await startUpstream((_r, res) => void res.end('ok'));
  t.teardown(() => up.close());
  let clock = Date.now();
  const config = testConfig({
    upstream: { url: up.url },
    routes: [{ path: '/jwt', provider: 'jwt', tenant: 'acme', jwt: { token: 'header:x-signature-jwt', algorithms: ['RS256'], issuer: ISS, jwksUrl: `${keys.url}${jwksPath}`, bodyHashClaim: 'body_sha256' } }],
  });
  const gw = await startTestGateway(config, { now: () => clock });
  t.teardown(() => gw.close());
  const send = async (key: KeyObject, kid: string, body = Buffer.from(`{"n":"${randomBytes(4).toString('hex')}"}`), extra: Record<string, unknown> = {}) => {
    const iat = Math.floor(clock / 1000);
    const token = await new SignJWT({ body_sha256: sha(body) }).setProtectedHeader({ alg: 'RS256', kid, ...extra }).setIssuer(ISS).setIssuedAt(iat).setExpirationTime(iat + 300).sign(key);
    const res = await request(`${gw.url}/jwt`, { method: 'POST', headers: { 'x-signature-jwt': token, 'content-type': 'application/json' }, body });
    return { status: res.statusCode, outcome: res.headers['hookgate-outcome'], text: await res.body.text() };
  };
  return { keys, up, gw, send, advance: (ms: number) => void (clock += ms) };
}


t.test('the key set is fetched once, cached, and refetched when a token names a new kid (rotation)', async (t) => {
  const A = rsa();
  const B = rsa();
  const { keys, up, send, advance } = await setup(t);
  keys.serve(200, jwks([A.publicKey, 'a']));
  t.match(await send(A.privateKey, 'a'), { status: 200, outcome: 'forwarded' });
  t.match(await send(A.privateKey, 'a'), { status: 200, outcome: 'forwarded' });
  t.equal(keys.hits.length, 1, 'one fetch for two deliveries');
  keys.serve(200, jwks([A.publicKey, 'a'], [B.publicKey, 'b']));
  advance(31_000);
  t.match(await send(B.privateKey, 'b'), { status: 200, outcome: 'forwarded' }, 'the rotated key is fetched on its first token');
  t.equal(keys.hits.length, 2);
  t.equal(up.received.length, 3);
});

t.test('attack: a flood of unknown kids does not refetch the key set unboundedly', async (t) => {
  const A = rsa();
  const attacker = rsa();
  const { keys, up, send, advance } = await setup(t);
  keys.serve(200, jwks([A.publicKey, 'a']));
  t.match(await send(A.privateKey, 'a'), { status: 200 });
  advance(31_000); // one refresh is allowed again
  for (let i = 0; i < 25; i++) {
    const r = await send(attacker.privateKey, `kid-${i}`);
    t.equal(r.status, 401, `forged token ${i} is refused`);
  }
  t.ok(keys.hits.length <= 2, `at most one refetch for 25 unknown kids (fetches: ${keys.hits.length})`);
  t.equal(up.received.length, 1, 'only the genuine delivery reached the upstream');
});

t.test('attack: a key URL named by the token (jku) is never fetched', async (t) => {
  const A = rsa();
  const attacker = rsa();
  const evil = await keyServer();
  t.teardown(() => evil.close());
  evil.serve(200, jwks([attacker.publicKey, 'x']));
  const { keys, up, send } = await setup(t);
  keys.serve(200, jwks([A.publicKey, 'a']));
  const r = await send(attacker.privateKey, 'x', undefined, { jku: `${evil.url}/jwks.json` });
  t.equal(r.status, 401);
  t.equal(evil.hits.length, 0, "the token's jku was never fetched");
  t.equal(up.received.length, 0);
});

t.test('attack: a redirect to another origin is not followed; the route answers 503 keys_unavailable', async (t) => {
  const A = rsa();
  const evil = await keyServer();
  t.teardown(() => evil.close());
  evil.serve(200, jwks([A.publicKey, 'a']));
  const { keys, up, send } = await setup(t);
  keys.serve(302, '', { location: `${evil.url}/jwks.json` });
  const r = await send(A.privateKey, 'a');
  t.equal(r.status, 503);
  t.equal(r.outcome, 'keys_unavailable');
  t.equal(evil.hits.length, 0, 'the other origin was never asked');
  t.equal(up.received.length, 0);
});

t.test('a key set over the size cap is refused (503), not parsed', async (t) => {
  const A = rsa();
  const { keys, up, send } = await setup(t);
  keys.serve(200, JSON.stringify({ keys: [], pad: 'x'.repeat(300 * 1024) }));
  const r = await send(A.privateKey, 'a');
  t.equal(r.status, 503);
  t.equal(r.outcome, 'keys_unavailable');
  t.equal(up.received.length, 0);
});

t.test('a body that does not match the token is refused even with a fetched key', async (t) => {
  const A = rsa();
  const { keys, up, gw } = await setup(t);
  keys.serve(200, jwks([A.publicKey, 'a']));
  const iat = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ body_sha256: sha(Buffer.from('{"amount":1}')) }).setProtectedHeader({ alg: 'RS256', kid: 'a' }).setIssuer(ISS).setIssuedAt(iat).sign(A.privateKey);
  const res = await request(`${gw.url}/jwt`, { method: 'POST', headers: { 'x-signature-jwt': token }, body: '{"amount":1000}' });
  t.equal(res.statusCode, 401);
  t.equal(res.headers['hookgate-outcome'], 'signature_invalid');
  await res.body.text();
  t.equal(up.received.length, 0);
});
