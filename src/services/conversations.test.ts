import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { NotFoundError } from '../domain/errors.js'
import { createAgent } from './accounts.js'
import { closeConversation, sweepIdleConversations } from './conversations.js'
import { pushMessage, sendAgentMessage, sendVisitorMessage } from './messages.js'
import { createTestDeps, newAccountId, START, storedEvents, type TestDeps } from './test-deps.js'

let deps: TestDeps
let accountId: string
let agentId: string

beforeEach(async () => {
  deps = await createTestDeps({ conversationIdleMs: 30 * 60_000 })
  accountId = await newAccountId(deps)
  agentId = (await createAgent(deps, accountId, { email: 'liz@acme.test', name: 'Liz' })).id
})
afterEach(() => deps.close())

const conversationOf = (visitorId: string) => deps.storage.read.conversations.getByVisitor(accountId, visitorId)
const visitorSays = (text: string, page = { link: 'https://shop.example/', title: 'Home' }) =>
  sendVisitorMessage(deps, accountId, { visitorId: 'v', text, page })

describe('a conversation', () => {
  it("starts with a visitor's or agent's message, not a pushed one, and remembers where", async () => {
    await pushMessage(deps, accountId, { visitorId: 'v', text: 'Your order shipped' })
    expect(await conversationOf('v')).toMatchObject({ status: 'open', openedAt: START, startedAt: undefined })
    deps.clock.advance(1000)
    await visitorSays('Where is it now?', { link: 'https://shop.example/orders/7', title: 'Order 7' })
    expect(await conversationOf('v')).toMatchObject({
      status: 'open',
      openedAt: START,
      startedAt: START + 1000,
      lastActivityAt: START + 1000,
      startPage: { link: 'https://shop.example/orders/7', title: 'Order 7' },
    })
  })

  it('is closed by an agent once, with a conversation.closed event, and opened again by the next message', async () => {
    const first = await visitorSays('Hello')
    deps.clock.advance(1000)
    const closed = await closeConversation(deps, accountId, first.conversationId)
    expect(closed).toMatchObject({ id: first.conversationId, status: 'closed', startedAt: START })
    const again = await closeConversation(deps, accountId, first.conversationId)
    expect(again).toEqual(closed)
    const closings = (await storedEvents(deps, accountId)).filter((e) => e.type === 'conversation.closed')
    expect(closings.map((e) => e.payload)).toEqual([{ conversationId: first.conversationId, visitorId: 'v', reason: 'agent' }])

    deps.clock.advance(1000)
    await visitorSays('Me again', { link: 'https://shop.example/help', title: 'Help' })
    expect(await conversationOf('v')).toMatchObject({
      id: first.conversationId,
      status: 'open',
      openedAt: START + 2000,
      startedAt: START + 2000,
      startPage: { link: 'https://shop.example/help', title: 'Help' },
    })
  })

  it('cannot be closed from another account or when unknown: 404', async () => {
    const m = await visitorSays('Hello')
    const other = await newAccountId(deps, 'Other')
    await expect(closeConversation(deps, other, m.conversationId)).rejects.toBeInstanceOf(NotFoundError)
    await expect(closeConversation(deps, accountId, 'noSuchConversation')).rejects.toBeInstanceOf(NotFoundError)
    expect((await conversationOf('v'))!.status).toBe('open')
  })
})

describe('sweepIdleConversations', () => {
  it('closes conversations idle for the configured time, and only those', async () => {
    await visitorSays('Hello')
    deps.clock.advance(10 * 60_000)
    await sendAgentMessage(deps, accountId, { visitorId: 'busy', text: 'Hi', agentId })
    deps.clock.advance(20 * 60_000 - 1)
    expect(await sweepIdleConversations(deps)).toBe(0)
    deps.clock.advance(1)
    expect(await sweepIdleConversations(deps)).toBe(1)
    expect((await conversationOf('v'))!.status).toBe('closed')
    expect((await conversationOf('busy'))!.status).toBe('open')
    const closings = (await storedEvents(deps, accountId)).filter((e) => e.type === 'conversation.closed')
    expect(closings.map((e) => (e.payload as { reason: string }).reason)).toEqual(['idle'])
  })

  it('leaves a conversation alone if a message arrived after it was found idle', async () => {
    await visitorSays('Hello')
    deps.clock.advance(31 * 60_000)
    const found = await deps.storage.read.conversations.listIdle(deps.clock.now() - 30 * 60_000, 10)
    expect(found).toHaveLength(1)
    await visitorSays('Still here')
    expect(await sweepIdleConversations(deps)).toBe(0)
    expect((await conversationOf('v'))!.status).toBe('open')
  })

  it('counts every message as activity, though the stored activity is rewritten only every few seconds', async () => {
    await visitorSays('Hello')
    deps.clock.advance(10_000)
    await visitorSays('Anyone there?')
    expect((await conversationOf('v'))!.lastActivityAt).toBe(START + 10_000)
    deps.clock.advance(30 * 60_000 - 1)
    expect(await sweepIdleConversations(deps)).toBe(0)
    deps.clock.advance(1)
    expect(await sweepIdleConversations(deps)).toBe(1)
  })

  it('works through more idle conversations than one batch', async () => {
    await Promise.all(Array.from({ length: 250 }, (_, i) => sendAgentMessage(deps, accountId, { visitorId: `v-${i}`, text: 'Hi', agentId })))
    deps.clock.advance(30 * 60_000)
    expect(await sweepIdleConversations(deps)).toBe(250)
    expect(await sweepIdleConversations(deps)).toBe(0)
  })
})
