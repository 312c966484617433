/** The only reader of process.env. Every setting is optional and has a default. */
export interface Config {
  port: number
  host: string
  /** Base URL the world reaches Parley at; defaults to http://host:port. */
  publicUrl: string
  databaseUrl: string
  redisUrl?: string
  /** Prefix of every Redis key and channel, so several deployments may share one Redis. */
  redisPrefix: string
  logLevel: string
  bootstrapApiKey?: string
  /** How long an agent stays online after a ping. */
  presenceTtlMs: number
  /** How long an Idempotency-Key is remembered. */
  idempotencyTtlMs: number
  /** Largest accepted request body, in bytes. */
  bodyLimit: number
  /** Requests per minute per API key on /v3. */
  rateLimitPerMinute: number
  /** Messages per minute one visitor may send through the widget (a burst of up to 10 is fine). */
  visitorMessagesPerMinute: number
  /** Realtime sockets are pinged this often; one that missed a ping is dropped at the next. */
  heartbeatMs: number
  /** Webhook URLs may point to private, loopback and link-local addresses (tests, local development). */
  webhooksAllowPrivateTargets: boolean
  /** How long a conversationFragment webhook gathers further messages before it is sent. */
  webhookFragmentWindowMs: number
  /** Delivered and failed webhook deliveries are kept this long, with their attempts. */
  webhookRetentionMs: number
  /** A conversation without a message for this long is closed (webhooks' conversationTranscript). */
  conversationIdleMs: number
}

export class ConfigError extends Error {
  name = 'ConfigError'
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min) throw new ConfigError(`${name} must be an integer ≥ ${min}, got "${raw}"`)
  return value
}

function boolean(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (raw === 'true' || raw === '1') return true
  if (raw === 'false' || raw === '0') return false
  throw new ConfigError(`${name} must be true or false, got "${raw}"`)
}

/** `defaults` are the caller's own, used where the environment says nothing (the CLI logs less). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, defaults: { logLevel?: string } = {}): Config {
  const port = integer(env, 'PORT', 3000)
  const host = env.HOST || '127.0.0.1'
  const databaseUrl = env.DATABASE_URL || 'sqlite:./data/parley.db'
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(databaseUrl)) {
    throw new ConfigError(`DATABASE_URL must start with sqlite: or postgres://, got "${databaseUrl}"`)
  }
  const displayHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host
  return {
    port,
    host,
    publicUrl: (env.PUBLIC_URL || `http://${displayHost}:${port}`).replace(/\/+$/, ''),
    databaseUrl,
    redisUrl: env.REDIS_URL || undefined,
    redisPrefix: env.PARLEY_REDIS_PREFIX || 'parley',
    logLevel: env.LOG_LEVEL || defaults.logLevel || 'info',
    bootstrapApiKey: env.PARLEY_BOOTSTRAP_API_KEY || undefined,
    presenceTtlMs: integer(env, 'PARLEY_PRESENCE_TTL_SECONDS', 150, 1) * 1000,
    idempotencyTtlMs: integer(env, 'PARLEY_IDEMPOTENCY_TTL_HOURS', 24, 1) * 3_600_000,
    bodyLimit: integer(env, 'PARLEY_BODY_LIMIT_BYTES', 1_048_576, 1024),
    rateLimitPerMinute: integer(env, 'PARLEY_RATE_LIMIT_PER_MINUTE', 6000, 0),
    visitorMessagesPerMinute: integer(env, 'PARLEY_VISITOR_MESSAGES_PER_MINUTE', 30, 1),
    heartbeatMs: integer(env, 'PARLEY_HEARTBEAT_SECONDS', 30, 1) * 1000,
    webhooksAllowPrivateTargets: boolean(env, 'PARLEY_WEBHOOKS_ALLOW_PRIVATE_TARGETS', false),
    webhookFragmentWindowMs: integer(env, 'PARLEY_WEBHOOK_FRAGMENT_WINDOW_SECONDS', 5, 0) * 1000,
    webhookRetentionMs: integer(env, 'PARLEY_WEBHOOK_RETENTION_DAYS', 30, 1) * 86_400_000,
    conversationIdleMs: integer(env, 'PARLEY_CONVERSATION_IDLE_MINUTES', 30, 1) * 60_000,
  }
}
