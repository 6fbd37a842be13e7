// Answers made before the body is read close the connection after them. Otherwise Node reads and
// discards whatever the client goes on sending to keep the connection usable (an endless chunked body
// is read for as long as the client likes), and the refusal saved
// nothing. RFC 9112 §9.6: a server that does not read the rest of a message closes the connection.
import type { FastifyReply } from 'fastify';

/** Marks the answer `connection: close` when the request declares a body that is not all read. */
export function hangUpIfUnread(reply: FastifyReply): void {
  const req = reply.request.raw;
  if (req.complete) return;
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return;
  reply.header('connection', 'close');
}
