// Fastify loads ajv and fast-json-stringify (with their URI and format libraries, about 110 modules)
// when an instance is made, for route schemas. hookgate's routes declare none: bodies stay raw bytes
// for the signature, and the admin API checks its few fields by hand. Handing Fastify factories that
// load its default compilers on first use keeps them out of an idle gateway's memory
// (docs/benchmarks.md, Memory); a route that ever declares a schema gets the same compilers as before.
import type { FastifyServerOptions } from 'fastify';
import { fromFastify } from './from-fastify.js';

type Factory = (...args: unknown[]) => unknown;
function lazy(name: string): Factory {
  let build: Factory | undefined;
  // Each module exports a selector that makes the factory (it caches compilers per schema set).
  return (...args) => (build ??= (fromFastify(name) as () => Factory)())(...args);
}

type Factories = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;

export const lazyCompilers = {
  compilersFactory: {
    buildValidator: lazy('@fastify/ajv-compiler') as NonNullable<Factories['buildValidator']>,
    buildSerializer: lazy('@fastify/fast-json-stringify-compiler') as NonNullable<Factories['buildSerializer']>,
  },
};
