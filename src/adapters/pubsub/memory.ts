import type { StoredEvent } from '../../domain/events.js'
import type { PubSub, Signal } from '../../ports/pubsub.js'

/** In-process pub/sub for a single Parley process. */
export function createMemoryPubSub(): PubSub {
  const listeners = new Set<(event: StoredEvent) => void>()
  const signalListeners = new Set<(signal: Signal) => void>()
  return {
    async publish(event) {
      for (const listener of listeners) listener(event)
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async signal(signal) {
      for (const listener of signalListeners) listener(signal)
    },
    onSignal(listener) {
      signalListeners.add(listener)
      return () => signalListeners.delete(listener)
    },
    async close() {
      listeners.clear()
      signalListeners.clear()
    },
  }
}
