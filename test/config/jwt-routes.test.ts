// Route configuration of the JWT, certificate-URL and handshake providers as `check` sees it: what a
// token that does not bind the body forbids (json: keys and tenants) and says (warnings), JWKS routes
// without secrets, and refusals naming the field.
import t from 'tap';
import { resolveConfig, ConfigError } from '../../src/config/load.js';

const base = (route: Record<string, unknown>) => ({ upstream: { url: 'http://127.0.0.1:1' }, routes: [{ path: '/h', tenant: 'acme', ...route }] });
const load = (route: Record<string, unknown>, env: Record<string, string> = {}) => resolveConfig(base(route), { env, baseDir: process.cwd() });
const problems = (route: Record<string, unknown>, env: Record<string, string> = {}) => {
  try {
    load(route, env);
    return [];
  } catch (err) {
    return (err as ConfigError).problems;
  }
};

t.test('google-pubsub: JWKS from Google without secrets; check says the token does not bind the body', async (t) => {
  const { config, warnings } = load({ provider: 'google-pubsub', jwt: { audience: 'https://hooks.example.com/push' } });
  t.equal(config.routes[0]!.options.jwt!.jwksUrl!.href, 'https://www.googleapis.com/oauth2/v3/certs');
  t.match(warnings.join('\n'), /proves Google sent the request, not what the body holds; the key is the body's digest/);
  t.match(problems({ provider: 'google-pubsub', jwt: { audience: 'a' }, idempotencyKey: 'json:message.messageId' }).join('\n'), /routes\[0\]\.idempotencyKey: google-pubsub does not sign the body/);
  t.match(problems({ provider: 'google-pubsub', jwt: { audience: 'a' }, tenant: 'json:subscription' }).join('\n'), /routes\[0\]\.tenant: google-pubsub does not sign the body/);
});

t.test('a token with a body-hash claim covers the body: json: keys are allowed', async (t) => {
  const { warnings } = load({ provider: 'jwt', secrets: ['env:S'], jwt: { algorithms: ['HS256'], bodyHashClaim: 'body_sha256', requireIat: true }, idempotencyKey: 'json:id' }, { S: 'x' });
  t.notMatch(warnings.join('\n'), /does not cover the body/);
  t.match(problems({ provider: 'jwt', secrets: ['env:S'], jwt: { algorithms: ['HS256'] }, idempotencyKey: 'json:id' }, { S: 'x' }).join('\n'), /jwt does not sign the body/);
});

t.test('refusals name the field', async (t) => {
  t.match(problems({ provider: 'stripe', secrets: ['x'], jwt: { audience: 'a' } }).join('\n'), /routes\[0\]\.jwt: only allowed with a JWT provider/);
  t.match(problems({ provider: 'stripe' }).join('\n'), /routes\[0\]\.secrets: is required/);
  t.match(problems({ provider: 'azure-event-grid', jwt: { audience: 'a' } }).join('\n'), /routes\[0\]\.jwt\.issuer: is required for azure-event-grid/);
  t.match(problems({ provider: 'jwt', jwt: { algorithms: ['RS256'], jwksUrl: 'https://user:pw@keys.example.com/jwks' } }).join('\n'), /must not carry credentials/);
  t.match(problems({ provider: 'x-nope' as string, secrets: ['x'], handshake: { kind: 'x-crc' } }).join('\n'), /provider/);
  t.match(problems({ provider: 'github', secrets: { a: ['x'] }, tenant: 'param:t', path: '/h/:t', handshake: { kind: 'x-crc' } }).join('\n'), /x-crc handshake answers with the route's secret/);
  t.match(problems({ provider: 'paypal', secrets: ['has space'] }).join('\n'), /webhook's id/);
});
