import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'

/** The server the machine provides; override with PARLEY_TEST_REDIS_URL. */
export const REDIS_URL = process.env.PARLEY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

let available: Promise<boolean> | undefined

/** Whether Redis answers. Asked once per test file. */
export function redisAvailable(): Promise<boolean> {
  available ??= (async () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null })
    redis.on('error', () => {})
    try {
      await redis.connect()
      return (await redis.ping()) === 'PONG'
    } catch {
      return false
    } finally {
      redis.disconnect()
    }
  })()
  return available
}

/** A key prefix no other test uses, so suites sharing the Redis server never see each other. */
export function testRedisPrefix(): string {
  return `parley-test-${randomBytes(6).toString('hex')}`
}
