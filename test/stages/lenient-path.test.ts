// The lenient reduction of a path: every spelling a forgiving router reads as a route's path is
// recognised; other paths are not.
import t from 'tap';
import fc from 'fast-check';
import { lenientMatcher, lenientPath } from '../../src/stages/lenient-path.js';

t.test('reductions', async (t) => {
  const cases: [string, string[], boolean?][] = [
    ['/webhooks/github', ['webhooks', 'github']],
    ['/WebHooks//GitHub/', ['webhooks', 'github']],
    ['/webhooks/./github', ['webhooks', 'github']],
    ['/%2e/webhooks/%2E%2e/webhooks/github', ['webhooks', 'github']],
    ['/webhooks\\github', ['webhooks', 'github']],
    ['/webhooks%2fgithub%5C', ['webhooks', 'github']],
    ['/webhooks/github;jsessionid=1', ['webhooks', 'github']],
    ['/webhooks/..;/webhooks/github', ['webhooks', 'github']],
    ['/webhooks/%252e%252e/x', ['x']],
    ['/webhooks/github.. ', ['webhooks', 'github']],
    [Buffer.from('/ｗebhooks/github').toString('latin1'), ['webhooks', 'github']],
    ['/%EF%BD%97ebhooks/github', ['webhooks', 'github']],
    ['/caf%C3%A9/x', ['café', 'x']],
    ['/webhooks/github?x=/../y#z', ['webhooks', 'github']],
    ['/../webhooks', ['webhooks'], true],
    ['/a/%2e%2e/%2e%2e/b', ['b'], true],
    ['/a/%zz/%E0%A4', ['a', '%zz', '\uFFFD']],
    ['/webhooks/github%00.png', ['webhooks', 'github']],
  ];
  for (const [path, segments, climbs = false] of cases) {
    t.same(lenientPath(path), { segments, climbs }, path);
  }
});

t.test('route paths, :params and forwardTo targets', async (t) => {
  const near = lenientMatcher(['/webhooks/github', '/p/:tenant/:kind', '/legacy/hook.php/', '/files/*', '/café']);
  const m = (p: string) => near(lenientPath(p).segments);
  for (const p of ['/webhooks/github', '/WEBHOOKS/GITHUB/', '/webhooks/github.json', '/p/acme/GitHub/', '/P/x/y', '/legacy/HOOK.PHP', '/legacy/hook.php.bak', '/files/a/b/c', '/CAF%C3%A9/', Buffer.from('/CAFÉ').toString('latin1')])
    t.ok(m(p), `${p} is a route's path to a lenient router`);
  for (const p of ['/webhooks/gitlab', '/webhooks/github/status', '/webhooks', '/p/acme', '/p/acme/github/extra', '/legacy/hook', '/files', '/', '/webhooks/githubx'])
    t.notOk(m(p), `${p} is not`);
});

// Any spelling built from the route's segments by the rules of some lenient router reduces to it.
const segment = fc.stringMatching(/^[a-z0-9_-]{1,8}$/);
const spell = (seg: string) =>
  fc.tuple(fc.array(fc.boolean(), { minLength: seg.length, maxLength: seg.length }), fc.array(fc.boolean(), { minLength: seg.length, maxLength: seg.length })).map(([upper, encode]) =>
    [...seg].map((c, i) => {
      const ch = upper[i] ? c.toUpperCase() : c;
      return encode[i] ? `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}` : ch;
    }).join(''),
  );
const noise = fc.constantFrom('', '/', './', '%2e/', '\\', '//', 'zz/../', '.;/');

t.test('property: every lenient spelling of a route path is recognised', async (t) => {
  fc.assert(
    fc.property(
      fc.array(segment, { minLength: 1, maxLength: 4 }).chain((segs) =>
        fc.tuple(fc.constant(segs), fc.tuple(...segs.map(spell)), fc.array(noise, { minLength: segs.length, maxLength: segs.length }), fc.constantFrom('', '/', ';x', '/.', '//')),
      ),
      ([segs, spelled, noises, tail]) => {
        const route = '/' + segs.join('/');
        const path = '/' + spelled.map((s, i) => noises[i] + s).join('/') + tail;
        return lenientMatcher([route])(lenientPath(path).segments);
      },
    ),
  );
  t.pass('no counterexample');
});

t.test('property: a path with a different segment is not a route path', async (t) => {
  fc.assert(
    fc.property(fc.array(segment, { minLength: 1, maxLength: 4 }), segment, fc.nat(), (segs, other, at) => {
      const i = at % segs.length;
      fc.pre(other !== segs[i] && !other.startsWith(segs[i] + '.'));
      const changed = segs.map((s, j) => (j === i ? other : s));
      return !lenientMatcher(['/' + segs.join('/')])(lenientPath('/' + changed.join('/')).segments);
    }),
  );
  t.pass('no counterexample');
});
