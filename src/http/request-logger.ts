/**
 * Each request's logger (`request.log`), made when the request writes its first line
 * (issue 20). Fastify makes a pino child per request, whose trace id binding pino runs
 * through the logger's redaction when the child is made: with wildcard paths
 * (LOG_REDACTIONS) that cost every request a microsecond or more, for a logger that a
 * served request never uses (its one line, the access line, has its own, access-log.ts).
 * Only warnings, errors and a client leaving early write through it, and get the same
 * child, bindings and redaction as before.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, LogFn } from 'pino';

type Method = 'info' | 'error' | 'debug' | 'fatal' | 'warn' | 'trace' | 'silent';
const METHODS: readonly Method[] = ['info', 'error', 'debug', 'fatal', 'warn', 'trace', 'silent'];

export class LazyRequestLogger implements FastifyBaseLogger {
  declare info: LogFn;
  declare error: LogFn;
  declare debug: LogFn;
  declare fatal: LogFn;
  declare warn: LogFn;
  declare trace: LogFn;
  declare silent: LogFn;
  #made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  /** The pino child Fastify would have made, made once. */
  made(): FastifyBaseLogger {
    return (this.#made ??= this.parent.child(this.bindings, this.options));
  }

  get level(): string {
    return this.#made?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: string) {
    this.made().level = level;
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.made().child(bindings, options);
  }
}

// On the prototype, so a request that never logs allocates one small object and no closures.
for (const method of METHODS) {
  LazyRequestLogger.prototype[method] = function (this: LazyRequestLogger, ...args: Parameters<LogFn>): void {
    const logger = this.made();
    Reflect.apply(logger[method], logger, args);
  } as LogFn;
}

/** For Fastify's `childLoggerFactory`. */
export function lazyRequestLogger(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyRequestLogger(parent, bindings, options);
}
