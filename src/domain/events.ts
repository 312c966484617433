import type { Message, Visitor } from './model.js'

/**
 * Every change appends one event row (same transaction) carrying the account's next sequence
 * number. Realtime clients resume from it and webhooks are derived from it, so the payloads hold
 * everything a reader needs without another query.
 */
export interface EventPayloads {
  'message.created': { message: Message }
  'message.updated': { message: Message }
  'message.deleted': { message: Message }
  'agent.online': { agentId: string; until: number }
  /** The agent's last ping ran out (`PARLEY_PRESENCE_TTL_SECONDS` without one). */
  'agent.offline': { agentId: string }
  /** An agent closed the conversation, or it sat idle too long. The next message reopens it. */
  'conversation.closed': { conversationId: string; visitorId: string; reason: 'agent' | 'idle' }
  'visitor.group_changed': { visitor: Visitor }
}

export type EventType = keyof EventPayloads

export interface NewEvent<T extends EventType = EventType> {
  type: T
  conversationId?: string
  payload: EventPayloads[T]
}

export interface StoredEvent<T extends EventType = EventType> extends NewEvent<T> {
  accountId: string
  seq: number
  createdAt: number
}
