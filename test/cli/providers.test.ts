// `hookgate providers [--json]` lists the registry (CONTRACT.md: name, family, signature headers, id
// source, default tolerance, documentation URL; --json objects with at least name, family, docs and
// aliases where a provider has other names), docs/providers.md is exactly what the registry generates,
// and `hookgate sign` signs every data provider so that it verifies.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { repoRoot } from '../helpers/helm.js';
import { PROVIDER_NAMES, getScheme } from '../../src/providers/index.js';
import { renderProvidersDoc } from '../../src/cli/providers-doc.js';
import { BODY } from '../../src/providers/presets/body.js';
import { KEYED_HASH } from '../../src/providers/presets/keyed-hash.js';
import { TIMESTAMPED } from '../../src/providers/presets/timestamped.js';
import { TOKEN } from '../../src/providers/presets/token.js';
import { URL_SIGNED } from '../../src/providers/presets/url-signed.js';

// the providers whose SDK allows a wider window than the default, and its size (box-node-sdk validateMessage
// maxAge 600 s, cloudinary verifyNotificationSignature valid_for 7200 s, elevenlabs constructEvent 30 min)
const OWN_WINDOW: Record<string, string> = { box: '10m', cloudinary: '2h', elevenlabs: '30m' };

t.test('--json: one object a provider, with name, family, docs, headers, id, tolerance, and aliases where any', async (t) => {
  const r = await runCli(['providers', '--json']);
  t.equal(r.code, 0, r.err);
  const list = JSON.parse(r.out) as { name: string; family: string; docs: string; aliases?: string[]; headers: string[]; id: string; tolerance: string | null }[];
  t.same(list.map((p) => p.name), PROVIDER_NAMES, 'every registered provider, in order');
  for (const p of list) {
    t.ok(p.family && p.docs && p.headers.length && p.id, `${p.name}: family, docs, headers, id`);
    t.equal(p.tolerance, getScheme(p.name)!.info!.timestamp ? (OWN_WINDOW[p.name] ?? '5m') : null, `${p.name}: tolerance where a timestamp is signed`);
  }
  t.same(list.find((p) => p.name === 'gitea')!.aliases, ['forgejo']);
  t.notOk('aliases' in list.find((p) => p.name === 'razorpay')!, 'no aliases key where there are none');
  const stripe = list.find((p) => p.name === 'stripe')!;
  t.match(stripe, { family: 'hmac', id: 'json:id', tolerance: '5m', headers: ['Stripe-Signature'] });
  t.match(stripe.docs, /^https:\/\/docs\.stripe\.com\//);
});

t.test('the table: a header line, one line a provider, the count', async (t) => {
  const r = await runCli(['providers']);
  t.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  t.match(lines[0], /^NAME\s+FAMILY\s+SIGNATURE HEADERS\s+ID\s+TOLERANCE\s+DOCS$/);
  t.match(r.out, /^box\s+hmac\s+box-signature-primary, box-signature-secondary\s+digest\s+10m\s+https/m, "box's own window in the table");
  t.equal(lines.length, PROVIDER_NAMES.length + 2);
  t.match(r.out, /^razorpay\s+hmac\s+x-razorpay-signature\s+digest\s+-\s+https:\/\/razorpay\.com\//m);
  t.match(r.out, /^revolut\s+hmac\s+revolut-signature\s+digest\s+5m\s+https:/m);
  t.equal(lines.at(-1), `${PROVIDER_NAMES.length} providers`);
});

t.test('docs/providers.md is what the registry generates (npm run docs:providers)', async (t) => {
  const doc = readFileSync(join(repoRoot, 'docs', 'providers.md'), 'utf8');
  t.ok(doc === renderProvidersDoc(), 'docs/providers.md is up to date; run npm run docs:providers');
  for (const name of PROVIDER_NAMES) t.ok(doc.includes(`\n## ${name}\n`) && doc.includes(`    provider: ${name}\n`), `${name}: a section with a minimal route`);
});

t.test('hookgate sign output verifies for every data provider', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-providers-'));
  for (const p of [...BODY, ...KEYED_HASH, ...TIMESTAMPED, ...TOKEN, ...URL_SIGNED]) {
    const f = join(dir, `${p.name}.json`);
    writeFileSync(f, p.vector.body);
    const r = await runCli(['sign', '--provider', p.name, '--secret', p.vector.secret, '--body', f, '--timestamp', '1700000000', '--id', 'msg_cli_1', '--url', 'https://hooks.example.com/hook']);
    t.equal(r.code, 0, `${p.name}: ${r.err}`);
    const headers = Object.fromEntries(r.out.trim().split('\n').map((l) => [l.slice(0, l.indexOf(': ')).toLowerCase(), l.slice(l.indexOf(': ') + 2)]));
    const s = getScheme(p.name)!;
    const opts = { toleranceMs: 300_000, publicUrl: 'https://hooks.example.com/hook' };
    const v = s.verify({ method: 'POST', url: '/hook', headers, body: Buffer.from(p.vector.body) }, [s.key(p.vector.secret, opts)], opts, 1_700_000_000_000);
    t.ok(v.ok, `${p.name}: ${JSON.stringify(v)}`);
  }
});

t.test('a reader that stops early (hookgate providers | head) ends the output: exit 0, no stack trace', async (t) => {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'hookgate.js'), 'providers'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  // close the pipe before anything is read, as `head` does once it has its lines: every write fails
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  t.equal(code, 0, 'exit 0');
  t.notMatch(err, /EPIPE|at .*\.js/, 'nothing on stderr about the closed pipe');
});
