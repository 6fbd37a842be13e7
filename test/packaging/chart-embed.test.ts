// The embedding use: a team's own chart (test/fixtures/embed-chart) depends on hookgate's chart
// through a file:// dependency and includes the sidecar's named templates in its own pod spec.
import t from 'tap';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { chartDir, helm, render, repoRoot, type Manifest } from '../helpers/helm.js';

// A copy of the repository's layout (helm/hookgate beside test/fixtures/embed-chart), so the
// fixture's `repository: file://../../../helm/hookgate` resolves as it does in the repo, without
// writing charts/ or Chart.lock into the working tree.
const work = mkdtempSync(join(tmpdir(), 'hookgate-embed-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
cpSync(chartDir, join(work, 'helm', 'hookgate'), { recursive: true });
const teamChart = join(work, 'test', 'fixtures', 'embed-chart');
cpSync(join(repoRoot, 'test', 'fixtures', 'embed-chart'), teamChart, { recursive: true });
rmSync(join(teamChart, 'charts'), { recursive: true, force: true });

const byName = (list: Manifest[] | undefined, name: string) => (list ?? []).find((c) => c.name === name);

t.test('helm dependency update resolves the file:// dependency on this chart', async (t) => {
  const r = helm(['dependency', 'update', teamChart]);
  t.equal(r.status, 0, r.stdout + r.stderr);
  t.ok(existsSync(join(teamChart, 'charts', 'hookgate-0.1.0.tgz')), 'charts/hookgate-0.1.0.tgz');
});

t.test('the team\'s Deployment gets the sidecar, its volumes and its checksum; hookgate renders only its ConfigMap', async (t) => {
  const r = render(teamChart, {}, [], 'shop');
  if (!t.equal(r.status, 0, r.stderr)) return;
  t.same(r.docs.map((d) => `${d.kind}/${d.metadata.name}`).sort(),
    ['ConfigMap/shop-hookgate-config', 'Deployment/shop-web', 'Service/shop-web'],
    'no Deployment, Service or ServiceAccount of hookgate\'s own (wrapper.enabled: false)');
  const spec = r.get('Deployment').spec.template.spec;
  t.same(spec.initContainers.map((c: Manifest) => c.name), ['hookgate']);
  const hg = spec.initContainers[0];
  t.equal(hg.restartPolicy, 'Always', 'a native sidecar');
  t.equal(hg.image, 'registry.example.com/hookgate:0.1.0', 'the team\'s values reach the sidecar');
  t.equal(hg.securityContext.readOnlyRootFilesystem, true, 'hardened like in the wrapper');
  t.same(hg.readinessProbe.httpGet, { path: '/readyz', port: 'admin' });
  t.same(spec.containers.map((c: Manifest) => c.name), ['web']);

  const configMap = r.get('ConfigMap');
  t.equal(byName(spec.volumes, 'hookgate-config')!.configMap.name, configMap.metadata.name,
    'the sidecar mounts the ConfigMap the dependency rendered (both sides agree on its name)');
  t.equal(byName(spec.volumes, 'hookgate-secrets')!.secret.secretName, 'shop-webhook-secrets', 'the team\'s existing Secret, as files');
  t.same(byName(hg.env, 'PGPASSWORD')!.valueFrom, { secretKeyRef: { name: 'shop-webhook-secrets', key: 'cockroach-password' } });
  const config = parse(configMap.data['hookgate.yaml']);
  t.equal(config.upstream.url, 'http://127.0.0.1:8000');
  t.match(config.ledger.url, /^postgresql:\/\/hookgate@cockroachdb-public/);
  const checksum = r.get('Deployment').spec.template.metadata.annotations['checksum/hookgate-config'];
  t.equal(checksum, createHash('sha256').update(configMap.data['hookgate.yaml'].replace(/\n$/, '')).digest('hex'),
    'the team\'s pods roll when hookgate\'s config changes');
  t.equal(r.get('Service').spec.ports[0].targetPort, 8080, 'the team\'s Service targets hookgate');
});

t.test('the named templates follow the dependency\'s values: plain-container fallback', async (t) => {
  const r = render(teamChart, { hookgate: { hookgate: { nativeSidecar: false } } }, [], 'shop');
  if (!t.equal(r.status, 0, r.stderr)) return;
  const spec = r.get('Deployment').spec.template.spec;
  t.notOk(spec.initContainers, 'no init container');
  t.same(spec.containers.map((c: Manifest) => c.name), ['web', 'hookgate']);
  t.equal(byName(spec.containers, 'hookgate')!.restartPolicy, undefined);
});

t.test('the dependency\'s schema still rejects a typo made in the team\'s values', async (t) => {
  const r = render(teamChart, { hookgate: { hookgate: { confg: {} } } }, [], 'shop');
  t.not(r.status, 0);
  t.match(r.stderr, /confg/);
});
