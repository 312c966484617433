import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { InvalidParameterError, NotFoundError } from '../domain/errors.js'
import { createAgent, createGroup } from './accounts.js'
import { recordEvent } from './deps.js'
import {
  deleteAgentMessage,
  deletePushedMessage,
  editAgentMessage,
  editPushedMessage,
  getMessage,
  getPushedMessage,
  pushMessage,
  sendAgentMessage,
  sendVisitorMessage,
} from './messages.js'
import { createTestDeps, newAccountId, START, storedEvents, type TestDeps } from './test-deps.js'

let deps: TestDeps
let accountId: string
let agentId: string

beforeEach(async () => {
  deps = await createTestDeps()
  accountId = await newAccountId(deps, 'Acme')
  const liz = await createAgent(deps, accountId, { email: 'liz@example.com', name: 'Liz', userpic: 'https://x/liz.png' })
  agentId = liz.id
})
afterEach(() => deps.close())

const send = (visitorId = 'visitor-1', text = 'Hello! How can I help you?') =>
  sendAgentMessage(deps, accountId, { visitorId, text, agentId, receivedFrom: 'crm' })

const visitorMessage = (visitorId: string, text = 'Where is my order?') =>
  sendVisitorMessage(deps, accountId, { visitorId, text })

describe('sendAgentMessage', () => {
  it('creates the visitor and its conversation on first use, then reuses them', async () => {
    const first = await send('new-visitor')
    expect(first).toMatchObject({
      type: 'agent',
      visitorId: 'new-visitor',
      agentId,
      agentName: 'Liz',
      agentUserpic: 'https://x/liz.png',
      isPushed: false,
      receivedFrom: 'crm',
      createdAt: START,
    })
    expect(await deps.storage.read.visitors.get(accountId, 'new-visitor')).toMatchObject({ createdAt: START })
    const conversation = await deps.storage.read.conversations.getByVisitor(accountId, 'new-visitor')
    expect(conversation).toMatchObject({ id: first.conversationId, status: 'open', lastActivityAt: START })

    deps.clock.advance(5000)
    const second = await send('new-visitor', 'Anything else?')
    expect(second.conversationId).toBe(first.conversationId)
    expect(await deps.storage.read.conversations.getByVisitor(accountId, 'new-visitor')).toMatchObject({
      lastActivityAt: START + 5000,
    })
    expect(await getMessage(deps, accountId, first.id)).toEqual(first)
  })

  it('appends one message.created event and publishes that same event', async () => {
    const message = await send()
    const events = await storedEvents(deps, accountId)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({
      type: 'message.created',
      seq: 1,
      conversationId: message.conversationId,
      payload: { message: { id: message.id, text: message.text } },
    })
    expect(deps.published).toEqual(events)
  })

  it('stores and publishes nothing when the agent is unknown', async () => {
    await expect(
      sendAgentMessage(deps, accountId, { visitorId: 'v', text: 'hi', agentId: 'no-such-agent' }),
    ).rejects.toBeInstanceOf(InvalidParameterError)
    expect(await deps.storage.read.messages.count(accountId)).toBe(0)
    expect(await deps.storage.read.visitors.get(accountId, 'v')).toBeUndefined()
    expect(await storedEvents(deps, accountId)).toEqual([])
    expect(deps.published).toEqual([])
  })
})

describe('events and pub/sub', () => {
  it('publishes an event only once its transaction has committed', async () => {
    let fnFinished = false
    let publishedBeforeEnd = false
    deps.pubsub.subscribe(() => (publishedBeforeEnd ||= !fnFinished))
    await deps.storage.transaction(async (tx) => {
      await recordEvent(deps, tx, accountId, { type: 'agent.online', payload: { agentId, until: 1 } })
      await new Promise((r) => setTimeout(r, 5))
      fnFinished = true
    })
    expect(deps.published).toHaveLength(1)
    expect(publishedBeforeEnd).toBe(false)
  })

  it('never publishes an event whose transaction rolled back', async () => {
    await expect(
      deps.storage.transaction(async (tx) => {
        await recordEvent(deps, tx, accountId, { type: 'agent.online', payload: { agentId, until: 1 } })
        throw new Error('later step failed')
      }),
    ).rejects.toThrow('later step failed')
    expect(deps.published).toEqual([])
    expect(await storedEvents(deps, accountId)).toEqual([])
  })
})

