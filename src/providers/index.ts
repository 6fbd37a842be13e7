// The registry: provider name (the route's `provider:` value) → scheme.
// Hand-written schemes: one import and one entry a line, sorted by name. Providers that are data (an
// HMAC preset, a token preset) live in presets/, one entry a provider, and join through the spreads at
// the end. Every scheme carries `info` (its family, documentation, headers, id source): `hookgate
// providers` and docs/providers.md are generated from it, and the table tests run every vector in it.
import type { Scheme } from './types.js';
import { hmacScheme } from './hmac-engine.js';
import { tokenScheme } from './token.js';
import { withBuiltinInfo } from './builtin-info.js';
import { BODY } from './presets/body.js';
import { KEYED_HASH } from './presets/keyed-hash.js';
import { TIMESTAMPED } from './presets/timestamped.js';
import { TOKEN } from './presets/token.js';
import { URL_SIGNED } from './presets/url-signed.js';
import { adyen } from './adyen.js';
import { bitbucket } from './bitbucket.js';
import { braintree } from './braintree.js';
import { calendly } from './calendly.js';
import { ahasend, ansa, clerk, goody, make, openai, orkestapay, replicate, resend, signatureapi, soharHealth, superwall, svix } from './standard-users.js';
import { discord } from './discord.js';
import { generic } from './generic.js';
import { github } from './github.js';
import { gitlab } from './gitlab.js';
import { hubspot } from './hubspot.js';
import { intercom } from './intercom.js';
import { linear } from './linear.js';
import { mailgun } from './mailgun.js';
import { paddle } from './paddle.js';
import { pagerduty } from './pagerduty.js';
import { sendgrid } from './sendgrid.js';
import { shopify } from './shopify.js';
import { slack } from './slack.js';
import { square } from './square.js';
import { standard } from './standard.js';
import { stripe } from './stripe.js';
import { twilio } from './twilio.js';
import { twitch } from './twitch.js';
import { typeform } from './typeform.js';
import { zoom } from './zoom.js';
import { jwt, JWT_SCHEMES } from './jwt-providers.js';
import { paypal } from './paypal.js';
import { awsSns } from './aws-sns.js';
import { telnyx, wise } from './asymmetric.js';
import { appleAppStore } from './apple.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyScheme = Scheme<any>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const fromData = <P extends { name: string }>(list: readonly P[], build: (p: P) => AnyScheme): Record<string, AnyScheme> =>
  Object.fromEntries(list.map((p) => [p.name, build(p)]));

/** Each source's names, refusing a name given twice (a preset silently replacing a scheme would change what verifies). */
function merge(...sources: Record<string, AnyScheme>[]): Record<string, AnyScheme> {
  const out: Record<string, AnyScheme> = {};
  for (const s of sources) for (const [name, scheme] of Object.entries(s)) {
    if (Object.hasOwn(out, name)) throw new Error(`provider ${name} is registered twice`);
    out[name] = scheme;
  }
  return out;
}

const registry: Record<string, AnyScheme> = merge({
  adyen,
  ahasend,
  ansa,
  bitbucket,
  braintree,
  calendly,
  clerk,
  discord,
  generic,
  github,
  gitlab,
  goody,
  hubspot,
  intercom,
  linear,
  mailgun,
  make,
  openai,
  orkestapay,
  paddle,
  pagerduty,
  replicate,
  resend,
  sendgrid,
  shopify,
  signatureapi,
  slack,
  'sohar-health': soharHealth,
  square,
  standard,
  stripe,
  superwall,
  svix,
  twilio,
  twitch,
  typeform,
  zoom,
},
  // JWT family, public-key and certificate-URL providers (each file lists its own)
  { jwt, ...JWT_SCHEMES, paypal, 'aws-sns': awsSns, telnyx, wise, 'apple-app-store': appleAppStore },
  fromData(BODY, hmacScheme),
  fromData(KEYED_HASH, hmacScheme),
  fromData(TIMESTAMPED, hmacScheme),
  fromData(TOKEN, tokenScheme),
  fromData(URL_SIGNED, hmacScheme),
);

for (const [name, scheme] of Object.entries(registry)) registry[name] = withBuiltinInfo(name, scheme);

export const SCHEMES: Readonly<Record<string, Scheme<unknown>>> = Object.freeze(
  Object.fromEntries(Object.entries(registry).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
);

export function getScheme(name: string): Scheme<unknown> | undefined {
  return Object.hasOwn(SCHEMES, name) ? SCHEMES[name] : undefined;
}

export const PROVIDER_NAMES: readonly string[] = Object.keys(SCHEMES);

/** The provider that lists `name` among its other names (`forgejo` → `gitea`), for a config error that says what to write. */
export function providerForAlias(name: string): string | undefined {
  return PROVIDER_NAMES.find((p) => SCHEMES[p]!.info?.aliases?.includes(name));
}
