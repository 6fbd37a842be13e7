// Every content type is read as raw bytes: the signature covers the bytes, and the upstream must get
// exactly them (ARCHITECTURE.md, "One trap"). Fastify stops reading past the route's bodyLimit (413).
import type { FastifyInstance } from 'fastify';

export function rawBodyParser(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
}
