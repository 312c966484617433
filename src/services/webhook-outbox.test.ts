import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { WEBHOOK_LEASE_MS, type WebhookDelivery, type WebhookEventName } from '../domain/webhooks.js'
import { createAgent } from './accounts.js'
import { markAgentOnline, sweepPresence } from './agents.js'
import { closeConversation, sweepIdleConversations } from './conversations.js'
import { recordEvent, transact } from './deps.js'
import { deleteAgentMessage, editAgentMessage, pushMessage, sendAgentMessage, sendAutoMessage, sendVisitorMessage } from './messages.js'
import { createTestDeps, newAccountId, START, type TestDeps } from './test-deps.js'
import { createWebhook, updateWebhook } from './webhooks.js'
import { MAX_FRAGMENT_MESSAGES } from './webhook-outbox.js'

let deps: TestDeps
let accountId: string
let agentId: string

beforeEach(async () => {
  deps = await createTestDeps({ webhookFragmentWindowMs: 5_000 })
  accountId = await newAccountId(deps)
  agentId = (await createAgent(deps, accountId, { email: 'liz@acme.test', name: 'Liz' })).id
})
afterEach(() => deps.close())

const ALL_BREVO: WebhookEventName[] = ['conversationStarted', 'conversationFragment', 'conversationTranscript']

async function endpoint(events: WebhookEventName[], account = accountId): Promise<string> {
  return (await createWebhook(deps, account, { url: 'https://hooks.example.com/parley', events })).endpoint.id
}

/** The endpoint's deliveries, oldest first, with their bodies parsed. */
async function deliveries(endpointId: string, account = accountId) {
  const list = await deps.storage.read.webhookDeliveries.list(account, endpointId, { limit: 1000 })
  return list.reverse().map((d) => ({ ...d, body: JSON.parse(d.payload) as Record<string, any> }))
}

const visitorSays = (text: string, visitorId = 'visitor-1') =>
  sendVisitorMessage(deps, accountId, {
    visitorId,
    text,
    page: { link: 'https://shop.example/pricing', title: 'Pricing' },
    browser: { userAgent: 'Mozilla/5.0', language: 'en-GB', ip: '203.0.113.7' },
  })
const agentSays = (text: string, visitorId = 'visitor-1') =>
  sendAgentMessage(deps, accountId, { visitorId, text, agentId, receivedFrom: 'SuperAwesomeHelpdesk' })

describe('conversationStarted', () => {
  it("is queued, due at once, with the visitor's facts, when a visitor opens a conversation", async () => {
    const e = await endpoint(ALL_BREVO)
    const m = await visitorSays('Hi, is the Pro plan monthly?')
    const [started] = await deliveries(e)
    expect(started).toMatchObject({ event: 'conversationStarted', status: 'pending', nextAt: START, conversationId: m.conversationId, attempts: 0 })
    expect(started.body).toEqual({
      eventName: 'conversationStarted',
      conversationId: m.conversationId,
      message: { id: m.id, type: 'visitor', text: m.text, html: m.text, createdAt: START },
      visitor: {
        id: 'visitor-1',
        threadId: m.conversationId,
        source: 'widget',
        ip: '203.0.113.7',
        browserLanguage: 'en-GB',
        userAgent: 'Mozilla/5.0',
        lastVisit: { hostName: 'shop.example', viewedPages: [{ link: 'https://shop.example/pricing', title: 'Pricing' }] },
      },
      conversationStartPage: { link: 'https://shop.example/pricing', title: 'Pricing' },
      isNoAvailableAgent: true,
    })
  })

  it('names the agent who started it and says an agent is available when one is online', async () => {
    const e = await endpoint(['conversationStarted'])
    await markAgentOnline(deps, accountId, { agentId })
    const m = await agentSays('Your order has shipped: anything else?')
    const [started] = await deliveries(e)
    expect(started.body.agent).toEqual({ id: agentId, name: 'Liz', email: 'liz@acme.test' })
    expect(started.body.message).toMatchObject({ id: m.id, type: 'agent', receivedFrom: 'SuperAwesomeHelpdesk' })
    expect(started.body.isNoAvailableAgent).toBe(false)
  })

  it('is not sent for pushed or automatic messages; the first real message starts the conversation', async () => {
    const e = await endpoint(ALL_BREVO)
    await pushMessage(deps, accountId, { visitorId: 'visitor-1', text: 'Your parcel is out for delivery' })
    await sendAutoMessage(deps, accountId, { visitorId: 'visitor-1', text: 'Need help?' })
    expect(await deliveries(e)).toEqual([])
    const reply = await visitorSays('Yes: where is it?')
    const list = await deliveries(e)
    expect(list.map((d) => d.event)).toEqual(['conversationStarted'])
    expect(list[0].body.message.id).toBe(reply.id)
  })
})

