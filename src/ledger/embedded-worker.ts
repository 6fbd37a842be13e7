// The embedded ledger's worker thread: owns the SQLite connection and serves what the gateway's thread
// sends it (embedded-thread.ts) with embedded-serve.ts.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { SqliteStore } from './embedded.js';
import { openMigratedSqlite } from './sqlite-connection.js';
import { errSummary } from '../errors.js';
import type { Reply, WorkerInit } from './embedded-thread.js';
import { serveLedger } from './embedded-serve.js';

const port = parentPort!;
const init = workerData as WorkerInit;

let store: SqliteStore;
try {
  store = new SqliteStore(openMigratedSqlite(init));
  port.postMessage({ id: 0, ok: true } satisfies Reply);
} catch (err) {
  port.postMessage({ id: 0, ok: false, error: errSummary(err) } satisfies Reply);
  process.exit(0);
}

serveLedger(port as unknown as MessagePort, store);
