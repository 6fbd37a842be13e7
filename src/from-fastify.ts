// A require that resolves from Fastify's own folder: the copies of its dependencies (proxy-addr, the
// schema compilers) that Fastify itself uses, so hookgate and Fastify agree, whatever npm hoisted.
import { createRequire } from 'node:module';

export const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));
