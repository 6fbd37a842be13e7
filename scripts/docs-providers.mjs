// Writes docs/providers.md from the provider registry (run after a build: npm run docs:providers).
import { writeFileSync } from 'node:fs';
import { renderProvidersDoc } from '../dist/src/cli/providers-doc.js';

writeFileSync(new URL('../docs/providers.md', import.meta.url), renderProvidersDoc());
