// The lean import of undici's Pool is undici's own class, with the request API a forward uses.
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from '../../src/stages/upstream-pool.js';

t.test('the pool is undici\'s Pool and forwards a request', async (t) => {
  const server = createServer((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => res.end(`${req.method} ${req.url} ${n}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  t.teardown(() => pool.close());
  const res = await pool.request({ path: '/x?y=1', method: 'POST', body: Buffer.from('12345') });
  t.equal(res.statusCode, 200);
  t.equal(await res.body.text(), 'POST /x?y=1 5');
  const undici = await import('undici');
  t.equal(Pool, undici.Pool, 'the same class as the package\'s export');
});
