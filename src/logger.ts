import { pino, type DestinationStream, type Logger } from 'pino'

export type { Logger }

// @NOTE API keys must never reach a log line: the header is redacted wherever a request is logged.
const REDACT = ['req.headers["api-key"]', 'req.headers["partner-key"]', 'req.headers.authorization', 'apiKey']

/** The root logger: JSON lines on stdout, or on `destination` (tests). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, redact: { paths: REDACT, censor: '[redacted]' } }
  return destination ? pino(options, destination) : pino(options)
}

type LogArgs = unknown[]

/**
 * A request's logger that becomes a pino child only when something is logged through it. Fastify
 * makes one for every request, and a pino child (its bindings serialised up front) costs as much
 * as answering a cached read; with request logging off below debug, almost none is ever used.
 */
class LazyChildLogger {
  #parent: Logger
  #bindings: Record<string, unknown>
  #options: object
  #child: Logger | undefined

  constructor(parent: Logger, bindings: Record<string, unknown>, options: object) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
  }

  #log(level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace', args: LogArgs): void {
    const real = this.#real()
    ;(real[level] as (...args: LogArgs) => void).apply(real, args)
  }

  #real(): Logger {
    return (this.#child ??= this.#parent.child(this.#bindings, this.#options))
  }

  get level(): string {
    return this.#real().level
  }

  set level(level: string) {
    this.#real().level = level
  }

  isLevelEnabled(level: string): boolean {
    return this.#real().isLevelEnabled(level)
  }

  child(bindings: Record<string, unknown>, options?: object): Logger {
    return this.#real().child(bindings, options)
  }

  fatal(...args: LogArgs): void {
    this.#log('fatal', args)
  }

  error(...args: LogArgs): void {
    this.#log('error', args)
  }

  warn(...args: LogArgs): void {
    this.#log('warn', args)
  }

  info(...args: LogArgs): void {
    this.#log('info', args)
  }

  debug(...args: LogArgs): void {
    this.#log('debug', args)
  }

  trace(...args: LogArgs): void {
    this.#log('trace', args)
  }

  silent(): void {}
}

/** Fastify's `childLoggerFactory`: per-request loggers that cost nothing until used. */
export function lazyRequestLogger(parent: Logger, bindings: Record<string, unknown>, options: object): Logger {
  return new LazyChildLogger(parent, bindings, options) as unknown as Logger
}
