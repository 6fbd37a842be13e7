// The retry wrapper on its own, with a fake clock: what is retried, what is resolved through the
// owner token, what is thrown at once, and the error past the budget.
import t from 'tap';
import { GatewayError } from '../../src/errors.js';
import { classify, withRetry, type RetryPolicy } from '../../src/ledger/retry.js';

const err = (code: string, message = 'x') => Object.assign(new Error(message), { code });

t.test('classification of driver errors', async (t) => {
  for (const code of ['40001', '40P01', '55P03', '53300', '57P03', '08001', 'ECONNREFUSED']) t.equal(classify(err(code), true), 'transient', code);
  for (const code of ['40003', '57P01', '57P02', '57014', '08006', '08003', 'ECONNRESET', 'EPIPE']) {
    t.equal(classify(err(code), true), 'ambiguous', `${code} on a write`);
    t.equal(classify(err(code), false), 'transient', `${code} on a read`);
  }
  t.equal(classify(new Error('Connection terminated unexpectedly'), true), 'ambiguous');
  t.equal(classify(new Error('timeout exceeded when trying to connect'), true), 'transient');
  for (const code of ['42P01', '23505', '22P02', '28P01', '42601']) t.equal(classify(err(code), true), 'permanent', code);
  t.equal(classify(new TypeError('bug'), true), 'permanent');
});

function fakeClock() {
  let now = 0;
  const sleeps: number[] = [];
  return { now: () => now, sleep: async (ms: number) => { sleeps.push(ms); now += ms; }, sleeps, advance: (ms: number) => { now += ms; } };
}
const policy: RetryPolicy = { budgetMs: 1000, baseMs: 10, capMs: 250 };

t.test('transient errors are retried with jittered, capped, growing backoff', async (t) => {
  const clock = fakeClock();
  let calls = 0;
  const v = await withRetry('claim', async () => { if (++calls < 6) throw err('40001'); return 'ok'; }, { policy, write: true, ...clock, random: () => 0.999 });
  t.equal(v, 'ok');
  t.equal(calls, 6);
  t.same(clock.sleeps, [9, 19, 39, 79, 159], 'random(0, min(250, 10·2^n))');
});

t.test('a permanent error is thrown at once, unchanged', async (t) => {
  let calls = 0;
  await t.rejects(withRetry('claim', async () => { calls++; throw err('42P01'); }, { policy, write: true, ...fakeClock() }), { code: '42P01' });
  t.equal(calls, 1);
});

t.test('past the budget: ledger_unavailable with Retry-After and the driver error as cause', async (t) => {
  const clock = fakeClock();
  let calls = 0;
  const e = await withRetry('claim', async () => { calls++; clock.advance(100); throw err('ECONNREFUSED'); }, { policy, write: true, ...clock, random: () => 0.5 })
    .then(() => undefined, (x: unknown) => x);
  t.ok(e instanceof GatewayError);
  t.match(e, { code: 'ledger_unavailable', status: 503 });
  t.ok((e as GatewayError).retryAfterSeconds! >= 1);
  t.match((e as GatewayError).cause, { code: 'ECONNREFUSED' });
  t.ok(clock.now() <= policy.budgetMs, `stopped within the budget (${clock.now()} ms, ${calls} attempts)`);
});

t.test('an ambiguous write is resolved by the read-back before anything runs again', async (t) => {
  const order: string[] = [];
  // landed: the read-back's answer is the result; the write is not sent again
  let v = await withRetry('complete', async () => { order.push('write'); throw err('40003'); },
    { policy, write: true, ...fakeClock(), resolve: async () => { order.push('read'); return { landed: true, value: true }; } });
  t.equal(v, true);
  t.same(order, ['write', 'read']);
  // not landed: run again
  order.length = 0;
  let first = true;
  v = await withRetry('complete', async () => { order.push('write'); if (first) { first = false; throw err('ECONNRESET'); } return true; },
    { policy, write: true, ...fakeClock(), resolve: async () => { order.push('read'); return { landed: false }; } });
  t.same(order, ['write', 'read', 'write']);
  // the read-back itself failing transiently is retried
  order.length = 0;
  let reads = 0;
  v = await withRetry('complete', async () => { order.push('write'); throw err('40003'); },
    { policy, write: true, ...fakeClock(), resolve: async () => { order.push('read'); if (++reads < 3) throw err('57P01'); return { landed: true, value: false }; } });
  t.equal(v, false);
  t.same(order, ['write', 'read', 'read', 'read'], 'the write was not repeated while its outcome was unknown');
});
