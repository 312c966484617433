import type { StoredEvent } from './events.js'
import { toConversationsMessage, type ConversationsMessage } from './message.js'
import type { Agent, Conversation, Message, PageVisit, Visitor } from './model.js'
import type { ParleyWebhookEvent } from './webhooks.js'

// @NOTE The bodies Parley POSTs. Brevo's three events keep Brevo's shapes (spec section 5): fields
// Parley knows are filled, the others left out, never null. Parley's own events carry the same
// message object as the REST API, plus the event's seq and time.

/** A message as Brevo's webhooks show it: the REST shape without `visitorId`, plus `isMissed`. */
export type WebhookMessage = Omit<ConversationsMessage, 'visitorId'> & { isMissed?: boolean }

export interface WebhookAgent {
  id: string
  name: string
  email: string
  userpic?: string
}

export interface WebhookVisitor {
  id: string
  /** Brevo's thread is Parley's conversation. */
  threadId: string
  source?: 'widget'
  groupId?: string
  ip?: string
  browserLanguage?: string
  userAgent?: string
  lastVisit?: { hostName?: string; viewedPages: PageVisit[] }
  /** What the site passed to `updateIntegrationData`. */
  integrationAttributes?: Record<string, unknown>
}

export interface ConversationStartedPayload {
  eventName: 'conversationStarted'
  conversationId: string
  message: WebhookMessage
  /** The agent who started it; absent when the visitor did. */
  agent?: WebhookAgent
  visitor: WebhookVisitor
  conversationStartPage?: PageVisit
  isNoAvailableAgent: boolean
}

export interface ConversationFragmentPayload {
  eventName: 'conversationFragment'
  conversationId: string
  messages: WebhookMessage[]
  agents: WebhookAgent[]
  visitor: WebhookVisitor
  isNoAvailableAgent?: boolean
}

export interface ConversationTranscriptPayload {
  eventName: 'conversationTranscript'
  conversationId: string
  conversationStartPage?: PageVisit
  messages: WebhookMessage[]
  missedMessagesCount: number
  agents: WebhookAgent[]
  visitor: WebhookVisitor
}

/** A message of Parley's own message events: the REST shape, with when it was edited or deleted. */
export type ParleyEventMessage = ConversationsMessage & { editedAt?: number; deletedAt?: number }

interface ParleyEventBase {
  /** The account's event sequence number: increasing, and the order the events happened in. */
  seq: number
  createdAt: number
}

export type ParleyEventPayload = ParleyEventBase &
  (
    | { eventName: 'message.created' | 'message.updated' | 'message.deleted'; conversationId: string; message: ParleyEventMessage }
    | { eventName: 'agent.online'; agentId: string; until: number }
    | { eventName: 'agent.offline'; agentId: string }
    | { eventName: 'conversation.closed'; conversationId: string; visitorId: string; reason: 'agent' | 'idle' }
  )

export function toWebhookMessage(message: Message, isMissed = false): WebhookMessage {
  const { visitorId: _visitorId, ...wire } = toConversationsMessage(message)
  return isMissed ? { ...wire, isMissed: true } : wire
}

export function toWebhookAgent(agent: Agent): WebhookAgent {
  const wire: WebhookAgent = { id: agent.id, name: agent.name, email: agent.email }
  if (agent.userpic !== undefined) wire.userpic = agent.userpic
  return wire
}

function hostOf(link: string): string | undefined {
  try {
    return new URL(link).hostname || undefined
  } catch {
    return undefined
  }
}

export function toWebhookVisitor(visitor: Visitor, conversationId: string): WebhookVisitor {
  const wire: WebhookVisitor = { id: visitor.id, threadId: conversationId }
  // Browser facts and pages reach Parley only through the widget.
  if (visitor.browser || visitor.lastPage) wire.source = 'widget'
  if (visitor.groupId !== undefined) wire.groupId = visitor.groupId
  if (visitor.browser?.ip !== undefined) wire.ip = visitor.browser.ip
  if (visitor.browser?.language !== undefined) wire.browserLanguage = visitor.browser.language
  if (visitor.browser?.userAgent !== undefined) wire.userAgent = visitor.browser.userAgent
  if (visitor.lastPage) {
    const hostName = hostOf(visitor.lastPage.link)
    wire.lastVisit = { ...(hostName ? { hostName } : {}), viewedPages: [{ link: visitor.lastPage.link, title: visitor.lastPage.title }] }
  }
  if (visitor.attributes && Object.keys(visitor.attributes).length > 0) wire.integrationAttributes = visitor.attributes
  return wire
}

/** What every conversation event needs beyond its messages, read in the same transaction. */
export interface ConversationFacts {
  conversation: Conversation
  visitor: Visitor
  /** The agents named by the messages, by id; an agent deleted since is simply left out. */
  agents: Map<string, Agent>
  isNoAvailableAgent: boolean
}

