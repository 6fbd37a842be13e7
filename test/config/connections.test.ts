// Connection URLs can come from env:/file: (a password stays out of the config file and ConfigMap);
// ledger.schema and the lease/timeout warning.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig, ConfigError } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'hookgate-conn-'));
// stripe: a scheme that signs a timestamp and an id, so no route warning joins the ones asserted here
const route = { path: '/a', provider: 'stripe', tenant: 'acme', secrets: ['env:G'] };
const load = (doc: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) =>
  resolveConfig({ upstream: { url: 'http://127.0.0.1:8000' }, routes: [route], ...doc }, { env: { G: 'g', ...env }, baseDir: dir });
const problems = (f: () => unknown): string[] => {
  try {
    f();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

t.test('ledger.url from an env var and limits.store from a file', async (t) => {
  writeFileSync(join(dir, 'redis-url'), 'redis://:s3cret@redis.internal:6379\n');
  const { config, warnings } = load({ ledger: { url: 'env:LEDGER_URL', schema: 'hookgate' }, limits: { store: 'file:redis-url' } }, { LEDGER_URL: 'postgres://app:pw@db:26257/hooks' });
  t.equal(config.ledger.url, 'postgres://app:pw@db:26257/hooks');
  t.equal(config.ledger.schema, 'hookgate');
  t.equal(config.limits.store, 'redis://:s3cret@redis.internal:6379');
  t.same(warnings, [], 'no literal-secret warning for a reference');
});

t.test('a reference that is unset or holds the wrong thing is named, without its value', async (t) => {
  t.match(problems(() => load({ ledger: { url: 'env:NOPE' } })), [/ledger\.url: env var NOPE is not set/]);
  const p = problems(() => load({ limits: { store: 'env:STORE' } }, { STORE: 'mysql://root:hunter2@x' }));
  t.match(p, [/limits\.store: env:STORE holds something that is not memory or redis:\/\/…/]);
  t.notMatch(p.join('\n'), /hunter2/);
});

t.test('ledger.schema only with postgres, and only a plain identifier', async (t) => {
  t.match(problems(() => load({ ledger: { schema: 'hookgate' } })), [/ledger\.schema: only applies to a postgres:\/\/ ledger/]);
  t.match(problems(() => load({ ledger: { url: 'postgres://x/y', schema: 'a;drop' } })), [/ledger\.schema: expected/]);
});

t.test('a lease shorter than the upstream timeout is warned about', async (t) => {
  const { warnings } = load({ ledger: { lease: '5s' }, upstream: { url: 'http://127.0.0.1:8000', timeout: '30s' } });
  t.match(warnings, [/ledger\.lease: 5s is shorter than upstream\.timeout 30s/]);
});

t.test('generic: an idempotency header that is the signed timestamp header is accepted; any other is refused', async (t) => {
  const generic = { header: 'X-Sig', timestampHeader: 'X-Ts' };
  const signed = resolveConfig({ upstream: { url: 'http://127.0.0.1:8000' }, routes: [{ path: '/g', provider: 'generic', tenant: 'acme', secrets: ['env:G'], generic, idempotencyKey: 'header:X-Ts' }] }, { env: { G: 'g' }, baseDir: dir });
  t.same(signed.warnings.filter((w) => /idempotencyKey/.test(w)), []);
  const unsigned = () => resolveConfig({ upstream: { url: 'http://127.0.0.1:8000' }, routes: [{ path: '/g', provider: 'generic', tenant: 'acme', secrets: ['env:G'], generic, idempotencyKey: 'header:X-Id' }] }, { env: { G: 'g' }, baseDir: dir });
  t.match(problems(unsigned), [/routes\[0\]\.idempotencyKey: header x-id is not covered by the generic signature \(it covers x-ts\).*or one of those headers/]);
});
