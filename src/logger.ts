import { pino, type Logger } from 'pino'

export type { Logger }

// @NOTE API keys must never reach a log line: the header is redacted wherever a request is logged.
const REDACT = ['req.headers["api-key"]', 'req.headers["partner-key"]', 'req.headers.authorization', 'apiKey']

export function createLogger(level: string): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' } })
}
