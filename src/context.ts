import { createMemoryPresence } from './adapters/presence/memory.js'
import { createRedisPresence } from './adapters/presence/redis.js'
import { createMemoryPubSub } from './adapters/pubsub/memory.js'
import { createRedisPubSub } from './adapters/pubsub/redis.js'
import { createPostgresStorage } from './adapters/storage/postgres.js'
import { createSqliteStorage } from './adapters/storage/sqlite.js'
import { ConfigError, type Config } from './config.js'
import { createLogger, type Logger } from './logger.js'
import { systemClock, type Clock } from './ports/clock.js'
import type { Presence } from './ports/presence.js'
import type { PubSub } from './ports/pubsub.js'
import type { Storage } from './ports/storage.js'
import type { WebhookTransport } from './ports/webhook-transport.js'
import type { ServiceDeps } from './services/deps.js'
import { createWebhookDispatch } from './services/webhook-dispatch.js'
import { createHttpWebhookTransport } from './webhooks/http-transport.js'

/** Everything a transport needs: the config and the services' dependencies. */
export interface AppContext extends ServiceDeps {
  config: Config
  close(): Promise<void>
}

export interface ContextOverrides {
  storage?: Storage
  clock?: Clock
  pubsub?: PubSub
  presence?: Presence
  logger?: Logger
  webhookTransport?: WebhookTransport
}

export function createStorage(databaseUrl: string, logger?: Logger): Storage {
  if (databaseUrl.startsWith('sqlite:')) return createSqliteStorage(databaseUrl.slice('sqlite:'.length), { logger })
  return createPostgresStorage(databaseUrl, { logger })
}

async function reachRedis<T>(url: string, connect: () => Promise<T>): Promise<T> {
  try {
    return await connect()
  } catch (err) {
    const where = new URL(url).host
    throw new ConfigError(`REDIS_URL: cannot reach Redis at ${where} (${(err as Error).message})`)
  }
}

/** The composition root: the one place that knows which adapter serves which port. */
export async function createContext(config: Config, overrides: ContextOverrides = {}): Promise<AppContext> {
  const logger = overrides.logger ?? createLogger(config.logLevel)
  const storage = overrides.storage ?? createStorage(config.databaseUrl, logger)
  await storage.migrate()
  // With Redis, events, typing and presence reach every process sharing the database.
  const { redisUrl, redisPrefix } = config
  const pubsub = overrides.pubsub ?? (redisUrl ? await reachRedis(redisUrl, () => createRedisPubSub(redisUrl, redisPrefix)) : createMemoryPubSub())
  const presence =
    overrides.presence ?? (redisUrl ? await reachRedis(redisUrl, () => createRedisPresence(redisUrl, redisPrefix)) : createMemoryPresence())
  return {
    config,
    storage,
    clock: overrides.clock ?? systemClock,
    pubsub,
    presence,
    logger,
    webhookTransport:
      overrides.webhookTransport ?? createHttpWebhookTransport({ allowPrivateTargets: config.webhooksAllowPrivateTargets }),
    webhookDispatch: createWebhookDispatch(),
    settings: {
      presenceTtlMs: config.presenceTtlMs,
      idempotencyTtlMs: config.idempotencyTtlMs,
      webhookFragmentWindowMs: config.webhookFragmentWindowMs,
      conversationIdleMs: config.conversationIdleMs,
    },
    async close() {
      await pubsub.close()
      await presence.close()
      await storage.close()
    },
  }
}
