// Connection URLs (ledger.url, limits.store, upstream.url) may carry a password, and a mistyped one is
// echoed by the messages that say what is wrong with it. Every message about the configuration passes
// through here, so no shape of typo (a wrong scheme, a missing slash, a password with `/` or `@` in
// it) prints the credentials.

// A run of characters that can belong to one value in a message (values are quoted there).
const TOKEN = /[^\s"'`<>,]+/g;
// `scheme:` and any slashes after it, kept so the message still says what kind of URL it was.
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/*/;

/** One value: its user information (everything between the scheme and the last `@`) becomes `***`. */
function redactToken(token: string): string {
  const at = token.lastIndexOf('@');
  if (at <= 0) return token;
  const slashes = token.indexOf('//');
  let start: number;
  if (slashes >= 0 && slashes < at) start = slashes + 2;
  else {
    // No `//`: `postgres:user:pw@host`, `redis:/:pw@host`. Without a `:` before the `@` it is a mail
    // address or a name, not credentials.
    if (!token.slice(0, at).includes(':')) return token;
    // Keep `scheme:` only when what follows still holds the `:` of user:password (else the scheme
    // itself may be the user name: `user:pw@host`).
    const scheme = SCHEME.exec(token)?.[0] ?? '';
    start = scheme.endsWith('/') || token.slice(scheme.length, at).includes(':') ? scheme.length : 0;
  }
  return `${token.slice(0, start)}***${token.slice(at)}`;
}

/** The text with the user information of every URL-like value replaced by `***`. */
export function redactCredentials(text: string): string {
  return text.indexOf('@') < 0 ? text : text.replace(TOKEN, redactToken);
}
