// The registry: provider name (the route's `provider:` value) → scheme.
// Each scheme lives in its own file beside this one; add one import and one entry per scheme.
import type { Scheme } from './types.js';
import { discord } from './discord.js';
import { hubspot } from './hubspot.js';
import { mailgun } from './mailgun.js';
import { sendgrid } from './sendgrid.js';
import { square } from './square.js';
import { twilio } from './twilio.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const registry: Record<string, Scheme<any>> = {
  twilio,
  discord,
  sendgrid,
  square,
  hubspot,
  mailgun,
};

export const SCHEMES: Readonly<Record<string, Scheme<unknown>>> = Object.freeze(registry);

export function getScheme(name: string): Scheme<unknown> | undefined {
  return Object.hasOwn(SCHEMES, name) ? SCHEMES[name] : undefined;
}

export const PROVIDER_NAMES: readonly string[] = Object.keys(SCHEMES);
