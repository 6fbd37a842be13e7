// Loaded into a child process with `node --import <this file's URL>`: appends one line per module the
// process loads to the file named by HOOKGATE_MODULE_LOG, ES modules (their resolved URL, through a
// resolve hook on the loader thread) and CommonJS ones (every Module._load request, which covers the
// requires a CommonJS package makes inside itself). test/observability/tracing.test.ts reads it to
// prove what is not loaded, and, as its control, that the same recorder does see OpenTelemetry when it is.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const out = process.env.HOOKGATE_MODULE_LOG;
if (out) {
  const require = createRequire(import.meta.url);
  const Module = require('node:module') as { _load: (request: string, ...rest: unknown[]) => unknown };
  const load = Module._load;
  Module._load = function (this: unknown, request: string, ...rest: unknown[]) {
    appendFileSync(out, `cjs ${request}\n`);
    return load.call(this, request, ...rest);
  };
  register(new URL('./module-recorder-hooks.js', import.meta.url), { data: { out } });
}
