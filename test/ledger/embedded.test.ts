// The ledger suite against the embedded SQLite ledger, in memory and on disk (WAL).
import t from 'tap';
import { ledgerSuite } from '../helpers/ledger-suite.js';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BASE_OPTIONS, embeddedCluster, newKey } from '../helpers/ledger-backends.js';
import { migrate, openLedger } from '../../src/ledger/index.js';
import { openEmbeddedLedger } from '../../src/ledger/embedded.js';
import { MIGRATIONS } from '../../src/ledger/migrations.js';

t.test('in memory', async (t) => {
  ledgerSuite(t, async () => embeddedCluster('memory'));
});

t.test('on disk', async (t) => {
  ledgerSuite(t, async () => embeddedCluster('file'));
});

t.test('embedded:PATH creates the file and its folders, in WAL mode, and keeps done keys across a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-embedded-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'var', 'lib', 'hookgate', 'ledger.db');
  const url = `embedded:${file}`;
  const first = await openLedger({ ...BASE_OPTIONS, url });
  t.equal(first.backend, 'embedded');
  t.ok(existsSync(file), 'file created with its folders');
  const key = newKey();
  const c = await first.claim(key);
  if (c.state !== 'claimed') throw new Error('not claimed');
  t.equal(await first.complete(key, c.token, 200), true);
  const inFlight = newKey();
  t.equal((await first.claim(inFlight)).state, 'claimed');
  await first.close();

  const db = new Database(file, { readonly: true });
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  db.close();

  const second = await openLedger({ ...BASE_OPTIONS, url });
  t.teardown(() => second.close());
  t.match(await second.claim(key), { state: 'done', status: 200 }, 'done key remembered after a restart');
  t.equal((await second.claim(inFlight)).state, 'in_flight', 'a claim in flight before the restart still holds its lease');
});

t.test('migrate(url) on an embedded file: versioned, idempotent; migrate: false refuses an unmigrated file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-embedded-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const url = `embedded:${join(dir, 'm', 'ledger.db')}`;
  await t.rejects(openLedger({ ...BASE_OPTIONS, url, migrate: false }), /hookgate migrate/);
  t.same(await migrate(url), { backend: 'embedded', from: 0, to: MIGRATIONS.at(-1)!.version });
  t.same(await migrate(url), { backend: 'embedded', from: MIGRATIONS.at(-1)!.version, to: MIGRATIONS.at(-1)!.version });
  const l = await openLedger({ ...BASE_OPTIONS, url, migrate: false });
  t.teardown(() => l.close());
  t.equal((await l.claim(newKey())).state, 'claimed');
});

t.test('expired rows are swept in batches', async (t) => {
  let now = 1_000_000;
  const l = openEmbeddedLedger({ ...BASE_OPTIONS, retentionMs: 1000, leaseMs: 100 }, undefined, () => now);
  t.teardown(() => l.close());
  for (let i = 0; i < 25; i++) {
    const key = newKey();
    const c = await l.claim(key);
    if (c.state === 'claimed' && i % 2) await l.complete(key, c.token, 200);
  }
  t.equal(l.sweep(), 0, 'nothing expired yet');
  now += 1001;
  t.equal(l.sweep(10, 1), 10, 'one batch of 10');
  t.equal(l.sweep(10), 15, 'the rest');
  t.equal(l.sweep(), 0);
});
