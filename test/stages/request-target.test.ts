// The pure parts of the request-target stage: which targets, Hosts and parameters are refused, and
// the upstream path built from a route.
import t from 'tap';
import { paramProblem, targetProblem, upstreamPath } from '../../src/stages/request-target.js';

t.test('targets and Host', async (t) => {
  t.equal(targetProblem('/webhooks/github?x=1', ['Host', 'a']), null);
  t.match(targetProblem('http://evil/webhooks/github', ['Host', 'a']), /absolute/);
  t.match(targetProblem('*', []), /absolute URL or \*/);
  t.match(targetProblem('/webhooks/github#x', ['Host', 'a']), /fragment/);
  t.match(targetProblem('/x', ['Host', 'a', 'X-Other', 'b', 'HOST', 'c']), /more than one Host/);
});

t.test('parameters', async (t) => {
  for (const ok of ['acme', 'push event', 'a.b', '...', 'caf\u00e9', '%41']) t.equal(paramProblem(ok), null, JSON.stringify(ok));
  for (const bad of ['', '.', '..', '../../admin/delete', 'a\\b', 'a\0b', 'x%2Fy', 'x%5cy', 'x%00', '%2e', '%2E%2e', '.%2e'])
    t.type(paramProblem(bad), 'string', JSON.stringify(bad));
});

t.test('the upstream path is the route\'s', async (t) => {
  t.equal(upstreamPath({ path: '/webhooks/github', forwardTo: null })({}), '/webhooks/github');
  t.equal(upstreamPath({ path: '/webhooks/:tenant', forwardTo: '/legacy/' })({ tenant: 'acme' }), '/legacy/');
  const p = upstreamPath({ path: '/p/:tenant/:kind/x', forwardTo: null });
  t.equal(p({ tenant: 'acme', kind: 'github' }), '/p/acme/github/x');
  t.equal(p({ tenant: 'a b', kind: 'caf\u00e9;?#' }), '/p/a%20b/caf%C3%A9%3B%3F%23/x', 'each parameter stays one segment');
});
