import { Redis } from 'ioredis'
import type { StoredEvent } from '../../domain/events.js'
import type { PubSub, Signal } from '../../ports/pubsub.js'

/**
 * Pub/sub across Parley processes over Redis channels. Redis delivers at most once (a subscriber
 * that reconnects misses what was published meanwhile): the realtime hub notices the gap by seq
 * and reads it back from the event table, and a lost typing signal only goes unseen.
 */
export async function createRedisPubSub(url: string, prefix: string): Promise<PubSub> {
  const publisher = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 })
  const subscriber = new Redis(url, { lazyConnect: true })
  const channels = { events: `${prefix}:events`, signals: `${prefix}:signals` }
  const listeners = new Set<(event: StoredEvent) => void>()
  const signalListeners = new Set<(signal: Signal) => void>()
  subscriber.on('message', (channel: string, message: string) => {
    if (channel === channels.events) {
      const event = JSON.parse(message) as StoredEvent
      for (const listener of listeners) listener(event)
    } else if (channel === channels.signals) {
      const signal = JSON.parse(message) as Signal
      for (const listener of signalListeners) listener(signal)
    }
  })
  // Errors surface through failed commands; without a listener ioredis would also log each one.
  publisher.on('error', () => {})
  subscriber.on('error', () => {})
  await Promise.all([publisher.connect(), subscriber.connect()])
  // Subscribed before the factory returns: nothing published after start is missed.
  await subscriber.subscribe(channels.events, channels.signals)
  return {
    async publish(event) {
      await publisher.publish(channels.events, JSON.stringify(event))
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async signal(signal) {
      await publisher.publish(channels.signals, JSON.stringify(signal))
    },
    onSignal(listener) {
      signalListeners.add(listener)
      return () => signalListeners.delete(listener)
    },
    async close() {
      listeners.clear()
      signalListeners.clear()
      await Promise.allSettled([subscriber.quit(), publisher.quit()])
    },
  }
}
