// The embedded spool's own worker thread, for a process without the embedded ledger's thread on the
// same file (the `hookgate spool` command): its own SQLite connection, served by sqlite-serve.ts.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { openSqliteSpool, type SqliteSpoolStore } from './sqlite.js';
import { wireError, type SpoolReply } from './sqlite-thread.js';
import { serveSpool } from './sqlite-serve.js';

const port = parentPort!;
const { url, busyTimeoutMs } = workerData as { url: string; busyTimeoutMs: number };

let store: SqliteSpoolStore | undefined;
try {
  store = openSqliteSpool(url, busyTimeoutMs);
  port.postMessage({ id: 0, ok: true } satisfies SpoolReply);
} catch (err) {
  port.postMessage({ id: 0, ok: false, error: wireError(err) } satisfies SpoolReply);
}
serveSpool(port as unknown as MessagePort, store);
