import type { StoredEvent } from '../domain/events.js'
import { generateTimeOrderedId } from '../domain/ids.js'
import type { Agent, Conversation, Message, Visitor } from '../domain/model.js'
import {
  conversationFragment,
  conversationStarted,
  conversationTranscript,
  extendFragment,
  parleyEventPayload,
  type ConversationFacts,
  type ConversationFragmentPayload,
} from '../domain/webhook-payloads.js'
import {
  isParleyWebhookEvent,
  WEBHOOK_LEASE_MS,
  type BrevoWebhookEvent,
  type WebhookDelivery,
  type WebhookEventName,
} from '../domain/webhooks.js'
import type { Tx } from '../ports/storage.js'
import type { ServiceDeps } from './deps.js'

/** What an event means for its conversation, in the terms of Brevo's conversation webhooks. */
export type ConversationMoment =
  /** A visitor's or agent's message began the conversation, or began it again after a close. */
  | { kind: 'started'; conversation: Conversation; message: Message }
  /** Another message of a conversation that has started. */
  | { kind: 'continued'; conversation: Conversation; message: Message }
  /** The conversation was closed; `conversation` is as it was when that happened. */
  | { kind: 'closed'; conversation: Conversation }

/** A transcript carries at most this many messages: the latest of a very long conversation. */
export const TRANSCRIPT_MESSAGE_LIMIT = 1000
/** Messages one conversationFragment carries at most; a burst beyond goes on in the next. */
export const MAX_FRAGMENT_MESSAGES = 100

function brevoEventOf(moment: ConversationMoment): BrevoWebhookEvent | undefined {
  switch (moment.kind) {
    case 'started':
      return 'conversationStarted'
    case 'continued':
      return 'conversationFragment'
    case 'closed':
      // A conversation of pushed or automatic messages alone never started, so it has no transcript.
      return moment.conversation.startedAt === undefined ? undefined : 'conversationTranscript'
  }
}

async function gatherFacts(deps: ServiceDeps, tx: Tx, conversation: Conversation, messages: Message[]): Promise<ConversationFacts> {
  const { accountId } = conversation
  const visitor: Visitor = (await tx.visitors.get(accountId, conversation.visitorId)) ?? {
    id: conversation.visitorId,
    accountId,
    createdAt: conversation.createdAt,
  }
  const agents = new Map<string, Agent>()
  for (const id of new Set(messages.map((m) => m.agentId).filter((id) => id !== undefined))) {
    const agent = await tx.agents.get(accountId, id)
    if (agent) agents.set(id, agent)
  }
  // @NOTE A presence lookup inside the transaction: in-process memory today; with Redis it is one
  // round trip, paid only by accounts whose endpoints want these events.
  const online = await deps.presence.onlineAgents(accountId, deps.clock.now())
  return { conversation, visitor, agents, isNoAvailableAgent: online.length === 0 }
}

/**
 * Writes, in the event's own transaction, one delivery per enabled endpoint that subscribes to
 * what happened: Parley's event itself, and Brevo's conversation event when `moment` makes one.
 * An account without endpoints pays one indexed lookup. A message of an ongoing conversation
 * joins the endpoint's fragment that is still gathering (unclaimed, and the latest of the
 * conversation's pending deliveries), so a burst becomes one delivery and order is kept.
 *
 * A delivery due at once, with nothing earlier of its conversation pending for that endpoint, is
 * leased to this process's worker in the same transaction and handed to it after the commit, while
 * the worker has room; the rest wait for a claim.
 */
