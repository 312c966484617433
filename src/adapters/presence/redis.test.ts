import { describeRedis } from '../../../test/helpers/databases.js'
import { REDIS_URL, testRedisPrefix } from '../../../test/helpers/redis.js'
import { runPresenceContract } from './presence.contract.js'
import { createRedisPresence } from './redis.js'

describeRedis('redis', () =>
  runPresenceContract('redis', async () => {
    const prefix = testRedisPrefix()
    const [a, b] = await Promise.all([createRedisPresence(REDIS_URL, prefix), createRedisPresence(REDIS_URL, prefix)])
    return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) }
  }),
)
