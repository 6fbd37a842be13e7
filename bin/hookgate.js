#!/usr/bin/env node
// The published entry point: the compiled CLI (run `npm run build` first in a clone).
import('../dist/src/cli/main.js').then((m) => m.main(process.argv.slice(2)));
