// The error catalogue and README's table stay in step: every code with its status, and nothing extra.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { CATALOGUE, errorBody, type ErrorCode } from '../src/errors.js';

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

t.test('an error body says its code and message, the same however often and however many messages come', async (t) => {
  const codes = Object.keys(CATALOGUE) as ErrorCode[];
  // past the bound of remembered bodies: messages that name what a request sent (quotes, newlines) are many
  const wrong: string[] = [];
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 700; i++) {
      const code = codes[i % codes.length]!;
      const message = `refused "${i}"\n\\ ${'x'.repeat(i % 7)}`;
      const body = JSON.parse(errorBody(code, message)) as { error: string; message: string };
      if (body.error !== code || body.message !== message || Object.keys(body).length !== 2) wrong.push(`${code} ${i}: ${JSON.stringify(body)}`);
    }
  }
  t.same(wrong, [], '1,400 bodies, 700 messages');
  for (const code of codes) t.same(JSON.parse(errorBody(code)), { error: code, message: CATALOGUE[code].message });
  t.same(JSON.parse(errorBody('payload_invalid', 'no', { pointer: '/a', rule: 'type' })), { error: 'payload_invalid', message: 'no', pointer: '/a', rule: 'type' });
  t.same(JSON.parse(errorBody('payload_invalid', 'no')), { error: 'payload_invalid', message: 'no' }, 'details are not remembered for the next body');
});
