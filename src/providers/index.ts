// The registry: provider name (the route's `provider:` value) → scheme.
// Each scheme lives in its own file beside this one; add one import and one entry per scheme.
import type { Scheme } from './types.js';
import { stripe } from './stripe.js';
import { github } from './github.js';
import { standard } from './standard.js';
import { slack } from './slack.js';
import { shopify } from './shopify.js';
import { generic } from './generic.js';
import { paddle } from './paddle.js';
import { intercom } from './intercom.js';
import { typeform } from './typeform.js';
import { bitbucket } from './bitbucket.js';
import { pagerduty } from './pagerduty.js';
import { linear } from './linear.js';
import { calendly } from './calendly.js';
import { zoom } from './zoom.js';
import { twitch } from './twitch.js';
import { gitlab } from './gitlab.js';
import { discord } from './discord.js';
import { hubspot } from './hubspot.js';
import { mailgun } from './mailgun.js';
import { sendgrid } from './sendgrid.js';
import { square } from './square.js';
import { twilio } from './twilio.js';
// h-jwt: JWT family, asymmetric, certificate-URL providers (each file lists its own)
import { jwt, JWT_SCHEMES } from './jwt-providers.js';
import { paypal } from './paypal.js';
import { awsSns } from './aws-sns.js';
import { telnyx, wise } from './asymmetric.js';
import { appleAppStore } from './apple.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const registry: Record<string, Scheme<any>> = {
  stripe,
  github,
  standard,
  slack,
  shopify,
  generic,
  paddle,
  intercom,
  typeform,
  bitbucket,
  pagerduty,
  linear,
  calendly,
  zoom,
  twitch,
  gitlab,
  twilio,
  discord,
  sendgrid,
  square,
  hubspot,
  mailgun,
  // h-jwt
  jwt,
  ...JWT_SCHEMES,
  paypal,
  'aws-sns': awsSns,
  telnyx,
  wise,
  'apple-app-store': appleAppStore,
};

export const SCHEMES: Readonly<Record<string, Scheme<unknown>>> = Object.freeze(registry);

export function getScheme(name: string): Scheme<unknown> | undefined {
  return Object.hasOwn(SCHEMES, name) ? SCHEMES[name] : undefined;
}

export const PROVIDER_NAMES: readonly string[] = Object.keys(SCHEMES);
