// The error catalogue and README's table stay in step: every code with its status, and nothing extra.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { CATALOGUE } from '../src/errors.js';

t.test('README lists every code of the catalogue with its status', async (t) => {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## Answers hookgate makes itself'));
  const rows = [...section.matchAll(/^\| (\d{3}|the first status) \| `([a-z_]+)` \|/gm)].map((m) => [m[2]!, m[1]!] as const);
  const table = new Map(rows);
  for (const [code, { status }] of Object.entries(CATALOGUE)) t.equal(table.get(code), String(status), `${code} is ${status} in README`);
  const extra = rows.filter(([code]) => !(code in CATALOGUE) && code !== 'duplicate');
  t.same(extra, [], 'README names no code the catalogue lacks');
  t.equal(table.get('duplicate'), 'the first status');
});

t.test('every code is snake_case and every message is a sentence without a secret placeholder', async (t) => {
  for (const [code, { message, status }] of Object.entries(CATALOGUE)) {
    t.match(code, /^[a-z]+(_[a-z]+)*$/);
    t.ok(status >= 400 && status < 600);
    t.notMatch(message, /expected|secret/i);
  }
});
