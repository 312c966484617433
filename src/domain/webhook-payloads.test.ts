import { describe, expect, it } from 'vitest'
import type { StoredEvent } from './events.js'
import type { Agent, Conversation, Message, Visitor } from './model.js'
import {
  conversationFragment,
  conversationStarted,
  conversationTranscript,
  extendFragment,
  missedMessageIds,
  parleyEventPayload,
  toWebhookMessage,
  toWebhookVisitor,
  type ConversationFacts,
} from './webhook-payloads.js'

const T = 1_700_000_000_000

const liz: Agent = { id: 'd9nKoegKSjmCtyK78', accountId: 'acc', email: 'liz@acme.test', name: 'Liz', userpic: 'https://x/liz.png', isDummy: false, createdAt: T }
const sam: Agent = { id: 'sam', accountId: 'acc', email: 'sam@helpdesk.test', name: 'Sam', isDummy: true, createdAt: T }

const conversation: Conversation = {
  id: 'conv',
  accountId: 'acc',
  visitorId: 'kZMvWhf8npAu3H6qd57w2Hv6nh6rnxvg',
  status: 'open',
  startPage: { link: 'https://shop.example/cart', title: 'Cart' },
  createdAt: T,
  lastActivityAt: T,
  openedAt: T,
  startedAt: T,
}

const visitor: Visitor = {
  id: conversation.visitorId,
  accountId: 'acc',
  groupId: 'support',
  attributes: { email: 'jo@example.com', firstName: 'Jo' },
  browser: { userAgent: 'Mozilla/5.0', language: 'fr-FR', ip: '203.0.113.9' },
  lastPage: { link: 'https://shop.example/checkout?step=2', title: 'Checkout' },
  createdAt: T,
}

let n = 0
function message(type: 'agent' | 'visitor', extra: Partial<Message> = {}): Message {
  n++
  return {
    id: `m${n}`,
    accountId: 'acc',
    conversationId: 'conv',
    visitorId: visitor.id,
    type,
    text: `text ${n}`,
    isPushed: false,
    isTrigger: false,
    createdAt: T + n,
    ...(type === 'agent' ? { agentId: liz.id, agentName: 'Liz' } : {}),
    ...extra,
  }
}

function facts(extra: Partial<ConversationFacts> = {}): ConversationFacts {
  return { conversation, visitor, agents: new Map([[liz.id, liz], [sam.id, sam]]), isNoAvailableAgent: false, ...extra }
}

/** Paths of every null or undefined: absent fields are left out. */
function emptyPaths(value: unknown, path = '$'): string[] {
  if (value === null || value === undefined) return [path]
  if (Array.isArray(value)) return value.flatMap((v, i) => emptyPaths(v, `${path}[${i}]`))
  if (typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => emptyPaths(v, `${path}.${k}`))
  return []
}