describe('pushMessage', () => {
  it('sends as an agent of the account', async () => {
    const pushed = await pushMessage(deps, accountId, { visitorId: 'v', text: 'Your order shipped', agentId })
    expect(pushed).toMatchObject({ type: 'agent', isPushed: true, agentId, agentName: 'Liz' })
    expect(await getPushedMessage(deps, accountId, pushed.id)).toEqual(pushed)
    expect(await getMessage(deps, accountId, pushed.id)).toEqual(pushed)
    expect((await storedEvents(deps, accountId)).map((e) => e.type)).toEqual(['message.created'])
    expect(deps.published.map((e) => e.seq)).toEqual([1])
  })

  it('speaks for the account when neither agent nor group is given, and keeps the group', async () => {
    const plain = await pushMessage(deps, accountId, { visitorId: 'v', text: 'New feature!' })
    expect(plain.agentId).toBeUndefined()
    expect(plain.agentName).toBe('Acme')
    const group = await createGroup(deps, accountId, 'Sales')
    const routed = await pushMessage(deps, accountId, { visitorId: 'v', text: 'Deal', groupId: group.id })
    expect(routed).toMatchObject({ groupId: group.id, agentName: 'Acme', isPushed: true })
  })

  it('refuses an unknown agent or group and stores nothing', async () => {
    await expect(pushMessage(deps, accountId, { visitorId: 'v', text: 't', agentId: 'nope' })).rejects.toMatchObject({
      code: 'invalid_parameter',
    })
    await expect(pushMessage(deps, accountId, { visitorId: 'v', text: 't', groupId: 'nope' })).rejects.toMatchObject({
      code: 'invalid_parameter',
    })
    expect(await deps.storage.read.messages.count(accountId)).toBe(0)
    expect(deps.published).toEqual([])
  })
})

