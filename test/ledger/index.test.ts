// Opening a ledger from its URL, option checks, and the log-safe description.
import t from 'tap';
import { describeLedger, openLedger } from '../../src/ledger/index.js';
import { BASE_OPTIONS, newKey } from '../helpers/ledger-backends.js';

t.test('describeLedger never prints a password or URL options', async (t) => {
  t.equal(describeLedger('postgres://hook:s3cret@db.internal:26257/hooks?sslmode=verify-full&password=other'), 'postgres://hook@db.internal:26257/hooks');
  t.equal(describeLedger('postgresql://db/hooks'), 'postgresql://db/hooks');
  t.equal(describeLedger('embedded'), 'embedded (in memory)');
  t.equal(describeLedger('embedded:/var/lib/hookgate/ledger.db'), 'embedded (/var/lib/hookgate/ledger.db)');
  t.notMatch(describeLedger('postgres://u:p@ss@word@[bad'), /p@ss|word/, 'unparseable: nothing but the scheme');
});

t.test('an unknown URL is refused, naming the field, without the password', async (t) => {
  const e = await openLedger({ ...BASE_OPTIONS, url: 'mysql://root:hunter2@db/x' }).then(() => undefined, (x: unknown) => x as Error);
  t.match(e?.message, /^ledger\.url: expected embedded/);
  t.notMatch(e?.message, /hunter2/);
});

t.test('lease must be shorter than retention', async (t) => {
  await t.rejects(openLedger({ ...BASE_OPTIONS, leaseMs: 60_000, retentionMs: 30_000 }), /ledger\.lease .* shorter than ledger\.retention/);
});

t.test('hooks: onOp times each database operation, onCacheHit counts LRU answers', async (t) => {
  const ops: string[] = [];
  let hits = 0;
  const l = await openLedger({ ...BASE_OPTIONS }, { onOp: (op, s) => { t.ok(s >= 0); ops.push(op); }, onCacheHit: () => hits++ });
  t.teardown(() => l.close());
  const key = newKey();
  const c = await l.claim(key);
  if (c.state !== 'claimed') throw new Error('not claimed');
  await l.complete(key, c.token, 200);
  await l.claim(key);
  const k2 = newKey();
  const c2 = await l.claim(k2);
  if (c2.state === 'claimed') await l.release(k2, c2.token);
  t.same(ops, ['claim', 'complete', 'claim', 'release']);
  t.equal(hits, 1);
});
