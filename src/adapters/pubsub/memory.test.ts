import { createMemoryPubSub } from './memory.js'
import { runPubSubContract } from './pubsub.contract.js'

runPubSubContract('memory', async () => {
  const bus = createMemoryPubSub()
  return { a: bus, b: bus, close: () => bus.close() }
})
