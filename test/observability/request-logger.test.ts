// A request's logger is made when it first logs: its lines carry the request's id as before, and a
// request that logs nothing of its own costs no pino child.
import t from 'tap';
import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { createLogger } from '../../src/observability/logger.js';
import { lazyChildLogger } from '../../src/observability/request-logger.js';

t.test('the child is made on the first line, with the reqId binding and the route\'s level', async (t) => {
  const lines: Record<string, unknown>[] = [];
  const base = createLogger('info', new Writable({ write: (c, _e, cb) => (lines.push(...c.toString().trim().split('\n').map((l: string) => JSON.parse(l))), cb()) }));
  let children = 0;
  // pino's child() lives on the prototype its loggers share (a child's own child() too)
  const proto = Object.getPrototypeOf(base) as { child(...a: unknown[]): unknown };
  const child = proto.child;
  proto.child = function counted(this: unknown, ...a: unknown[]) {
    children++;
    return child.apply(this, a);
  };
  t.teardown(() => void (proto.child = child));
  const app = Fastify({ loggerInstance: base as FastifyBaseLogger, childLoggerFactory: lazyChildLogger, disableRequestLogging: true });
  app.get('/quiet', async () => 'ok');
  app.get('/loud', async (request) => {
    t.equal(request.log.level, 'info', 'the level is read without making the child');
    request.log.warn({ detail: 1 }, 'first');
    request.log.info('second');
    request.log.child({ step: 'inner' }).error('third');
    return 'ok';
  });
  app.get('/debug', { logLevel: 'debug' }, async (request) => {
    request.log.debug('at debug');
    t.ok((request.log as unknown as { isLevelEnabled(l: string): boolean }).isLevelEnabled('debug'));
    return 'ok';
  });
  t.teardown(() => app.close());

  await app.ready();
  const atStart = children;
  for (let i = 0; i < 5; i++) t.equal((await app.inject('/quiet')).body, 'ok');
  t.equal(children - atStart, 0, 'five quiet requests, no child');
  t.same(lines, []);

  t.equal((await app.inject('/loud')).body, 'ok');
  t.equal(children - atStart, 2, 'one child for the request that logged three lines, and the one it asked for');
  t.match(lines, [
    { level: 40, reqId: /^req-/, detail: 1, msg: 'first', service: 'hookgate' },
    { level: 30, msg: 'second' },
    { level: 50, step: 'inner', msg: 'third' },
  ]);
  t.equal(new Set(lines.map((l) => l.reqId)).size, 1, `the same reqId on each line: ${JSON.stringify(lines)}`);

  t.equal((await app.inject('/debug')).body, 'ok');
  t.match(lines.at(-1), { level: 20, msg: 'at debug', reqId: /^req-/ }, 'a route\'s own level reaches its child');
  t.not(lines.at(-1)!.reqId, lines[0]!.reqId);
});