describe('editing and deleting', () => {
  it('edits an agent message, records message.updated and publishes it', async () => {
    const message = await send()
    deps.clock.advance(1000)
    const edited = await editAgentMessage(deps, accountId, message.id, 'Corrected')
    expect(edited).toEqual({ ...message, text: 'Corrected', editedAt: START + 1000 })
    expect(await getMessage(deps, accountId, message.id)).toEqual(edited)
    const events = await storedEvents(deps, accountId)
    expect(events.map((e) => e.type)).toEqual(['message.created', 'message.updated'])
    expect(events[1].payload).toEqual({ message: JSON.parse(JSON.stringify(edited)) })
    expect(deps.published.map((e) => e.type)).toEqual(['message.created', 'message.updated'])
  })

  it('stores a visitor message in the visitor\'s conversation, with its event', async () => {
    const first = await visitorMessage('visitor-new', 'Hi, anyone there?')
    expect(first).toMatchObject({ type: 'visitor', visitorId: 'visitor-new', text: 'Hi, anyone there?', isPushed: false })
    expect(first.agentId).toBeUndefined()
    const reply = await send('visitor-new')
    expect(reply.conversationId).toBe(first.conversationId)
    expect(await getMessage(deps, accountId, first.id)).toEqual(first)
    const events = await storedEvents(deps, accountId)
    expect(events.map((e) => [e.type, e.conversationId])).toEqual([
      ['message.created', first.conversationId],
      ['message.created', first.conversationId],
    ])
    expect(deps.published).toEqual(events)
  })

  it('refuses to edit or delete a visitor message, changing and publishing nothing', async () => {
    await send()
    const mine = await visitorMessage('visitor-1')
    const before = deps.published.length
    await expect(editAgentMessage(deps, accountId, mine.id, 'x')).rejects.toBeInstanceOf(InvalidParameterError)
    await expect(deleteAgentMessage(deps, accountId, mine.id)).rejects.toBeInstanceOf(InvalidParameterError)
    expect(await getMessage(deps, accountId, mine.id)).toEqual(mine)
    expect(deps.published).toHaveLength(before)
    expect(await storedEvents(deps, accountId)).toHaveLength(before)
  })

  it('keeps the two collections apart', async () => {
    const regular = await send()
    const pushed = await pushMessage(deps, accountId, { visitorId: 'visitor-1', text: 'Shipped', agentId })
    await expect(editAgentMessage(deps, accountId, pushed.id, 'x')).rejects.toBeInstanceOf(InvalidParameterError)
    await expect(deleteAgentMessage(deps, accountId, pushed.id)).rejects.toBeInstanceOf(InvalidParameterError)
    await expect(getPushedMessage(deps, accountId, regular.id)).rejects.toBeInstanceOf(NotFoundError)
    await expect(editPushedMessage(deps, accountId, regular.id, 'x')).rejects.toBeInstanceOf(NotFoundError)
    await expect(deletePushedMessage(deps, accountId, regular.id)).rejects.toBeInstanceOf(NotFoundError)

    const edited = await editPushedMessage(deps, accountId, pushed.id, 'Delivered')
    expect(edited).toMatchObject({ text: 'Delivered', isPushed: true, editedAt: START })
    await deletePushedMessage(deps, accountId, pushed.id)
    const types = (await storedEvents(deps, accountId)).map((e) => e.type)
    expect(types).toEqual(['message.created', 'message.created', 'message.updated', 'message.deleted'])
  })

  it('makes a deleted message gone everywhere but keeps the audit row', async () => {
    const message = await send()
    deps.clock.advance(42)
    await deleteAgentMessage(deps, accountId, message.id)
    await expect(getMessage(deps, accountId, message.id)).rejects.toBeInstanceOf(NotFoundError)
    await expect(getPushedMessage(deps, accountId, message.id)).rejects.toBeInstanceOf(NotFoundError)
    await expect(editAgentMessage(deps, accountId, message.id, 'x')).rejects.toBeInstanceOf(NotFoundError)
    await expect(deleteAgentMessage(deps, accountId, message.id)).rejects.toBeInstanceOf(NotFoundError)
    expect(await deps.storage.read.messages.get(accountId, message.id)).toEqual({ ...message, deletedAt: START + 42 })

    const events = await storedEvents(deps, accountId)
    expect(events.map((e) => e.type)).toEqual(['message.created', 'message.deleted'])
    expect(deps.published).toEqual(events)
  })

  it('treats a deleted pushed message as gone too', async () => {
    const pushed = await pushMessage(deps, accountId, { visitorId: 'v', text: 'Sale' })
    await deletePushedMessage(deps, accountId, pushed.id)
    await expect(getPushedMessage(deps, accountId, pushed.id)).rejects.toBeInstanceOf(NotFoundError)
    await expect(getMessage(deps, accountId, pushed.id)).rejects.toBeInstanceOf(NotFoundError)
    await expect(editPushedMessage(deps, accountId, pushed.id, 'x')).rejects.toBeInstanceOf(NotFoundError)
    await expect(deletePushedMessage(deps, accountId, pushed.id)).rejects.toBeInstanceOf(NotFoundError)
  })

  it("answers NotFound for unknown ids and for another account's messages", async () => {
    const message = await send()
    const other = await newAccountId(deps, 'Other')
    for (const [acc, id] of [
      [accountId, 'no-such-message'],
      [other, message.id],
    ]) {
      await expect(getMessage(deps, acc, id)).rejects.toBeInstanceOf(NotFoundError)
      await expect(editAgentMessage(deps, acc, id, 'x')).rejects.toBeInstanceOf(NotFoundError)
      await expect(deleteAgentMessage(deps, acc, id)).rejects.toBeInstanceOf(NotFoundError)
    }
    expect(await getMessage(deps, accountId, message.id)).toEqual(message)
    expect(deps.published).toHaveLength(1)
  })
})