export async function queueWebhookDeliveries(
  deps: ServiceDeps,
  tx: Tx,
  event: StoredEvent,
  moment: ConversationMoment | undefined,
): Promise<void> {
  const endpoints = await tx.webhookEndpoints.listEnabled(event.accountId)
  if (endpoints.length === 0) return
  const parleyEvent = isParleyWebhookEvent(event.type) ? event.type : undefined
  const brevoEvent = moment && brevoEventOf(moment)
  const forParley = parleyEvent ? endpoints.filter((e) => e.events.includes(parleyEvent)) : []
  const forBrevo = brevoEvent ? endpoints.filter((e) => e.events.includes(brevoEvent)) : []
  if (forParley.length === 0 && forBrevo.length === 0) return

  const now = deps.clock.now()
  let room = deps.webhookDispatch.room()
  const handed: WebhookDelivery[] = []
  let waitingDue = 0
  async function queue(endpointId: string, name: WebhookEventName, payload: string, nextAt: number, conversationId = event.conversationId) {
    const delivery: WebhookDelivery = {
      id: generateTimeOrderedId(now),
      accountId: event.accountId,
      endpointId,
      conversationId,
      seq: event.seq,
      event: name,
      payload,
      status: 'pending',
      attempts: 0,
      tries: 0,
      nextAt,
      createdAt: now,
      attemptLog: [],
    }
    const due = nextAt <= now
    const inOrder = async () =>
      conversationId === undefined || !(await tx.webhookDeliveries.hasPendingBefore(event.accountId, endpointId, conversationId, event.seq))
    if (due && room > 0 && (await inOrder())) {
      delivery.leasedUntil = now + WEBHOOK_LEASE_MS
      handed.push(delivery)
      room--
    } else if (due) {
      waitingDue++
    }
    await tx.webhookDeliveries.insert(delivery)
  }

  if (parleyEvent && forParley.length > 0) {
    const body = JSON.stringify(parleyEventPayload(event))
    for (const endpoint of forParley) await queue(endpoint.id, parleyEvent, body, now)
  }

  if (moment && forBrevo.length > 0) {
    const { conversation } = moment
    if (moment.kind === 'started') {
      const body = JSON.stringify(conversationStarted(moment.message, await gatherFacts(deps, tx, conversation, [moment.message])))
      for (const endpoint of forBrevo) await queue(endpoint.id, 'conversationStarted', body, now, conversation.id)
    } else if (moment.kind === 'continued') {
      const facts = await gatherFacts(deps, tx, conversation, [moment.message])
      let fresh: string | undefined
      for (const endpoint of forBrevo) {
        // @NOTE Messages of one conversation are serialised by the conversation row they all
        // touch first, so two of them never extend the same fragment at once; a worker's claim
        // sets the lease that makes replaceUnclaimedPayload refuse. A fragment is joined only if
        // it is the latest pending one: anything queued after it (a transcript) waits behind it,
        // so the new message must come after that.
        // It must also still be in its window: one held back (an earlier delivery of the
        // conversation failing for days) would otherwise gather every later message into one body
        // too big for its receiver. Past its window or full, the message starts the next one.
        const last = await tx.webhookDeliveries.lastPendingOfConversation(event.accountId, endpoint.id, conversation.id)
        if (
          last?.event === 'conversationFragment' &&
          last.status === 'pending' &&
          last.attempts === 0 &&
          last.leasedUntil === undefined &&
          last.nextAt > now
        ) {
          const fragment = JSON.parse(last.payload) as ConversationFragmentPayload
          if (fragment.messages.length < MAX_FRAGMENT_MESSAGES) {
            const extended = extendFragment(fragment, moment.message, facts)
            if (await tx.webhookDeliveries.replaceUnclaimedPayload(event.accountId, last.id, JSON.stringify(extended))) continue
          }
        }
        fresh ??= JSON.stringify(conversationFragment([moment.message], facts))
        await queue(endpoint.id, 'conversationFragment', fresh, now + deps.settings.webhookFragmentWindowMs, conversation.id)
      }
    } else {
      const messages = await tx.messages.listLiveSince(conversation.accountId, conversation.id, conversation.openedAt, TRANSCRIPT_MESSAGE_LIMIT)
      const body = JSON.stringify(conversationTranscript(messages, await gatherFacts(deps, tx, conversation, messages)))
      for (const endpoint of forBrevo) await queue(endpoint.id, 'conversationTranscript', body, now, conversation.id)
    }
  }
  tx.onCommit(() => {
    if (handed.length > 0) deps.webhookDispatch.take(handed)
    if (waitingDue > 0) deps.webhookDispatch.wake()
  })
}
