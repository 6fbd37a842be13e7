// Connection URLs with passwords (ledger.url, limits.store) through the chart: the recommended form
// is the whole URL in the Secret and `file:/var/run/secrets/hookgate/<key>` in the config, so the
// ConfigMap never holds a password. Rendered by a real helm; the rendered config is then loaded by
// the gateway itself, with the Secret's keys as files, as the pod would see them.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { resolveConfig } from '../../src/config/load.js';
import { chartDir, render, type Manifest, type Rendered } from '../helpers/helm.js';

const MOUNT = '/var/run/secrets/hookgate/';
const LEDGER_URL = 'postgresql://hookgate:Pg-pw-7f3a9c@cockroachdb-public:26257/hookgate?sslmode=require';
const STORE_URL = 'redis://:Redis-pw-41b2e8@redis-master:6379/2';
const secretValues = { 'ledger-url': LEDGER_URL, 'limits-store': STORE_URL, stripe: 'whsec_chart_conn_0123456789' };
const config = {
  ledger: { url: `file:${MOUNT}ledger-url` },
  limits: { store: `file:${MOUNT}limits-store` },
  routes: [{ path: '/webhooks/stripe', provider: 'stripe', tenant: 'acme', secrets: [`file:${MOUNT}stripe`] }],
};
const values = { hookgate: { config, secrets: { values: secretValues } } };
const PASSWORDS = ['Pg-pw-7f3a9c', 'Redis-pw-41b2e8'];

const hookgateYaml = (r: Rendered): string => r.get('ConfigMap').data['hookgate.yaml'];
const hg = (r: Rendered): Manifest => r.get('Deployment').spec.template.spec.initContainers[0];

t.test('ledger.url and limits.store from files of the Secret: no password in the ConfigMap', async (t) => {
  const r = render(chartDir, values);
  if (!t.equal(r.status, 0, 'helm template accepts the file form', { stderr: r.stderr })) return;
  const yaml = hookgateYaml(r);
  const rendered = parse(yaml);
  t.equal(rendered.ledger.url, `file:${MOUNT}ledger-url`, 'the ConfigMap holds the reference');
  t.equal(rendered.limits.store, `file:${MOUNT}limits-store`);
  for (const pw of PASSWORDS) {
    t.notOk(yaml.includes(pw), `the ConfigMap does not hold ${pw}`);
    const outsideTheSecret = JSON.stringify(r.docs.filter((d) => d.kind !== 'Secret'));
    t.notOk(outsideTheSecret.includes(pw), 'nor does any other manifest but the Secret');
  }
  const secret = r.get('Secret');
  t.equal(Buffer.from(secret.data['ledger-url'], 'base64').toString(), LEDGER_URL, 'the URL is a key of the chart\'s Secret');
  t.same(hg(r).volumeMounts.find((m: Manifest) => m.name === 'hookgate-secrets'), { name: 'hookgate-secrets', mountPath: '/var/run/secrets/hookgate', readOnly: true }, 'mounted where the reference points');

  // The gateway reads the rendered config as the pod would: the Secret's keys as files.
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-chart-conn-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [k, v] of Object.entries(secretValues)) writeFileSync(join(dir, k), `${v}\n`);
  const loaded = resolveConfig(parse(yaml.split(MOUNT).join(`${dir}/`)), { env: {}, baseDir: dir });
  t.equal(loaded.config.ledger.url, LEDGER_URL, 'the gateway connects with the URL from the Secret');
  t.equal(loaded.config.limits.store, STORE_URL);
});

t.test('the pods roll when such a URL changes (it is read at start, not hot-reloaded)', async (t) => {
  const annotation = (r: Rendered) => r.get('Deployment').spec.template.metadata.annotations['checksum/hookgate-secret-env'];
  const a = render(chartDir, values);
  const b = render(chartDir, { hookgate: { config, secrets: { values: { ...secretValues, 'ledger-url': LEDGER_URL.replace('Pg-pw-7f3a9c', 'Pg-pw-rotated') } } } });
  t.equal(a.status, 0, a.stderr);
  t.ok(annotation(a), 'a checksum of the chart-made Secret is on the pod template');
  t.not(annotation(a), annotation(b), 'and changes with the URL');
});

t.test('with an existingSecret, the file form renders too', async (t) => {
  const r = render(chartDir, { hookgate: { config, secrets: { existingSecret: 'team-hookgate' } } });
  t.equal(r.status, 0, r.stderr);
  t.same(r.all('Secret'), []);
  t.equal(parse(hookgateYaml(r)).ledger.url, `file:${MOUNT}ledger-url`);
});

t.test('a reference the pod could not read is refused at render time', async (t) => {
  const none = render(chartDir, { hookgate: { config } });
  t.not(none.status, 0);
  t.match(none.stderr, /hookgate\.config\.ledger\.url reads file:\/var\/run\/secrets\/hookgate\/ledger-url, but no Secret is mounted there/);
  const missingKey = render(chartDir, { hookgate: { config, secrets: { values: { 'ledger-url': LEDGER_URL, stripe: 'x' } } } });
  t.not(missingKey.status, 0);
  t.match(missingKey.stderr, /hookgate\.config\.limits\.store reads file:\/var\/run\/secrets\/hookgate\/limits-store, but hookgate\.secrets\.values has no key limits-store/);
  t.notMatch(missingKey.stderr, /Pg-pw/, 'no value in the error');
});

t.test('a password written into either URL is refused, pointing at the file form', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ limits: { store: STORE_URL } }, /limits\.store carries a password.*file:\/var\/run\/secrets\/hookgate\/limits-store/],
    [{ ledger: { url: LEDGER_URL } }, /ledger\.url carries a password.*file:\/var\/run\/secrets\/hookgate\/ledger-url/],
    [{ ledger: { url: 'postgres://hookgate@db:5432/hooks?sslmode=require&password=Pg-pw-7f3a9c' } }, /ledger\.url carries a password/],
  ];
  for (const [extra, message] of cases) {
    const r = render(chartDir, { hookgate: { config: { routes: config.routes, ...extra }, secrets: { values: { stripe: 'x' } } } });
    t.not(r.status, 0, JSON.stringify(extra));
    t.match(r.stderr, message);
    for (const pw of PASSWORDS) t.notOk(r.stderr.includes(pw), 'the error does not repeat the password');
  }
});
