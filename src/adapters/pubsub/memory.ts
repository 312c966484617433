import type { StoredEvent } from '../../domain/events.js'
import type { PubSub } from '../../ports/pubsub.js'

/** In-process pub/sub for a single Parley process. */
export function createMemoryPubSub(): PubSub {
  const listeners = new Set<(event: StoredEvent) => void>()
  return {
    async publish(event) {
      for (const listener of listeners) listener(event)
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async close() {
      listeners.clear()
    },
  }
}
