// The ledger suite against the PostgreSQL server (HOOKGATE_TEST_PG_URL) in SERIALIZABLE.
import t from 'tap';
import { ledgerSuite } from '../helpers/ledger-suite.js';
import { pgCluster } from '../helpers/ledger-backends.js';
import { requirePostgres } from '../helpers/services.js';

if (await requirePostgres(t)) ledgerSuite(t, () => pgCluster('postgres_suite'));
