// The ledger suite against the embedded SQLite ledger, in memory and on disk (WAL).
import t from 'tap';
import { ledgerSuite } from '../helpers/ledger-suite.js';
import { embeddedCluster } from '../helpers/ledger-backends.js';

t.test('in memory', async (t) => {
  ledgerSuite(t, async () => embeddedCluster('memory'));
});

t.test('on disk', async (t) => {
  ledgerSuite(t, async () => embeddedCluster('file'));
});
