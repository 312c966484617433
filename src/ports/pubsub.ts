import type { StoredEvent } from '../domain/events.js'

/**
 * Carries committed events to every process. At-most-once: a subscriber that notices a gap in
 * `seq` fills it from the event table.
 */
export interface PubSub {
  publish(event: StoredEvent): Promise<void>
  subscribe(listener: (event: StoredEvent) => void): () => void
  close(): Promise<void>
}
