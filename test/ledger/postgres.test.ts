// The ledger suite against PostgreSQL in SERIALIZABLE (or PGlite when no server is reachable and
// HOOKGATE_TEST_PG_URL is not set).
import t from 'tap';
import { ledgerSuite } from '../helpers/ledger-suite.js';
import { pgCluster } from '../helpers/ledger-backends.js';

ledgerSuite(t, () => pgCluster('postgres_suite'));
