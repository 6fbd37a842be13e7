#!/usr/bin/env node
// Writes config/hookgate.schema.json from the one schema declaration in src/config/schema.ts
// (run after the build; test/config/schema-file.test.ts fails when the file is stale).
import { writeFileSync } from 'node:fs';
import { publishedSchema } from '../dist/src/config/schema.js';

writeFileSync(new URL('../config/hookgate.schema.json', import.meta.url), JSON.stringify(publishedSchema(), null, 2) + '\n');
