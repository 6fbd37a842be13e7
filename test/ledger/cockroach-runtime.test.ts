// The ledger suite with the CockroachDB dialect's runtime paths (migration lock row, no sweeper, the
// backend reported as cockroachdb) forced on PostgreSQL: the DML and the retry paths are shared, the
// DDL is the server's own. A real CockroachDB cannot run here (shared/ledger.md §7).
import t from 'tap';
import { ledgerSuite } from '../helpers/ledger-suite.js';
import { pgCluster } from '../helpers/ledger-backends.js';
import { requirePostgres } from '../helpers/services.js';

if (await requirePostgres(t)) {
  t.test('the forced dialect is what the ledger reports', async (t) => {
    const cluster = await pgCluster('crdb_runtime_probe', { dialect: 'cockroachdb' });
    t.teardown(() => cluster.close());
    const l = await cluster.replica();
    t.equal(l.backend, 'cockroachdb');
  });

  t.test('suite', async (t) => {
    ledgerSuite(t, () => pgCluster('crdb_runtime', { dialect: 'cockroachdb' }), { racers: 150 });
  });
}
