// The chart's add-ons for a platform team (CONTRACT.md, Operations): prometheusRule.enabled (the
// alerts of docs/operations.md, each with a runbook line) and grafanaDashboard.enabled (a ConfigMap
// labelled grafana_dashboard: "1"). Beyond rendering: every metric an alert or a dashboard query
// names exists in the /metrics of a real `hookgate run` after some traffic, so renaming a metric
// fails here; every outcome they name is a hookgate-outcome code; and the rules pass
// `promtool check rules` where promtool is installed (Debian's prometheus package ships it).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { request } from 'undici';
import Stripe from 'stripe';
import { chartDir, helm, render, repoRoot, type Manifest } from '../helpers/helm.js';
import { spawnHookgate } from '../helpers/hookgate-process.js';
import { startUpstream } from '../helpers/upstream.js';
import { CATALOGUE } from '../../src/errors.js';

const RULES_FILE = join(chartDir, 'files', 'prometheus-rules.yaml');
const DASHBOARD_FILE = join(chartDir, 'files', 'grafana-dashboard.json');
type Rule = { alert: string; expr: string; for?: string; labels: Record<string, string>; annotations: Record<string, string> };
const rulesOf = (spec: { groups: { name: string; rules: Rule[] }[] }) => spec.groups.flatMap((g) => g.rules);
const fileRules = () => parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
const dashboardExprs = (d: { panels: { targets?: { expr: string }[] }[] }) => d.panels.flatMap((p) => (p.targets ?? []).map((x) => x.expr));

