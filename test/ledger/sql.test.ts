// PostgreSQL-specific behaviour of the SQL ledger: isolation, dialect detection, migrations when
// several replicas start at once, the sweeper. Needs the PostgreSQL server (several sessions, a URL):
// without it these tests fail (test/helpers/services.ts).
import t from 'tap';
import pg from 'pg';
import { migrate, openLedger } from '../../src/ledger/index.js';
import { detectDialect, openSqlLedger, pgDriver, preparedName, statements } from '../../src/ledger/sql.js';
import { qualified } from '../../src/ledger/migrations.js';
import { MIGRATIONS, requiredVersion } from '../../src/ledger/schema-versions.js';
import type { LedgerOptions } from '../../src/ledger/types.js';
import { BASE_OPTIONS, eventually, newKey, schemaName } from '../helpers/ledger-backends.js';
import { requirePostgres } from '../helpers/services.js';

t.test('CockroachDB is told apart by version(), not by server_version', async (t) => {
  const answer = (v: string) => async () => ({ rows: [{ v }], rowCount: 1 });
  t.equal(await detectDialect(answer('CockroachDB CCL v25.4.1-1-g55e9e9d822f (x86_64-pc-linux-gnu, built 2025/11/01)')), 'cockroachdb');
  t.equal(await detectDialect(answer('PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu')), 'postgres');
  t.equal(await detectDialect(answer('PostgreSQL 18.6 (PGlite 0.5.14) on wasm32-unknown-emscripten')), 'postgres');
});

t.test('the CockroachDB schema uses row-level TTL on expires_at and no secondary index; no statement reads stale data', async (t) => {
  const crdb = MIGRATIONS.flatMap((m) => m.cockroachdb).join('\n');
  t.match(crdb, /ttl_expiration_expression = 'expires_at'/);
  t.notMatch(crdb, /CREATE INDEX[^\n]* ON \{ledger\}/i, 'no index on the ledger slowing its TTL job');
  // the spool's tables have no TTL (live rows must never expire); their indexes are hash-sharded
  t.match(crdb, /CREATE INDEX IF NOT EXISTS hookgate_spool_due ON \{spool\} \(next_at\) USING HASH/);
  const all = [...Object.values(statements('hookgate_ledger')), ...MIGRATIONS.flatMap((m) => [...m.postgres, ...m.cockroachdb])].join('\n');
  t.notMatch(all, /AS OF SYSTEM TIME|follower_read|UPSERT/i, 'never follower reads, never blind UPSERT');
});

