import { pino, type DestinationStream, type Logger } from 'pino'

export type { Logger }

// @NOTE API keys must never reach a log line: the header is redacted wherever a request is logged.
const REDACT = ['req.headers["api-key"]', 'req.headers["partner-key"]', 'req.headers.authorization', 'apiKey']

/** The root logger: JSON lines on stdout, or on `destination` (tests). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, redact: { paths: REDACT, censor: '[redacted]' } }
  return destination ? pino(options, destination) : pino(options)
}
