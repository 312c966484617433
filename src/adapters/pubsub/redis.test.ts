import { describeRedis } from '../../../test/helpers/databases.js'
import { REDIS_URL, testRedisPrefix } from '../../../test/helpers/redis.js'
import { runPubSubContract } from './pubsub.contract.js'
import { createRedisPubSub } from './redis.js'

describeRedis('redis', () =>
  runPubSubContract('redis', async () => {
    const prefix = testRedisPrefix()
    const [a, b] = await Promise.all([createRedisPubSub(REDIS_URL, prefix), createRedisPubSub(REDIS_URL, prefix)])
    return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) }
  }),
)
