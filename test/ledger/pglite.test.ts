// The ledger suite on PGlite: PostgreSQL compiled to WebAssembly, in process. A second PostgreSQL
// build for the SQL ledger's statements and migrations, not a stand-in for the server: it has one
// connection, so the race tests (test/ledger/postgres.test.ts) do not run here.
import t from 'tap';
import { ledgerSuite } from '../helpers/ledger-suite.js';
import { pgliteCluster } from '../helpers/ledger-backends.js';

ledgerSuite(t, () => pgliteCluster('pglite_suite'), { concurrent: false });
