// Fastify gives every request a child logger bound to its reqId. pino's child() costs a few µs, on
// every answer, refusals under a flood included, and most requests never log a line of their own (the
// delivery line is written apart: src/observability/delivery-log.ts). This child is made on first use.
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';

type Bindings = Record<string, unknown>;
type Options = Record<string, unknown>;

class LazyChild {
  #real: FastifyBaseLogger | undefined;
  constructor(private readonly parent: FastifyBaseLogger, private readonly bindings: Bindings, private readonly options: Options) {}
  get real(): FastifyBaseLogger {
    // Fastify passes an empty options object when the route sets no level or serializers.
    return (this.#real ??= Object.keys(this.options).length ? this.parent.child(this.bindings, this.options) : this.parent.child(this.bindings));
  }
  get level(): string {
    return this.#real?.level ?? this.parent.level;
  }
  set level(level: string) {
    this.real.level = level;
  }
  isLevelEnabled(level: string): boolean {
    return (this.real as unknown as { isLevelEnabled(l: string): boolean }).isLevelEnabled(level);
  }
  child(bindings: Bindings, options?: Options): FastifyBaseLogger {
    return this.real.child(bindings, options);
  }
  fatal(...args: unknown[]): void {
    const r = this.real;
    Reflect.apply(r.fatal, r, args);
  }
  error(...args: unknown[]): void {
    const r = this.real;
    Reflect.apply(r.error, r, args);
  }
  warn(...args: unknown[]): void {
    const r = this.real;
    Reflect.apply(r.warn, r, args);
  }
  info(...args: unknown[]): void {
    const r = this.real;
    Reflect.apply(r.info, r, args);
  }
  debug(...args: unknown[]): void {
    const r = this.real;
    Reflect.apply(r.debug, r, args);
  }
  trace(...args: unknown[]): void {
    const r = this.real;
    Reflect.apply(r.trace, r, args);
  }
  silent(...args: unknown[]): void {
    const r = this.real;
    Reflect.apply(r.silent, r, args);
  }
}

/** Fastify's `childLoggerFactory`: the request's logger, a pino child once something logs through it. */
export const lazyChildLogger: NonNullable<FastifyServerOptions['childLoggerFactory']> = function lazyChildLogger(logger, bindings, options) {
  return new LazyChild(logger, bindings as Bindings, options as Options) as unknown as FastifyBaseLogger;
};
