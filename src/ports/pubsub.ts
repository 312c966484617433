import type { StoredEvent } from '../domain/events.js'

/**
 * Something only worth knowing live: never stored, never replayed. Typing indicators are the one
 * kind today.
 */
export interface TypingSignal {
  kind: 'typing'
  accountId: string
  visitorId: string
  from: 'visitor' | 'agent'
  isTyping: boolean
  agentName?: string
}

export type Signal = TypingSignal

/**
 * Carries committed events and live signals to every process. At-most-once: a subscriber that
 * notices a gap in `seq` fills it from the event table; a lost signal is simply not shown.
 */
export interface PubSub {
  publish(event: StoredEvent): Promise<void>
  subscribe(listener: (event: StoredEvent) => void): () => void
  signal(signal: Signal): Promise<void>
  onSignal(listener: (signal: Signal) => void): () => void
  close(): Promise<void>
}