describe('conversationFragment', () => {
  it('gathers a burst of messages into one delivery, due when the window closes', async () => {
    const e = await endpoint(ALL_BREVO)
    await visitorSays('Hello')
    deps.clock.advance(1_000)
    const a = await agentSays('Hi! How can I help?')
    deps.clock.advance(1_000)
    const b = await visitorSays('My order is late')
    deps.clock.advance(1_000)
    const c = await agentSays('Let me check')
    const list = await deliveries(e)
    expect(list.map((d) => d.event)).toEqual(['conversationStarted', 'conversationFragment'])
    const fragment = list[1]
    expect(fragment.nextAt).toBe(START + 1_000 + 5_000)
    expect(fragment.seq).toBeLessThan((await deps.storage.read.accounts.lastSeq(accountId)))
    expect(fragment.body.messages.map((m: { id: string }) => m.id)).toEqual([a.id, b.id, c.id])
    expect(fragment.body.messages[0].receivedFrom).toBe('SuperAwesomeHelpdesk')
    expect(fragment.body.agents).toEqual([{ id: agentId, name: 'Liz', email: 'liz@acme.test' }])
    expect(fragment.body.visitor.id).toBe('visitor-1')
  })

  it('starts a new fragment once a worker has claimed the last one', async () => {
    const e = await endpoint(['conversationFragment'])
    await visitorSays('Hello')
    const first = await agentSays('Hi')
    deps.clock.advance(5_000)
    await deps.storage.transaction((tx) => tx.webhookDeliveries.claimDue(deps.clock.now(), deps.clock.now() + 60_000, 100))
    const second = await visitorSays('Thanks')
    const list = await deliveries(e)
    expect(list.map((d) => d.body.messages.map((m: { id: string }) => m.id))).toEqual([[first.id], [second.id]])
  })

  it('starts a new fragment once the last one is past its window, though it still waits to be sent', async () => {
    const e = await endpoint(['conversationFragment'])
    await visitorSays('Hello')
    const first = await agentSays('Hi')
    // Its window closed, but no worker claimed it (say an earlier delivery keeps failing).
    deps.clock.advance(5_000)
    const second = await visitorSays('Are you there?')
    deps.clock.advance(600_000)
    const third = await visitorSays('Hello?')
    const list = await deliveries(e)
    expect(list.map((d) => d.body.messages.map((m: { id: string }) => m.id))).toEqual([[first.id], [second.id], [third.id]])
  })

  it(`carries at most ${MAX_FRAGMENT_MESSAGES} messages in one fragment`, async () => {
    const e = await endpoint(['conversationFragment'])
    await visitorSays('Hello')
    for (let i = 0; i <= MAX_FRAGMENT_MESSAGES; i++) await agentSays(`line ${i}`)
    const sizes = (await deliveries(e)).map((d) => d.body.messages.length)
    expect(sizes).toEqual([MAX_FRAGMENT_MESSAGES, 1])
  })

  it('keeps fragments per endpoint and per conversation', async () => {
    const e1 = await endpoint(['conversationFragment'])
    const e2 = await endpoint(['conversationFragment', 'conversationStarted'])
    await visitorSays('Hello', 'v-a')
    await visitorSays('Hello', 'v-b')
    const a = await agentSays('Hi A', 'v-a')
    const b = await agentSays('Hi B', 'v-b')
    for (const e of [e1, e2]) {
      const fragments = (await deliveries(e)).filter((d) => d.event === 'conversationFragment')
      expect(fragments.map((d) => d.body.messages.map((m: { id: string }) => m.id))).toEqual([[a.id], [b.id]])
    }
  })
})

