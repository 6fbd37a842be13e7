// Answers made before the body is read close the connection after them when the rest of the body is
// unbounded or large. Otherwise Node reads and discards whatever the client goes on sending to keep
// the connection usable (an endless chunked body is read for as long as the client likes), and the
// refusal saved nothing. RFC 9112 §9.6: a server that does not read the rest of a message closes the
// connection. A body of a declared, small length is cheaper to discard than a new connection is to
// accept (a flood over the per-address limit on keep-alive connections), so that one is discarded and
// the connection kept.
import type { FastifyReply } from 'fastify';

/** The largest declared body discarded to keep a connection (a webhook's usual size, many times over). */
export const DISCARD_LIMIT = 64 * 1024;

/** Marks the answer `connection: close` when the request declares a body that is not all read and not small. */
export function hangUpIfUnread(reply: FastifyReply): void {
  const req = reply.request.raw;
  if (req.complete) return;
  const length = req.headers['content-length'];
  const small = length === undefined || (/^\d{1,6}$/.test(length) && Number(length) <= DISCARD_LIMIT);
  if (req.headers['transfer-encoding'] === undefined && small) return;
  reply.header('connection', 'close');
}
