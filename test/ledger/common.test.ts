// The row key of both SQL ledgers is sha256 of the delivery key's UTF-8 bytes: rows written by an
// earlier release (and by every other replica) are found only if it stays exactly that.
import t from 'tap';
import { createHash } from 'node:crypto';
import { keyHash } from '../../src/ledger/common.js';

t.test('keyHash is sha256 of the key\'s UTF-8 bytes', async (t) => {
  t.equal(keyHash('abc').toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'the FIPS 180-2 vector');
  t.equal(keyHash('').toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  for (const key of ['/webhooks/stripe|acme|id:evt_1', 'r|t\u00e9|id:\u00ff\u0100', 'r|t|id:\u2603\ud83d\ude00', `r|t|sha256:${'f'.repeat(64)}`, 'x'.repeat(5000)]) {
    const h = keyHash(key);
    t.ok(Buffer.isBuffer(h) && h.length === 32, 'a 32-byte Buffer');
    t.equal(h.toString('hex'), createHash('sha256').update(Buffer.from(key, 'utf8')).digest('hex'), JSON.stringify(key.slice(0, 40)));
  }
});