describe('message, visitor and agent objects', () => {
  it("shows a message as Brevo's webhooks do: no visitorId, receivedFrom kept, isMissed only when true", () => {
    const m = message('agent', { text: 'a <b>\nc', receivedFrom: 'SuperAwesomeHelpdesk', agentUserpic: 'https://x/liz.png' })
    expect(toWebhookMessage(m)).toEqual({
      id: m.id,
      type: 'agent',
      text: 'a <b>\nc',
      html: 'a &lt;b&gt;<br>c',
      createdAt: m.createdAt,
      agentId: liz.id,
      agentName: 'Liz',
      agentUserpic: 'https://x/liz.png',
      isPushed: false,
      receivedFrom: 'SuperAwesomeHelpdesk',
    })
    const v = message('visitor')
    expect(toWebhookMessage(v, true)).toEqual({ id: v.id, type: 'visitor', text: v.text, html: v.text, createdAt: v.createdAt, isMissed: true })
    expect(toWebhookMessage(message('agent', { isTrigger: true, agentId: undefined }))).toMatchObject({ isTrigger: true })
  })

  it('fills the visitor from what the widget and the site told Parley', () => {
    expect(toWebhookVisitor(visitor, 'conv')).toEqual({
      id: visitor.id,
      threadId: 'conv',
      source: 'widget',
      groupId: 'support',
      ip: '203.0.113.9',
      browserLanguage: 'fr-FR',
      userAgent: 'Mozilla/5.0',
      lastVisit: { hostName: 'shop.example', viewedPages: [{ link: 'https://shop.example/checkout?step=2', title: 'Checkout' }] },
      integrationAttributes: { email: 'jo@example.com', firstName: 'Jo' },
    })
  })

  it('leaves out what is not known, never null', () => {
    const bare: Visitor = { id: 'v', accountId: 'acc', createdAt: T, attributes: {} }
    expect(toWebhookVisitor(bare, 'conv')).toEqual({ id: 'v', threadId: 'conv' })
    const oddPage = toWebhookVisitor({ ...bare, lastPage: { link: 'not a url', title: '' } }, 'conv')
    expect(oddPage.lastVisit).toEqual({ viewedPages: [{ link: 'not a url', title: '' }] })
    expect(emptyPaths(oddPage)).toEqual([])
  })
})

describe('conversationStarted', () => {
  it('by a visitor: no agent, the start page, availability', () => {
    const m = message('visitor')
    const payload = conversationStarted(m, facts({ isNoAvailableAgent: true }))
    expect(payload).toEqual({
      eventName: 'conversationStarted',
      conversationId: 'conv',
      message: toWebhookMessage(m),
      visitor: toWebhookVisitor(visitor, 'conv'),
      conversationStartPage: { link: 'https://shop.example/cart', title: 'Cart' },
      isNoAvailableAgent: true,
    })
    expect(emptyPaths(payload)).toEqual([])
  })

  it('by an agent: the agent with email and picture; no start page when unknown', () => {
    const m = message('agent', { receivedFrom: 'crm' })
    const payload = conversationStarted(m, facts({ conversation: { ...conversation, startPage: undefined } }))
    expect(payload.agent).toEqual({ id: liz.id, name: 'Liz', email: 'liz@acme.test', userpic: 'https://x/liz.png' })
    expect(payload.message.receivedFrom).toBe('crm')
    expect('conversationStartPage' in payload).toBe(false)
    expect(payload.isNoAvailableAgent).toBe(false)
  })
})

describe('conversationFragment', () => {
  it('gathers messages with their distinct agents, and a later message extends it', () => {
    const first = message('agent', { agentId: sam.id, agentName: 'Sam' })
    const fragment = conversationFragment([first], facts())
    expect(fragment).toMatchObject({ eventName: 'conversationFragment', conversationId: 'conv', isNoAvailableAgent: false })
    expect(fragment.agents).toEqual([{ id: 'sam', name: 'Sam', email: 'sam@helpdesk.test' }])

    const movedOn = { ...visitor, lastPage: { link: 'https://shop.example/thanks', title: 'Thanks' } }
    const second = message('visitor')
    const third = message('agent')
    const fourth = message('agent', { agentId: sam.id })
    let extended = extendFragment(fragment, second, facts({ visitor: movedOn, isNoAvailableAgent: true }))
    extended = extendFragment(extended, third, facts({ visitor: movedOn }))
    extended = extendFragment(JSON.parse(JSON.stringify(extended)), fourth, facts({ visitor: movedOn }))
    expect(extended.messages.map((m) => m.id)).toEqual([first.id, second.id, third.id, fourth.id])
    expect(extended.agents.map((a) => a.id)).toEqual(['sam', liz.id])
    expect(extended.visitor.lastVisit?.viewedPages).toEqual([{ link: 'https://shop.example/thanks', title: 'Thanks' }])
    expect(extended.isNoAvailableAgent).toBe(false)
  })
})

