// The spool's statements through the fault proxy (40001, 40003 after the write landed, a connection
// cut after commit), on the PostgreSQL and the CockroachDB dialect (forced on PostgreSQL): no second
// spool row, no double claim, no lost settle. Needs the real server.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { openLedger } from '../../src/ledger/index.js';
import { keyHash } from '../../src/ledger/common.js';
import { openSpoolStore } from '../../src/spool/store/index.js';
import type { AcceptInput } from '../../src/spool/store/types.js';
import { proxiedPostgres } from '../helpers/fault-proxy.js';
import { schemaName } from '../helpers/ledger-backends.js';
import { requirePostgres } from '../helpers/services.js';

const pgUrl = await requirePostgres(t);
if (pgUrl) {
  const { proxy, admin, schema: freshSchema } = await proxiedPostgres(t, pgUrl, schemaName);

  for (const dialect of ['postgres', 'cockroachdb'] as const) {
    t.test(`${dialect} dialect`, async (t) => {
      const schema = freshSchema(`spool_faults_${dialect}`);
      const ledger = await openLedger({ url: pgUrl, schema, dialect, retentionMs: 60_000, leaseMs: 30_000, cache: 0, migrate: true, sweepIntervalMs: 0 });
      t.teardown(() => ledger.close());
      const store = await openSpoolStore({ url: proxy.url(pgUrl), schema, dialect, retryBudgetMs: 3000 });
      t.teardown(() => store.close());
      t.afterEach(() => proxy.clearRules());
      const rows = async (key: string) => (await admin.query(`SELECT state, owner::text AS owner, attempts FROM "${schema}".hookgate_spool WHERE key_hash = $1`, [keyHash(key)])).rows;
      const bodies = async (key: string) => Number((await admin.query(`SELECT count(*)::INT4 AS n FROM "${schema}".hookgate_spool_body WHERE key_hash = $1`, [keyHash(key)])).rows[0].n);
      const accept = async (key: string, owner: string | null = null) => {
        const c = await ledger.claim(key);
        if (c.state !== 'claimed') throw new Error(`expected a claim, got ${c.state}`);
        const input: AcceptInput = { key, ledgerToken: c.token, acceptStatus: 200, retentionMs: 60_000, route: '/f', tenant: 'acme', dispatchOwner: owner, leaseMs: 30_000, method: 'POST', path: '/f', headers: ['a', 'b'], body: Buffer.from('x'), meta: null };
        return store.accept(input);
      };

      for (const [name, action] of [
        ['40001 three times', { kind: 'error', code: '40001' }],
        ['40003 after the write landed', { kind: 'error', code: '40003', after: true }],
        ['the connection cut after commit', { kind: 'cut-after' }],
      ] as const) {
        t.test(`accept: ${name} → spooled once, one row, one body`, async (t) => {
          const key = `acc-${name}`;
          const owner = randomUUID();
          const rule = proxy.addRule({ match: 'hookgate:spool_accept */', times: name.startsWith('40001') ? 3 : 1, action });
          const r = await accept(key, owner);
          t.ok(rule.fired >= 1, 'the fault fired');
          t.match(r, { state: 'spooled', delivering: true }, 'answered spooled (the read-back found it landed, or the re-run did it)');
          t.same(await rows(key), [{ state: 'delivering', owner, attempts: 0 }], 'one spool row, ours');
          t.equal(await bodies(key), 1);
          const again = await ledger.claim(key);
          t.same(again.state === 'done' && again.status, 200, 'the ledger key is done with acceptStatus');
        });

        t.test(`accept, group-committed: ${name} → each spooled once`, async (t) => {
          const keys = [`accb-${name}-1`, `accb-${name}-2`, `accb-${name}-3`];
          const rule = proxy.addRule({ match: 'hookgate:spool_accept_batch */', times: name.startsWith('40001') ? 3 : 1, action });
          const tokens = await Promise.all(keys.map(async (k) => {
            const c = await ledger.claim(k);
            if (c.state !== 'claimed') throw new Error('expected a claim');
            return c.token;
          }));
          const results = await Promise.all(keys.map((key, i) => store.accept({ key, ledgerToken: tokens[i]!, acceptStatus: 200, retentionMs: 60_000, route: '/f', tenant: 'acme', dispatchOwner: null, leaseMs: 30_000, method: 'POST', path: '/f', headers: ['a', 'b'], body: Buffer.from('x'), meta: null })));
          t.ok(rule.fired >= 1, 'the fault fired on the batched statement');
          t.match(results, keys.map(() => ({ state: 'spooled' })));
          for (const k of keys) {
            t.equal((await rows(k)).length, 1, 'one spool row');
            t.equal(await bodies(k), 1, 'one body');
          }
        });

        t.test(`accept that claims its key (a spool route): ${name} → spooled once, the ledger key done once`, async (t) => {
          const keys = [`accc-${name}-1`, `accc-${name}-2`];
          const rule = proxy.addRule({ match: 'hookgate:spool_accept_claim_batch */', times: name.startsWith('40001') ? 3 : 1, action });
          const results = await Promise.all(keys.map((key) => store.accept({ key, claim: true, ledgerToken: randomUUID(), acceptStatus: 202, retentionMs: 60_000, route: '/f', tenant: 'acme', dispatchOwner: null, leaseMs: 30_000, method: 'POST', path: '/f', headers: ['a', 'b'], body: Buffer.from('x'), meta: null })));
          t.ok(rule.fired >= 1, 'the fault fired');
          t.match(results, keys.map(() => ({ state: 'spooled' })), 'spooled, not answered as a duplicate of itself');
          for (const k of keys) {
            t.same(await rows(k), [{ state: 'pending', owner: null, attempts: 0 }], 'one spool row');
            t.equal(await bodies(k), 1, 'one body');
            const again = await ledger.claim(k);
            t.same(again.state === 'done' && again.status, 202, 'the ledger key is done with acceptStatus');
          }
        });

        t.test(`claim: ${name} → claimed once, by us`, async (t) => {
          const key = `clm-${name}`;
          await accept(key);
          const owner = randomUUID();
          const rule = proxy.addRule({ match: 'hookgate:spool_claim */', times: name.startsWith('40001') ? 3 : 1, action });
          const got = await store.claim([keyHash(key)], owner, 30_000);
          t.ok(rule.fired >= 1);
          t.same(got.map((c) => c.key), [key], 'the claim that landed is ours (read back by owner token), not lost until the lease runs out');
          t.same(await rows(key), [{ state: 'delivering', owner, attempts: 0 }]);
          t.same(await store.claim([keyHash(key)], randomUUID(), 30_000), [], 'no second claim');
        });

        t.test(`settle: ${name} → settled once, answered true`, async (t) => {
          const key = `stl-${name}`;
          await accept(key);
          const owner = randomUUID();
          await store.claim([keyHash(key)], owner, 30_000);
          const rule = proxy.addRule({ match: 'hookgate:spool_settle */', times: name.startsWith('40001') ? 3 : 1, action });
          t.equal(await store.settle(keyHash(key), owner, { state: 'pending', spend: true, delayMs: 60_000, status: 500, error: 'status 500' }), true, 'not a lost settle');
          t.ok(rule.fired >= 1);
          t.same(await rows(key), [{ state: 'pending', owner, attempts: 1 }], 'one attempt spent, not two');
        });
      }
    });
  }
}
