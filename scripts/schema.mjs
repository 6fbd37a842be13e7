#!/usr/bin/env node
// Writes config/hookgate.schema.json and src/config/validate-config.generated.ts (the validator the
// gateway runs) from the one schema declaration in src/config/schema.ts (run after the build, then
// build again; test/config/schema-file.test.ts fails when either file is stale).
import { writeFileSync } from 'node:fs';
import { publishedSchema } from '../dist/src/config/schema.js';
import { validatorSource } from '../dist/src/config/validator-source.js';

writeFileSync(new URL('../config/hookgate.schema.json', import.meta.url), JSON.stringify(publishedSchema(), null, 2) + '\n');
writeFileSync(new URL('../src/config/validate-config.generated.ts', import.meta.url), validatorSource());
