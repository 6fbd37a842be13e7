// The retry and ambiguity paths for real: a TCP proxy between node-postgres and PostgreSQL answers
// chosen ledger statements with 40001 / 40003, cuts the connection after a statement committed, or
// takes the database away. Run with both runtime dialects (PostgreSQL, and CockroachDB's forced on
// PostgreSQL: the statements and retry paths are shared). Needs the PostgreSQL server: without it, the file fails.
import t, { type Test } from 'tap';
import { openLedger, type LedgerHooks } from '../../src/ledger/index.js';
import type { ClaimResult, Ledger, LedgerOptions } from '../../src/ledger/types.js';
import { GatewayError } from '../../src/errors.js';
import { keyHash } from '../../src/ledger/common.js';
import { proxiedPostgres } from '../helpers/fault-proxy.js';
import { newKey, schemaName, sleep } from '../helpers/ledger-backends.js';
import { requirePostgres } from '../helpers/services.js';

const pgUrl = await requirePostgres(t);
if (pgUrl) {
  const { proxy, admin, schema: freshSchema } = await proxiedPostgres(t, pgUrl, schemaName);

  for (const dialect of ['postgres', 'cockroachdb'] as const) {
    t.test(`${dialect} runtime`, async (t) => {
      const schema = freshSchema(`faults_${dialect}`);
      const base: LedgerOptions = {
        url: proxy.url(pgUrl), schema, dialect, retentionMs: 60_000, leaseMs: 5_000, cache: 100, migrate: true,
        retryBudgetMs: 1500, sweepIntervalMs: 0, poolSize: 4,
      };
      const open = async (t: Test, o: Partial<LedgerOptions> = {}, hooks: LedgerHooks = {}): Promise<Ledger> => {
        const l = await openLedger({ ...base, ...o }, hooks);
        t.teardown(() => l.close());
        return l;
      };
      const row = async (key: string) => (await admin.query(
        `SELECT status, owner::text AS owner, attempt, resp_status FROM "${schema}".hookgate_ledger WHERE key_hash = $1`, [keyHash(key)])).rows[0];
      /** Polls (bounded) until the key's lease has run out in database time. */
      const leaseOver = async (key: string) => {
        for (let i = 0; i < 200; i++) {
          const { rows } = await admin.query(`SELECT lease_until <= now() AS over FROM "${schema}".hookgate_ledger WHERE key_hash = $1`, [keyHash(key)]);
          if (rows[0]?.over) return true;
          await sleep(10);
        }
        return false;
      };
      const claimed = (t: Test, r: ClaimResult) => {
        t.equal(r.state, 'claimed', 'claimed');
        if (r.state !== 'claimed') throw new Error(`expected claimed, got ${JSON.stringify(r)}`);
        return r;
      };
      t.afterEach(() => proxy.clearRules());

      t.test('reports the dialect it runs', async (t) => {
        t.equal((await open(t)).backend, dialect);
      });

      t.test('40001 on the claim is retried and the claim succeeds', async (t) => {
        const retried: string[] = [];
        const l = await open(t, {}, { onRetry: (err) => retried.push(String((err as { code?: string }).code)) });
        const rule = proxy.addRule({ match: 'hookgate:claim', times: 3, action: { kind: 'error', code: '40001' } });
        const key = newKey();
        const c = claimed(t, await l.claim(key));
        t.equal(rule.fired, 3, 'three serialization failures injected');
        t.same(retried, ['40001', '40001', '40001'], 'each one retried');
        t.equal(c.attempt, 1);
        t.match(await row(key), { status: 'processing', owner: c.token, attempt: 1 });
      });

      t.test('40003 after the claim landed: resolved through the owner token, one claim', async (t) => {
        const [a, b] = [await open(t), await open(t)];
        const rule = proxy.addRule({ match: 'hookgate:claim', action: { kind: 'error', code: '40003', after: true } });
        const key = newKey();
        const c = claimed(t, await a.claim(key));
        t.equal(rule.fired, 1, 'the committed claim was answered "result is ambiguous"');
        t.equal(c.attempt, 1, 'not counted twice');
        t.match(await row(key), { status: 'processing', owner: c.token, attempt: 1 }, 'the row holds our token');
        t.equal((await b.claim(key)).state, 'in_flight', 'a duplicate is in flight: no double claim');
        t.equal(await a.complete(key, c.token, 200), true, 'the claim is ours to settle: not lost');
        t.match(await b.claim(key), { state: 'done', status: 200 });
      });

      t.test('40003 before the claim ran: run again, claimed', async (t) => {
        const a = await open(t);
        const rule = proxy.addRule({ match: 'hookgate:claim', action: { kind: 'error', code: '40003' } });
        const key = newKey();
        const c = claimed(t, await a.claim(key));
        t.equal(rule.fired, 1);
        t.equal(c.attempt, 1);
        t.match(await row(key), { owner: c.token, attempt: 1 });
      });

      t.test('connection cut after the claim was written: claimed once, on a new connection', async (t) => {
        const [a, b] = [await open(t), await open(t)];
        await a.ping();
        const connections = proxy.connections;
        const rule = proxy.addRule({ match: 'hookgate:claim', action: { kind: 'cut-after' } });
        const key = newKey();
        const c = claimed(t, await a.claim(key));
        t.equal(rule.fired, 1, 'the connection was cut after the write');
        t.ok(proxy.connections > connections, 'the retry went through a new connection');
        t.equal(c.attempt, 1);
        t.match(await row(key), { status: 'processing', owner: c.token, attempt: 1 });
        t.equal((await b.claim(key)).state, 'in_flight');
        t.equal(await a.complete(key, c.token, 201), true);
      });

      t.test('40003 after complete landed: the read-back finds our token, done', async (t) => {
        const [a, b] = [await open(t), await open(t, { cache: 0 })];
        const key = newKey();
        const c = claimed(t, await a.claim(key));
        const lookups = proxy.count('hookgate:lookup');
        const rule = proxy.addRule({ match: 'hookgate:complete', action: { kind: 'error', code: '40003', after: true } });
        t.equal(await a.complete(key, c.token, 202), true, 'complete reports success');
        t.equal(rule.fired, 1);
        t.equal(proxy.count('hookgate:lookup'), lookups + 1, 'resolved by reading the row back');
        t.match(await row(key), { status: 'done', resp_status: 202, owner: c.token });
        t.match(await b.claim(key), { state: 'done', status: 202 });
      });

      t.test('40003 before complete ran: the read-back finds it still ours and in flight, runs it again', async (t) => {
        const a = await open(t);
        const key = newKey();
        const c = claimed(t, await a.claim(key));
        const completes = proxy.count('hookgate:complete');
        proxy.addRule({ match: 'hookgate:complete', action: { kind: 'error', code: '40003' } });
        t.equal(await a.complete(key, c.token, 200), true);
        t.equal(proxy.count('hookgate:complete'), completes + 2, 'sent twice');
        t.match(await row(key), { status: 'done', resp_status: 200 });
      });

      t.test('connection cut after complete was written: done, not lost', async (t) => {
        const [a, b] = [await open(t), await open(t, { cache: 0 })];
        const key = newKey();
        const c = claimed(t, await a.claim(key));
        const rule = proxy.addRule({ match: 'hookgate:complete', action: { kind: 'cut-after' } });
        t.equal(await a.complete(key, c.token, 200), true);
        t.equal(rule.fired, 1);
        t.match(await b.claim(key), { state: 'done', status: 200 });
      });

      t.test('40003 after release landed: released, the retry takes over with attempt 2', async (t) => {
        const [a, b] = [await open(t), await open(t)];
        const key = newKey();
        const c = claimed(t, await a.claim(key));
        const rule = proxy.addRule({ match: 'hookgate:release', action: { kind: 'error', code: '40003', after: true } });
        t.equal(await a.release(key, c.token), true);
        t.equal(rule.fired, 1);
        t.match(await row(key), { status: 'failed', owner: c.token });
        t.match(claimed(t, await b.claim(key)), { attempt: 2 });
      });

      t.test('an ambiguous complete of a token that lost its lease resolves to false', async (t) => {
        const a = await open(t, { leaseMs: 100 });
        const b = await open(t);
        const key = newKey();
        const stale = claimed(t, await a.claim(key));
        t.ok(await leaseOver(key), 'the first lease ran out');
        const fresh = claimed(t, await b.claim(key));
        t.equal(fresh.attempt, 2, 'taken over after the lease');
        proxy.addRule({ match: 'hookgate:complete', action: { kind: 'error', code: '40003' } });
        t.equal(await a.complete(key, stale.token, 200), false, 'fenced out, even through the read-back');
        t.match(await row(key), { status: 'processing', owner: fresh.token });
      });

      t.test('racing claims with injected 40001s and a cut: neither lost nor doubled', async (t) => {
        const ledgers = [await open(t, { retryBudgetMs: 10_000 }), await open(t, { retryBudgetMs: 10_000 }), await open(t, { retryBudgetMs: 10_000 })];
        await Promise.all(ledgers.map((l) => l.ping()));
        const key = newKey('race');
        proxy.addRule({ match: 'hookgate:claim', occurrence: 1, action: { kind: 'cut-after' } });
        for (const n of [3, 7, 11, 20, 35]) proxy.addRule({ match: 'hookgate:claim', occurrence: n, times: 2, action: { kind: 'error', code: '40001' } });
        const results = await Promise.all(Array.from({ length: 90 }, (_, i) => ledgers[i % 3]!.claim(key)));
        const won = results.filter((r) => r.state === 'claimed');
        t.equal(won.length, 1, 'one winner');
        t.equal(results.filter((r) => r.state === 'in_flight').length, 89, 'the others in flight');
        if (won[0]?.state === 'claimed') t.match(await row(key), { owner: won[0].token, attempt: 1 });
      });

      // Group commit: operations issued in the same tick go out as one statement over arrays
      // (hookgate:claim_batch, complete_batch, release_batch; read-back: lookup_batch).
      t.test('a claim batch cut after it was written: every key claimed once, through its own token', async (t) => {
        const [a, b] = [await open(t), await open(t)];
        await a.ping();
        const rule = proxy.addRule({ match: 'hookgate:claim_batch', action: { kind: 'cut-after' } });
        const keys = [newKey(), newKey(), newKey(), newKey()];
        const results = await Promise.all([...keys, keys[0]!].map((k) => a.claim(k)));
        t.equal(rule.fired, 1, 'the batch was cut after the write');
        for (const [i, k] of keys.entries()) {
          const c = claimed(t, results[i]!);
          t.equal(c.attempt, 1, 'not counted twice');
          t.match(await row(k), { status: 'processing', owner: c.token, attempt: 1 }, 'the row holds its token');
          t.equal((await b.claim(k)).state, 'in_flight', 'a duplicate on another replica is in flight');
        }
        t.equal(results[4]!.state, 'in_flight', 'the same key twice in one batch: the second is in flight');
      });

      t.test('40001 on a claim batch is retried as a whole; 40003 before it ran too', async (t) => {
        const a = await open(t);
        const r1 = proxy.addRule({ match: 'hookgate:claim_batch', times: 2, action: { kind: 'error', code: '40001' } });
        const r2 = proxy.addRule({ match: 'hookgate:claim_batch', occurrence: 3, action: { kind: 'error', code: '40003' } });
        const keys = [newKey(), newKey(), newKey()];
        const results = await Promise.all(keys.map((k) => a.claim(k)));
        t.equal(r1.fired + r2.fired, 3);
        for (const [i, k] of keys.entries()) t.match(await row(k), { owner: claimed(t, results[i]!).token, attempt: 1 });
      });

      t.test('40003 after a complete batch landed: one batched read-back; landed, fenced out and never-owned told apart', async (t) => {
        const a = await open(t, { leaseMs: 150 });
        const b = await open(t, { cache: 0 });
        const stale = newKey();
        const old = claimed(t, await a.claim(stale));
        t.ok(await leaseOver(stale), 'the first lease ran out');
        const fresh = claimed(t, await b.claim(stale));
        const keys = [newKey(), newKey()];
        const cs = (await Promise.all(keys.map((k) => a.claim(k)))).map((r) => claimed(t, r));
        const lookups = proxy.count('hookgate:lookup_batch');
        const rule = proxy.addRule({ match: 'hookgate:complete_batch', action: { kind: 'error', code: '40003', after: true } });
        const oks = await Promise.all([a.complete(keys[0]!, cs[0]!.token, 200), a.complete(keys[1]!, cs[1]!.token, 201), a.complete(stale, old.token, 202)]);
        t.equal(rule.fired, 1);
        t.equal(proxy.count('hookgate:lookup_batch'), lookups + 1, 'resolved by one read-back');
        t.same(oks, [true, true, false], 'the two owners completed; the stale token is fenced out');
        t.match(await row(keys[0]!), { status: 'done', resp_status: 200, owner: cs[0]!.token });
        t.match(await row(keys[1]!), { status: 'done', resp_status: 201, owner: cs[1]!.token });
        t.match(await row(stale), { status: 'processing', owner: fresh.token });
        t.match(await b.claim(keys[1]!), { state: 'done', status: 201 });
      });

      t.test('40003 before a complete batch ran: the read-back finds them ours and in flight, sends them again', async (t) => {
        const a = await open(t);
        const keys = [newKey(), newKey(), newKey()];
        const cs = (await Promise.all(keys.map((k) => a.claim(k)))).map((r) => claimed(t, r));
        const before = proxy.count('hookgate:complete_batch');
        proxy.addRule({ match: 'hookgate:complete_batch', action: { kind: 'error', code: '40003' } });
        const oks = await Promise.all(keys.map((k, i) => a.complete(k, cs[i]!.token, 200 + i)));
        t.same(oks, [true, true, true]);
        t.equal(proxy.count('hookgate:complete_batch'), before + 2, 'sent twice');
        for (const [i, k] of keys.entries()) t.match(await row(k), { status: 'done', resp_status: 200 + i });
      });

      t.test('a release batch cut after it was written: released, each retry takes over with attempt 2', async (t) => {
        const [a, b] = [await open(t), await open(t)];
        const keys = [newKey(), newKey()];
        const cs = (await Promise.all(keys.map((k) => a.claim(k)))).map((r) => claimed(t, r));
        const rule = proxy.addRule({ match: 'hookgate:release_batch', action: { kind: 'cut-after' } });
        t.same(await Promise.all(keys.map((k, i) => a.release(k, cs[i]!.token))), [true, true]);
        t.equal(rule.fired, 1);
        for (const k of keys) t.match(claimed(t, await b.claim(k)), { attempt: 2 });
      });

      t.test('a dead database past the retry budget gives ledger_unavailable; it recovers after', async (t) => {
        const errors: unknown[] = [];
        const l = await open(t, { retryBudgetMs: 300 }, { onError: (e) => errors.push(e) });
        await l.ping();
        for (const mode of ['refuse', 'drop'] as const) {
          await proxy.down(mode);
          const err = await l.claim(newKey()).then(() => undefined, (e: unknown) => e);
          t.ok(err instanceof GatewayError, `${mode}: a GatewayError`);
          t.match(err, { code: 'ledger_unavailable', status: 503 }, `${mode}: ledger_unavailable`);
          t.ok((err as GatewayError).retryAfterSeconds! >= 1, 'with Retry-After');
          t.notMatch(String((err as Error).message), /postgres:\/\//, 'no connection string in the message');
          await proxy.up();
          claimed(t, await l.claim(newKey()));
        }
        t.equal(errors.length, 2, 'both failures reported to onError');
      });

      t.test('a database back within the budget: the claim waits it out', async (t) => {
        const l = await open(t, { retryBudgetMs: 5000 });
        await l.ping();
        await proxy.down('refuse', 300);
        claimed(t, await l.claim(newKey()));
      });

      t.test('with the database down, a done key is still answered from the LRU', async (t) => {
        let hits = 0;
        const l = await open(t, { retryBudgetMs: 200 }, { onCacheHit: () => hits++ });
        const key = newKey();
        const c = claimed(t, await l.claim(key));
        t.equal(await l.complete(key, c.token, 200), true);
        const statements = proxy.statements.length;
        await proxy.down('refuse');
        t.teardown(() => proxy.up());
        t.same(await l.claim(key), { state: 'done', status: 200 }, 'duplicate answered');
        t.equal(hits, 1);
        await t.rejects(l.claim(newKey()), { code: 'ledger_unavailable' }, 'a new key cannot be claimed');
        t.equal(proxy.statements.length, statements, 'no statement reached the database');
      });
    });
  }
}
