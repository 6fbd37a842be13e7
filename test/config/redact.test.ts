import t from 'tap';
import { redactCredentials } from '../../src/config/redact.js';

t.test('the user information of every URL-like value is replaced', async (t) => {
  const cases: [string, string][] = [
    ['ledger.url: got "postgres://user:secret@db:5432/x"', 'ledger.url: got "postgres://***@db:5432/x"'],
    ['postgress://u:p@ss/word@db/x', 'postgress://***@db/x'],
    ['redis://:pw@cache:6379', 'redis://***@cache:6379'],
    ['redis://justapassword@cache', 'redis://***@cache'],
    ['postgres:user:pw@db', 'postgres:***@db'],
    ['redis:/:pw@cache', 'redis:/***@cache'],
    ['user:pw@host', '***@host'],
    ['redis//default:pw@cache:6379', 'redis//***@cache:6379'],
    ["a: 'x://a:b@h', b: \"y://c:d@i\"", "a: 'x://***@h', b: \"y://***@i\""],
  ];
  for (const [input, want] of cases) t.equal(redactCredentials(input), want, input);
});

t.test('text without credentials is unchanged', async (t) => {
  for (const s of ['ops@example.com is on call', 'postgres://db:5432/x', 'embedded:/var/lib/hookgate/ledger.db', 'routes[0].path: /a@b is fine', '@', 'a@'])
    t.equal(redactCredentials(s), s, s);
});