function agentsOf(messages: Message[], agents: Map<string, Agent>): WebhookAgent[] {
  const ids = [...new Set(messages.map((m) => m.agentId).filter((id) => id !== undefined))]
  return ids.map((id) => agents.get(id)).filter((a) => a !== undefined).map(toWebhookAgent)
}

export function conversationStarted(message: Message, facts: ConversationFacts): ConversationStartedPayload {
  const payload: ConversationStartedPayload = {
    eventName: 'conversationStarted',
    conversationId: facts.conversation.id,
    message: toWebhookMessage(message),
    visitor: toWebhookVisitor(facts.visitor, facts.conversation.id),
    isNoAvailableAgent: facts.isNoAvailableAgent,
  }
  const agent = message.agentId === undefined ? undefined : facts.agents.get(message.agentId)
  if (agent) payload.agent = toWebhookAgent(agent)
  if (facts.conversation.startPage) payload.conversationStartPage = facts.conversation.startPage
  return payload
}

export function conversationFragment(messages: Message[], facts: ConversationFacts): ConversationFragmentPayload {
  return {
    eventName: 'conversationFragment',
    conversationId: facts.conversation.id,
    messages: messages.map((m) => toWebhookMessage(m)),
    agents: agentsOf(messages, facts.agents),
    visitor: toWebhookVisitor(facts.visitor, facts.conversation.id),
    isNoAvailableAgent: facts.isNoAvailableAgent,
  }
}

/**
 * Adds a message to a fragment not yet sent: a burst of messages becomes one delivery. The visitor
 * and agent availability are refreshed to what they are now.
 */
export function extendFragment(
  fragment: ConversationFragmentPayload,
  message: Message,
  facts: ConversationFacts,
): ConversationFragmentPayload {
  const agents = [...fragment.agents]
  const agent = message.agentId === undefined ? undefined : facts.agents.get(message.agentId)
  if (agent && !agents.some((a) => a.id === agent.id)) agents.push(toWebhookAgent(agent))
  return {
    ...fragment,
    messages: [...fragment.messages, toWebhookMessage(message)],
    agents,
    visitor: toWebhookVisitor(facts.visitor, facts.conversation.id),
    isNoAvailableAgent: facts.isNoAvailableAgent,
  }
}

/** An agent's reply: what answers a visitor. Pushed and automatic messages answer nobody. */
function isAgentReply(message: Message): boolean {
  return message.type === 'agent' && !message.isPushed && !message.isTrigger
}

/**
 * The visitor messages no agent answered: those after the last agent reply. `missedMessagesCount`
 * counts them and each is marked `isMissed`.
 */
export function missedMessageIds(messages: Message[]): Set<string> {
  const missed = new Set<string>()
  for (const message of messages) {
    if (isAgentReply(message)) missed.clear()
    else if (message.type === 'visitor') missed.add(message.id)
  }
  return missed
}

export function conversationTranscript(messages: Message[], facts: ConversationFacts): ConversationTranscriptPayload {
  const missed = missedMessageIds(messages)
  const payload: ConversationTranscriptPayload = {
    eventName: 'conversationTranscript',
    conversationId: facts.conversation.id,
    messages: messages.map((m) => toWebhookMessage(m, missed.has(m.id))),
    missedMessagesCount: missed.size,
    agents: agentsOf(messages, facts.agents),
    visitor: toWebhookVisitor(facts.visitor, facts.conversation.id),
  }
  if (facts.conversation.startPage) payload.conversationStartPage = facts.conversation.startPage
  return payload
}

function toEventMessage(message: Message): ParleyEventMessage {
  const wire: ParleyEventMessage = toConversationsMessage(message)
  if (message.editedAt !== undefined) wire.editedAt = message.editedAt
  if (message.deletedAt !== undefined) wire.deletedAt = message.deletedAt
  return wire
}

/** The body of one of Parley's own events; undefined for an event type no endpoint can subscribe to. */
export function parleyEventPayload(event: StoredEvent): ParleyEventPayload | undefined {
  const base = { seq: event.seq, createdAt: event.createdAt }
  const e = event as StoredEvent<ParleyWebhookEvent>
  switch (e.type) {
    case 'message.created':
    case 'message.updated':
    case 'message.deleted': {
      const { message } = (e as StoredEvent<'message.created'>).payload
      return { eventName: e.type, ...base, conversationId: message.conversationId, message: toEventMessage(message) }
    }
    case 'agent.online': {
      const { agentId, until } = (e as StoredEvent<'agent.online'>).payload
      return { eventName: 'agent.online', ...base, agentId, until }
    }
    case 'agent.offline':
      return { eventName: 'agent.offline', ...base, agentId: (e as StoredEvent<'agent.offline'>).payload.agentId }
    case 'conversation.closed': {
      const { conversationId, visitorId, reason } = (e as StoredEvent<'conversation.closed'>).payload
      return { eventName: 'conversation.closed', ...base, conversationId, visitorId, reason }
    }
    default:
      return undefined
  }
}