/** hookgate_* names in PromQL (label values and strings hold none). */
const metricNames = (exprs: string[]) => [...new Set(exprs.flatMap((e) => [...e.matchAll(/\bhookgate_[a-zA-Z0-9_:]*/g)].map((m) => m[0])))].sort();
/** Every value an outcome matcher names (`outcome="x"`, `outcome=~"a|b"`). */
const outcomeValues = (exprs: string[]) => [...new Set(exprs.flatMap((e) => [...e.matchAll(/\boutcome=~?"([^"]*)"/g)].flatMap((m) => m[1]!.split('|'))))].sort();

t.test('off by default; enabled, a PrometheusRule and a grafana_dashboard ConfigMap, also without the wrapper', async (t) => {
  const off = render(chartDir, {});
  t.equal(off.status, 0, off.stderr);
  t.same(off.all('PrometheusRule'), [], 'no PrometheusRule by default');
  t.notOk(off.all('ConfigMap').some((c) => c.metadata.labels?.grafana_dashboard), 'no dashboard by default');

  const on = render(chartDir, {
    prometheusRule: { enabled: true, labels: { release: 'kube-prometheus-stack' } },
    grafanaDashboard: { enabled: true, labels: { team: 'platform' }, annotations: { grafana_folder: 'Webhooks' } },
  });
  t.equal(on.status, 0, on.stderr);
  const rule = on.get('PrometheusRule');
  t.equal(rule.apiVersion, 'monitoring.coreos.com/v1');
  t.equal(rule.metadata.labels.release, 'kube-prometheus-stack', 'prometheusRule.labels are added (what Prometheus selects rules by)');
  t.equal(rule.metadata.labels['app.kubernetes.io/instance'], 'rel');
  t.same(rule.spec, fileRules(), 'the spec is files/prometheus-rules.yaml, unchanged by the template');

  const rules = rulesOf(rule.spec);
  t.same(new Set(rules.map((r) => r.alert)).size, rules.length, 'alert names are unique');
  for (const name of ['HookgateSignatureFailuresSpike', 'HookgateRejections', 'HookgateLedgerUnavailable', 'HookgateInternalErrors', 'HookgateUpstreamErrors', 'HookgateReadinessFlapping'])
    t.ok(rules.some((r) => r.alert === name), `${name} is there`);
  for (const r of rules) {
    t.match(r, { alert: /^Hookgate[A-Za-z]+$/, expr: /\S/, labels: { severity: /^(critical|warning|info)$/ }, annotations: { summary: /\S/, runbook: /\S{3,}.{40,}/ } }, `${r.alert}: expression, severity, summary and a runbook line`);
    t.notOk(/\n/.test(r.annotations.runbook!), `${r.alert}: the runbook is one line`);
  }

  const cm = on.all('ConfigMap').find((c) => c.metadata.labels?.grafana_dashboard === '1') as Manifest;
  t.ok(cm, 'a ConfigMap labelled grafana_dashboard: "1"');
  t.equal(cm.metadata.labels.team, 'platform');
  t.same(cm.metadata.annotations, { grafana_folder: 'Webhooks' });
  const dashboard = JSON.parse(cm.data['hookgate.json']);
  t.same(dashboard, JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')), 'holding files/grafana-dashboard.json');
  t.equal(dashboard.uid, 'hookgate');
  const titles = dashboard.panels.map((p: { title: string }) => p.title).join(' | ');
  for (const want of [/outcome/, /latency/i, /Ledger/, /Rate limited|Limit store/, /Secret matches/]) t.match(titles, want, `a panel for ${want}`);
  const exprs = dashboardExprs(dashboard);
  t.ok(exprs.length >= 15, `${exprs.length} queries`);
  t.ok(exprs.every((e) => e.includes('job=~"$job"')), 'every query follows the job variable');

  const embedded = render(chartDir, { wrapper: { enabled: false }, prometheusRule: { enabled: true }, grafanaDashboard: { enabled: true } });
  t.equal(embedded.status, 0, embedded.stderr);
  t.equal(embedded.all('PrometheusRule').length, 1, 'rendered for an embedding chart too');
  t.equal(embedded.all('ConfigMap').filter((c) => c.metadata.labels?.grafana_dashboard === '1').length, 1);

  const lint = helm(['lint', '--strict', chartDir, '--set', 'prometheusRule.enabled=true,grafanaDashboard.enabled=true']);
  t.equal(lint.status, 0, lint.stdout + lint.stderr);
  const typo = render(chartDir, { prometheusRule: { enabled: true, lables: {} } });
  t.not(typo.status, 0, 'a typo under prometheusRule fails');
  t.match(typo.stderr, /lables/);
});

t.test('docs/operations.md shows the same alerts as the chart', async (t) => {
  const md = readFileSync(join(repoRoot, 'docs', 'operations.md'), 'utf8');
  const block = /### Example alerts[\s\S]*?```yaml\n([\s\S]*?)```/.exec(md);
  t.ok(block, 'the Example alerts section has a yaml block');
  t.same(parse(block![1]!), fileRules(), 'identical to helm/hookgate/files/prometheus-rules.yaml');
});

t.test('every metric and outcome the alerts and the dashboard name exists in a running gateway\'s /metrics', async (t) => {
  const exprs = [...rulesOf(fileRules()).map((r) => r.expr), ...dashboardExprs(JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')))];
  const names = metricNames(exprs);
  t.ok(names.includes('hookgate_requests_total') && names.length >= 12, `the extraction finds the names (${names.length})`);

  const outcomes = new Set(['forwarded', 'duplicate', 'spooled', 'handshake', ...Object.keys(CATALOGUE)]);
  for (const o of outcomeValues(exprs)) t.ok(outcomes.has(o), `outcome ${o} is a hookgate-outcome code`);

  const dir = mkdtempSync(join(tmpdir(), 'hookgate-addons-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const up = await startUpstream();
  t.teardown(() => up.close());
  const secret = 'whsec_addons_0123456789';
  const file = join(dir, 'hookgate.yaml');
  // A Redis store, so hookgate_limiter_store_up is registered (it is absent with the memory store).
  // The second route spools: its metrics exist only where a route spools.
  writeFileSync(file, `listen: 127.0.0.1:0
admin: 127.0.0.1:0
upstream:
  url: ${up.url}
ledger:
  url: embedded:${join(dir, 'ledger.db')}
limits:
  store: ${process.env.HOOKGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'}
  tenants:
    acme: 1000/s
routes:
  - path: /hooks
    provider: stripe
    tenant: acme
    secrets: [env:ADDONS_SECRET]
  # a spool route, so the spool's metrics (named by its alerts) are registered
  - path: /spooled
    provider: stripe
    tenant: acme
    secrets: [env:ADDONS_SECRET]
    delivery: spool
`);
  const p = spawnHookgate(t, ['run', '--config', file], { ADDONS_SECRET: secret });
  const { traffic, admin } = await p.started();
  const stripe = new Stripe('sk_test_dummy');
  const payload = JSON.stringify({ id: `evt_addons_${Date.now()}`, type: 'invoice.paid' });
  const headers = { 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret }) };
  for (const h of [headers, headers, { ...headers, 'stripe-signature': 't=1,v1=00' }]) {
    const res = await request(`${traffic}/hooks`, { method: 'POST', headers: h, body: payload });
    await res.body.dump();
  }
  await (await request(`${admin}/readyz`)).body.dump();
  const text = await (await request(`${admin}/metrics`)).body.text();

  // A metric exists when the scrape declares it (# TYPE), its histogram series under their suffixes.
  const exposed = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    exposed.add(m[1]!);
    if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exposed.add(m[1]! + s);
  }
  for (const name of names) t.ok(exposed.has(name), `${name} is exposed`);
  t.notOk(exposed.has('hookgate_no_such_metric'), 'control: a name that is not there is not found');
});

t.test('promtool check rules, where promtool is installed', async (t) => {
  const which = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (which.error || which.status !== 0) {
    // .ci/run provides promtool and sets this: there, a missing promtool is a failure, not a skip
    if (process.env.HOOKGATE_TEST_REQUIRE_PROMTOOL === '1') t.fail('promtool is not on PATH, and HOOKGATE_TEST_REQUIRE_PROMTOOL=1 (.ci/run) requires it');
    else t.plan(0, 'promtool is not on PATH (Debian/Ubuntu: apt-get install prometheus)');
    return;
  }
  const checked = spawnSync('promtool', ['check', 'rules', RULES_FILE], { encoding: 'utf8' });
  t.equal(checked.status, 0, checked.stdout + checked.stderr);
  t.match(checked.stdout, new RegExp(`SUCCESS: ${rulesOf(fileRules()).length} rules found`));
  // And what the chart renders, read back as a rule file.
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-promtool-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const rendered = render(chartDir, { prometheusRule: { enabled: true } }).get('PrometheusRule');
  writeFileSync(join(dir, 'rendered.yaml'), JSON.stringify(rendered.spec));
  const again = spawnSync('promtool', ['check', 'rules', join(dir, 'rendered.yaml')], { encoding: 'utf8' });
  t.equal(again.status, 0, again.stdout + again.stderr);
});