describe('conversationTranscript', () => {
  it('is sent when an agent closes the conversation, and a new message starts it again', async () => {
    const e = await endpoint(ALL_BREVO)
    // Messages of the same millisecond have no order among themselves: the clock moves between them.
    const v1 = await visitorSays('Hello')
    deps.clock.advance(10)
    const a1 = await agentSays('Hi')
    deps.clock.advance(10)
    const v2 = await visitorSays('Anyone?')
    deps.clock.advance(60_000)
    await closeConversation(deps, accountId, v1.conversationId)
    let list = await deliveries(e)
    expect(list.map((d) => d.event)).toEqual(['conversationStarted', 'conversationFragment', 'conversationTranscript'])
    const transcript = list[2].body
    expect(transcript.messages.map((m: { id: string }) => m.id)).toEqual([v1.id, a1.id, v2.id])
    expect(transcript.missedMessagesCount).toBe(1)
    expect(transcript.messages[2].isMissed).toBe(true)
    expect(transcript.conversationStartPage).toEqual({ link: 'https://shop.example/pricing', title: 'Pricing' })

    // Closing again changes nothing.
    await closeConversation(deps, accountId, v1.conversationId)
    expect(await deliveries(e)).toHaveLength(3)

    deps.clock.advance(60_000)
    const v3 = await visitorSays('Back again')
    deps.clock.advance(10)
    const a2 = await agentSays('Welcome back')
    deps.clock.advance(60_000)
    await closeConversation(deps, accountId, v1.conversationId)
    list = await deliveries(e)
    expect(list.map((d) => d.event)).toEqual([
      'conversationStarted',
      'conversationFragment',
      'conversationTranscript',
      'conversationStarted',
      'conversationFragment',
      'conversationTranscript',
    ])
    expect(list[3].body.message.id).toBe(v3.id)
    expect(list[5].body.messages.map((m: { id: string }) => m.id)).toEqual([v3.id, a2.id])
    expect(list[5].body.missedMessagesCount).toBe(0)
  })

  it('is sent for a conversation gone idle, with the seq order kept behind the fragment', async () => {
    const e = await endpoint(ALL_BREVO)
    await visitorSays('Hello')
    deps.clock.advance(10)
    await visitorSays('Is anyone there?')
    deps.clock.advance(29 * 60_000)
    expect(await sweepIdleConversations(deps)).toBe(0)
    deps.clock.advance(60_000)
    expect(await sweepIdleConversations(deps)).toBe(1)
    const list = await deliveries(e)
    expect(list.map((d) => d.event)).toEqual(['conversationStarted', 'conversationFragment', 'conversationTranscript'])
    expect(list[2].body.missedMessagesCount).toBe(2)
    expect(list[2].seq).toBeGreaterThan(list[1].seq)
    expect(await sweepIdleConversations(deps)).toBe(0)
  })

  it('is not sent for a conversation that never started; conversation.closed still is', async () => {
    const e = await endpoint([...ALL_BREVO, 'conversation.closed'])
    const pushed = await pushMessage(deps, accountId, { visitorId: 'visitor-1', text: 'Your invoice is ready' })
    await closeConversation(deps, accountId, pushed.conversationId)
    const list = await deliveries(e)
    expect(list.map((d) => d.event)).toEqual(['conversation.closed'])
    expect(list[0].body).toEqual({
      eventName: 'conversation.closed',
      seq: expect.any(Number),
      createdAt: START,
      conversationId: pushed.conversationId,
      visitorId: 'visitor-1',
      reason: 'agent',
    })
  })
})

