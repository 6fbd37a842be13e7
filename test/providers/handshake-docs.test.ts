// docs/providers-handshakes.md and docs/providers-keys.md stay in step with the data: every handshake
// kind has its row, every provider of this family a documentation URL and a mention.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { HANDSHAKES, HANDSHAKE_KINDS } from '../../src/providers/handshakes.js';
import { getScheme } from '../../src/providers/index.js';

t.test('every handshake kind has a row and a documentation URL', async (t) => {
  const doc = readFileSync('docs/providers-handshakes.md', 'utf8');
  for (const kind of HANDSHAKE_KINDS) {
    t.match(doc, new RegExp(`^\\| \`${kind}\` \\|`, 'm'), `${kind} has a row`);
    t.match(HANDSHAKES[kind].docs, /^https:\/\//);
  }
});

t.test('every token, certificate and public-key provider is documented with its URL', async (t) => {
  const doc = readFileSync('docs/providers-keys.md', 'utf8');
  for (const name of ['plaid', 'netlify', 'vonage', 'fusionauth', 'fusionauth-hmac', 'google-pubsub', 'bot-framework', 'azure-event-grid', 'constant-contact', 'jwt', 'paypal', 'aws-sns', 'apple-app-store', 'telnyx', 'wise']) {
    t.match(doc, `\`${name}\``, `${name} in docs/providers-keys.md`);
    t.match(getScheme(name)?.docs ?? '', /^https:\/\//, `${name} has a documentation URL`);
  }
});
