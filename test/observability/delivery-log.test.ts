// The delivery line is built by hand: it must be what pino itself writes for the same fields, byte for
// byte, held to the end of the turn, and never lost when the process exits.
import t from 'tap';
import { Writable } from 'node:stream';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { createLogger } from '../../src/observability/logger.js';
import { deliveryLog, type DeliveryFields } from '../../src/observability/delivery-log.js';

function capture(level = 'info') {
  const writes: string[] = [];
  const log = createLogger(level, new Writable({ write: (c, _e, cb) => (writes.push(c.toString()), cb()) }));
  return { log, writes, text: () => writes.join('') };
}
const turn = () => new Promise((r) => setImmediate(r));
const TIME = /"time":"[^"]+"/;

const CASES: DeliveryFields[] = [
  { reqId: 'req-1', route: '/webhooks/stripe', provider: 'stripe', tenant: 'acme', outcome: 'forwarded', key: '/webhooks/stripe|acme|id:evt_1', attempt: 1, status: 200, ms: 1.234 },
  { reqId: 'req-2', route: null, provider: null, tenant: null, outcome: 'no_route', key: null, attempt: null, status: 404, ms: 0 },
  // a key comes from the body: quotes, backslashes, control characters, non-ASCII, a lone surrogate, a long one
  { reqId: 'req-3', route: '/w/:tenant/x', provider: 'github', tenant: 't"\\n', outcome: 'duplicate', key: 'k|"quoted"\\back\u0001\n\t\u00e9\u2603\ud83d\ude00', attempt: 2, status: 409, ms: 12.5 },
  { reqId: 'req-4', route: '/r', provider: 'generic', tenant: 'other', outcome: 'signature_invalid', key: `k${'x'.repeat(300)}\u0000`, attempt: null, status: 401, ms: 1e-3 },
];

t.test('the line is what pino writes for the same fields, byte for byte (but the time)', async (t) => {
  for (const fields of CASES) {
    const mine = capture();
    const theirs = capture();
    deliveryLog(mine.log)(fields);
    theirs.log.child({}, { redact: { paths: ['secret', 'secrets', 'body'], censor: '[redacted]' } }).info(fields, 'delivery');
    await turn();
    t.equal(mine.text().replace(TIME, 'T'), theirs.text().replace(TIME, 'T'), `fields of ${fields.reqId}`);
    t.same(JSON.parse(mine.text()), { ...JSON.parse(mine.text()), level: 30, service: 'hookgate', msg: 'delivery', ...fields });
  }
  // a child's bindings come along, as pino's own child would write them
  const mine = capture();
  const theirs = capture();
  deliveryLog(mine.log.child({ replica: 'r"2' }))(CASES[0]!);
  theirs.log.child({ replica: 'r"2' }).info(CASES[0]!, 'delivery');
  await turn();
  t.equal(mine.text().replace(TIME, 'T'), theirs.text().replace(TIME, 'T'), 'with bindings');
});

t.test('the lines of one turn are written together at its end', async (t) => {
  const c = capture();
  const line = deliveryLog(c.log);
  for (const f of CASES) line(f);
  t.equal(c.writes.length, 0, 'nothing written during the turn');
  await turn();
  t.equal(c.writes.length, 1, 'one write for the turn');
  t.same(c.text().trim().split('\n').map((l) => (JSON.parse(l) as { reqId: string }).reqId), ['req-1', 'req-2', 'req-3', 'req-4'], 'in order');
  line(CASES[0]!);
  await turn();
  t.equal(c.writes.length, 2, 'the next turn writes again');
});

t.test('a turn with many lines writes as it goes, not all at its end', async (t) => {
  const c = capture();
  const line = deliveryLog(c.log);
  for (let i = 0; i < 2_000; i++) line({ ...CASES[0]!, reqId: `req-${i}` });
  t.ok(c.writes.length >= 2, `${c.writes.length} writes during the turn`);
  await turn();
  const lines = c.text().trim().split('\n');
  t.equal(lines.length, 2_000, 'every line, once');
  t.equal((JSON.parse(lines.at(-1)!) as { reqId: string }).reqId, 'req-1999');
});

t.test('below the logger\'s level nothing is written', async (t) => {
  const c = capture('warn');
  deliveryLog(c.log)(CASES[0]!);
  await turn();
  t.equal(c.text(), '');
});

t.test('a logger that is not pino is called as usual', async (t) => {
  const calls: unknown[] = [];
  const other = { child: () => ({ info: (o: object, m: string) => calls.push([o, m]) }) };
  deliveryLog(other)(CASES[1]!);
  t.same(calls, [[CASES[1], 'delivery']]);
});

t.test('lines held when the process exits are written (stdout, as `hookgate run` logs)', async (t) => {
  const src = (file: string) => pathToFileURL(resolve('dist/src/observability', file)).href;
  const script = `
    import { createLogger } from '${src('logger.js')}';
    import { deliveryLog } from '${src('delivery-log.js')}';
    const line = deliveryLog(createLogger('info'));
    line(${JSON.stringify(CASES[0])});
    line(${JSON.stringify(CASES[1])});
    process.exit(3);
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  t.equal(run.status, 3, run.stderr);
  const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { reqId: string; msg: string });
  t.same(lines.map((l) => [l.reqId, l.msg]), [['req-1', 'delivery'], ['req-2', 'delivery']]);
});