describe("Parley's own events", () => {
  it('sends each subscribed event with its payload, and only those', async () => {
    const e = await endpoint(['message.created', 'message.updated', 'message.deleted', 'agent.online', 'agent.offline'])
    const only = await endpoint(['message.deleted'])
    await markAgentOnline(deps, accountId, { agentId })
    const m = await agentSays('Hello')
    await editAgentMessage(deps, accountId, m.id, 'Hello!')
    await deleteAgentMessage(deps, accountId, m.id)
    deps.clock.advance(151_000)
    await sweepPresence(deps)
    const list = await deliveries(e)
    expect(list.map((d) => d.event)).toEqual(['agent.online', 'message.created', 'message.updated', 'message.deleted', 'agent.offline'])
    expect(list.map((d) => d.body.seq)).toEqual([1, 2, 3, 4, 5])
    expect(list[1].body.message).toMatchObject({ id: m.id, text: 'Hello', receivedFrom: 'SuperAwesomeHelpdesk', visitorId: 'visitor-1' })
    expect(list[2].body.message).toMatchObject({ id: m.id, text: 'Hello!', editedAt: START })
    expect(list[3].body.message).toMatchObject({ id: m.id, deletedAt: START })
    expect(list[4].body).toEqual({ eventName: 'agent.offline', seq: 5, createdAt: START + 151_000, agentId })
    expect(list[0].conversationId).toBeUndefined()
    expect((await deliveries(only)).map((d) => d.event)).toEqual(['message.deleted'])
  })
})

describe('who gets deliveries', () => {
  it('nobody without endpoints; not a disabled endpoint; not another account', async () => {
    await visitorSays('Hello')
    const other = await newAccountId(deps, 'Other')
    const theirs = await endpoint(ALL_BREVO, other)
    const disabled = await endpoint(ALL_BREVO)
    await updateWebhook(deps, accountId, disabled, { enabled: false })
    await visitorSays('Hello', 'visitor-2')
    expect(await deliveries(theirs, other)).toEqual([])
    expect(await deliveries(disabled)).toEqual([])
  })

  it('writes deliveries in the event’s transaction: a rollback leaves none', async () => {
    const e = await endpoint(['agent.online'])
    await expect(
      transact(deps, async (tx) => {
        await recordEvent(deps, tx, accountId, { type: 'agent.online', payload: { agentId, until: 1 } })
        throw new Error('boom')
      }),
    ).rejects.toThrow('boom')
    expect(await deliveries(e)).toEqual([])
    await transact(deps, (tx) => recordEvent(deps, tx, accountId, { type: 'agent.online', payload: { agentId, until: 1 } }))
    expect(await deliveries(e)).toHaveLength(1)
  })

  it("hands what is due to this process's worker after the commit, leased and in order; wakes it for the rest", async () => {
    const taken: WebhookDelivery[][] = []
    let wakes = 0
    let room = 10
    deps.webhookDispatch.attach({ room: () => room, take: (ds) => void taken.push(ds), wake: () => void wakes++ })
    await visitorSays('Before any endpoint')
    expect([taken.length, wakes]).toEqual([0, 0])

    const e = await endpoint(['conversationStarted', 'conversationFragment', 'message.created', 'agent.online'])
    const sending = visitorSays('Hello', 'visitor-2')
    expect(taken).toEqual([])
    await sending
    expect(taken).toHaveLength(1)
    expect(taken[0].map((d) => d.event).sort()).toEqual(['conversationStarted', 'message.created'])
    const stored = await deliveries(e)
    expect(stored.map((d) => d.leasedUntil)).toEqual([START + WEBHOOK_LEASE_MS, START + WEBHOOK_LEASE_MS])
    expect(wakes).toBe(0)

    // Its conversation's earlier deliveries are still out: this one waits for a claim, in order.
    // The fragment is not due yet, so nobody is woken for it.
    await agentSays('Hi', 'visitor-2')
    expect(taken).toHaveLength(1)
    expect(wakes).toBe(1)
    const waiting = (await deliveries(e)).filter((d) => d.leasedUntil === undefined).map((d) => d.event)
    expect(waiting.sort()).toEqual(['conversationFragment', 'message.created'])

    // A worker with no room is woken instead.
    room = 0
    await markAgentOnline(deps, accountId, { agentId })
    expect(taken).toHaveLength(1)
    expect(wakes).toBe(2)
  })
})