t.test('with the PostgreSQL server', async (t) => {
  const url = await requirePostgres(t);
  if (!url) return;
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  const schemas: string[] = [];
  const fresh = (tag: string) => { const s = schemaName(tag); schemas.push(s); return s; };
  t.teardown(async () => {
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => {});
    await admin.end();
  });

  t.test('every pooled session runs SERIALIZABLE, also when the URL carries its own options', async (t) => {
    for (const u of [url, `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent('-c search_path=pg_catalog')}`]) {
      const d = pgDriver(u, { poolSize: 3 });
      t.teardown(() => d.end());
      const answers = await Promise.all([1, 2, 3].map(() => d.withConnection(async (q) => (await q('SHOW transaction_isolation')).rows[0].transaction_isolation)));
      t.same(answers, ['serializable', 'serializable', 'serializable'], u.includes('options') ? 'with URL options' : 'plain URL');
      if (u.includes('options')) t.equal((await d.query('SHOW search_path')).rows[0].search_path, 'pg_catalog', 'the URL options still apply');
    }
  });

  for (const dialect of ['postgres', 'cockroachdb'] as const) {
    t.test(`${dialect} runtime: eight replicas migrating one fresh schema at once`, async (t) => {
      const schema = fresh(`mig_${dialect}`);
      const results = await Promise.all(Array.from({ length: 8 }, () => migrate(url, { schema, dialect })));
      t.equal(results.filter((r) => r.from === 0).length, 1, 'exactly one applied the migrations');
      t.ok(results.every((r) => r.to === MIGRATIONS.at(-1)!.version && r.backend === dialect), 'all end at the latest version');
      const { rows } = await admin.query(`SELECT version FROM "${schema}".hookgate_schema_version ORDER BY version`);
      t.same(rows.map((r) => r.version), MIGRATIONS.map((m) => m.version), 'each version recorded once');
      if (dialect === 'cockroachdb') {
        const lock = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".hookgate_migration_lock`);
        t.equal(lock.rows[0].n, 0, 'the migration lock row was given back');
      }
      t.match(await migrate(url, { schema, dialect }), { from: MIGRATIONS.at(-1)!.version }, 'running it again changes nothing');
      const l = await openLedger({ ...BASE_OPTIONS, url, schema, dialect, migrate: false });
      t.teardown(() => l.close());
      t.equal((await l.claim(newKey())).state, 'claimed', 'the migrated schema serves claims');
      // The server's engine decides which versions its schema needs (its DDL is the server's, whatever
      // the runtime path): a version that changes only other engines' tables, or only tunes, does not
      // make it run migrate.
      const needed = requiredVersion(await detectDialect((sql: string) => admin.query(sql)));
      t.ok(needed < MIGRATIONS.at(-1)!.version, `versions after ${needed} are other engines' or tuning`);
      await admin.query(`DELETE FROM "${schema}".hookgate_schema_version WHERE version > $1`, [needed]);
      const older = await openLedger({ ...BASE_OPTIONS, url, schema, dialect, migrate: false });
      t.teardown(() => older.close());
      t.equal((await older.claim(newKey())).state, 'claimed', `a schema at version ${needed} serves without migrate`);
    });
  }

  t.test('PostgreSQL: the spool\'s bodies are compressed with lz4 where the server has it (migration 5)', async (t) => {
    const schema = fresh('lz4');
    await migrate(url, { schema, dialect: 'postgres' });
    // whether this server has lz4: one session, set then reset
    const session = await admin.connect();
    const lz4 = await session.query(`SET default_toast_compression = 'lz4'`).then(() => true, () => false);
    await session.query('RESET default_toast_compression');
    session.release();
    const { rows } = await admin.query(`SELECT attcompression FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'body'`, [`"${schema}".hookgate_spool_body`]);
    t.equal(rows[0].attcompression, lz4 ? 'l' : '', lz4 ? 'lz4 on this server' : 'this server has no lz4: the default kept');
    t.ok(requiredVersion('postgres') === 2 && requiredVersion('cockroachdb') === 2, 'a tuning step: a schema at 2 still serves on both');
  });

  t.test('PostgreSQL: a fresh ledger table\'s settles find their rows by key, not by scanning the table', async (t) => {
    // On a new deployment complete_batch's generic plan, made on its sixth run while the
    // table is nearly empty, scanned the whole table on every batch until autovacuum analyzed it.
    const schema = fresh('plan');
    const driver = pgDriver(url, { poolSize: 1 }); // one session: the prepared statement is on it
    const l = await openSqlLedger(driver, { ...BASE_OPTIONS, url, schema });
    t.teardown(() => l.close());
    for (let i = 0; i < 8; i++) {
      const keys = [newKey('p'), newKey('p'), newKey('p')];
      const claims = await Promise.all(keys.map((k) => l.claim(k)));
      const done = await Promise.all(claims.map((c, j) => (c.state === 'claimed' ? l.complete(keys[j]!, c.token, 200) : false)));
      t.same(done, [true, true, true], `batch ${i + 1} settled`);
    }
    const name = preparedName(statements(qualified(schema, 'hookgate_ledger')).completeBatch)!;
    const { rows } = await driver.query(`EXPLAIN EXECUTE ${name}('{}'::BYTEA[], '{}'::UUID[], '{}'::INT4[], '1 hour')`);
    const plan = rows.map((r) => String(r['QUERY PLAN'])).join('\n');
    t.notMatch(plan, /Seq Scan on hookgate_ledger/, 'no sequential scan of the ledger table');
    t.match(plan, /Index Scan using hookgate_ledger_pkey/, 'each row found through the primary key');
  });

  t.test('migrate: false on a schema never migrated refuses to start and says what to run', async (t) => {
    const schema = fresh('nomig');
    await t.rejects(openLedger({ ...BASE_OPTIONS, url, schema, migrate: false }), /hookgate migrate/);
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1`, [schema]);
    t.equal(rows[0].n, 0, 'nothing was created');
  });

  t.test('the PostgreSQL sweeper deletes expired rows in batches; CockroachDB leaves it to row-level TTL', async (t) => {
    const schema = fresh('sweep');
    const opts: LedgerOptions = { ...BASE_OPTIONS, url, schema, retentionMs: 200, leaseMs: 100 };
    const count = async () => (await admin.query(`SELECT count(*)::int AS n FROM "${schema}".hookgate_ledger`)).rows[0].n as number;

    const crdb = await openSqlLedger(pgDriver(url), { ...opts, dialect: 'cockroachdb', sweepIntervalMs: 50 });
    t.teardown(() => crdb.close());
    for (let i = 0; i < 20; i++) {
      const key = newKey('sweep');
      const c = await crdb.claim(key);
      if (c.state === 'claimed') await crdb.complete(key, c.token, 200);
    }
    // The witness: a postgres-runtime ledger on a schema of its own, sweeping every 50 ms too, with a
    // row written after those. Once its sweeper has deleted that row, a sweeper in the cockroachdb
    // runtime would have deleted the older rows as well.
    const witnessSchema = fresh('sweep_witness');
    const witness = await openSqlLedger(pgDriver(url), { ...opts, schema: witnessSchema, sweepIntervalMs: 50 });
    t.teardown(() => witness.close());
    const wk = newKey('witness');
    const wc = await witness.claim(wk);
    if (wc.state === 'claimed') await witness.complete(wk, wc.token, 200);
    const witnessCount = async () => (await admin.query(`SELECT count(*)::int AS n FROM "${witnessSchema}".hookgate_ledger`)).rows[0].n as number;
    t.ok(await eventually(async () => ((await witnessCount()) === 0 ? true : undefined), 200, 25), 'the witness swept its expired row');
    t.equal(await count(), 20, 'the cockroachdb runtime deleted nothing itself');
    t.equal((await crdb.claim(newKey('other'))).state, 'claimed');
    await crdb.close();
    const pgl = await openSqlLedger(pgDriver(url), { ...opts, sweepIntervalMs: 50 });
    t.teardown(() => pgl.close());
    const left = await eventually(async () => ((await count()) <= 1 ? await count() : undefined), 100, 50);
    t.ok(left !== undefined && left <= 1, `the postgres ledger's sweeper deleted the expired rows (${left} left)`);
  });
});
