import { createMemoryPresence } from './memory.js'
import { runPresenceContract } from './presence.contract.js'

runPresenceContract('memory', async () => {
  const store = createMemoryPresence()
  return { a: store, b: store, close: () => store.close() }
})