describe('conversationTranscript and missed messages', () => {
  it('counts the visitor messages after the last agent reply, and marks them', () => {
    const v1 = message('visitor')
    const a1 = message('agent')
    const v2 = message('visitor')
    const pushed = message('agent', { isPushed: true })
    const auto = message('agent', { isTrigger: true, agentId: undefined })
    const v3 = message('visitor')
    const messages = [v1, a1, v2, pushed, auto, v3]
    expect([...missedMessageIds(messages)]).toEqual([v2.id, v3.id])

    const payload = conversationTranscript(messages, facts())
    expect(payload.missedMessagesCount).toBe(2)
    expect(payload.messages.filter((m) => m.isMissed).map((m) => m.id)).toEqual([v2.id, v3.id])
    expect(payload.messages.map((m) => m.id)).toEqual(messages.map((m) => m.id))
    expect(payload.agents).toEqual([{ id: liz.id, name: 'Liz', email: 'liz@acme.test', userpic: 'https://x/liz.png' }])
    expect(payload.conversationStartPage).toEqual(conversation.startPage)
    expect(emptyPaths(payload)).toEqual([])
  })

  it('misses none when an agent answered last, and all when nobody did', () => {
    const answered = [message('visitor'), message('visitor'), message('agent')]
    expect(conversationTranscript(answered, facts()).missedMessagesCount).toBe(0)
    const unanswered = [message('agent', { isPushed: true }), message('visitor'), message('visitor')]
    const payload = conversationTranscript(unanswered, facts())
    expect(payload.missedMessagesCount).toBe(2)
    expect(payload.agents).toEqual([{ id: liz.id, name: 'Liz', email: 'liz@acme.test', userpic: 'https://x/liz.png' }])
  })
})

describe("Parley's own events", () => {
  const base = { accountId: 'acc', seq: 42, createdAt: T + 9 }

  it('carries the REST message with its seq and time, and edit or deletion times', () => {
    const m = message('agent', { receivedFrom: 'crm', editedAt: T + 5 })
    const event = { ...base, type: 'message.updated', conversationId: 'conv', payload: { message: m } } as StoredEvent
    expect(parleyEventPayload(event)).toEqual({
      eventName: 'message.updated',
      seq: 42,
      createdAt: T + 9,
      conversationId: 'conv',
      message: {
        id: m.id,
        type: 'agent',
        text: m.text,
        html: m.text,
        visitorId: visitor.id,
        createdAt: m.createdAt,
        agentId: liz.id,
        agentName: 'Liz',
        isPushed: false,
        receivedFrom: 'crm',
        editedAt: T + 5,
      },
    })
    const deleted = { ...base, type: 'message.deleted', conversationId: 'conv', payload: { message: { ...m, deletedAt: T + 8 } } } as StoredEvent
    expect(parleyEventPayload(deleted)).toMatchObject({ eventName: 'message.deleted', message: { deletedAt: T + 8 } })
  })

  it('describes presence and closing, and has nothing for events no endpoint can want', () => {
    expect(parleyEventPayload({ ...base, type: 'agent.online', payload: { agentId: 'a', until: T + 150_000 } })).toEqual({
      eventName: 'agent.online',
      seq: 42,
      createdAt: T + 9,
      agentId: 'a',
      until: T + 150_000,
    })
    expect(parleyEventPayload({ ...base, type: 'agent.offline', payload: { agentId: 'a' } })).toEqual({
      eventName: 'agent.offline',
      seq: 42,
      createdAt: T + 9,
      agentId: 'a',
    })
    const closed = { ...base, type: 'conversation.closed', conversationId: 'conv', payload: { conversationId: 'conv', visitorId: 'v', reason: 'idle' } } as StoredEvent
    expect(parleyEventPayload(closed)).toEqual({ eventName: 'conversation.closed', seq: 42, createdAt: T + 9, conversationId: 'conv', visitorId: 'v', reason: 'idle' })
    expect(parleyEventPayload({ ...base, type: 'visitor.group_changed', payload: { visitor } })).toBeUndefined()
  })
})
