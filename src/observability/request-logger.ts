// Fastify gives every request a child logger bound to its reqId: a pino child on every answer,
// refusals under a flood included, though most requests never log a line of their own (the delivery
// line is written apart: src/observability/delivery-log.ts). This child is made on first use.
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
}

// Each level's method makes the child, then logs through it.
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
interface LazyChild extends Record<(typeof LEVELS)[number], (...args: unknown[]) => void> {}
for (const level of LEVELS) {
  LazyChild.prototype[level] = function log(this: LazyChild, ...args: unknown[]): void {
    const real = this.real;
    Reflect.apply(real[level], real, args);
  };
}

/** Fastify's `childLoggerFactory`: the request's logger, a pino child once something logs through it. */
export const lazyChildLogger: NonNullable<FastifyServerOptions['childLoggerFactory']> = function lazyChildLogger(logger, bindings, options) {
  return new LazyChild(logger, bindings as Bindings, options as Options) as unknown as FastifyBaseLogger;
};
