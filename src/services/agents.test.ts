import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { InvalidParameterError, MissingParameterError } from '../domain/errors.js'
import { createAgent } from './accounts.js'
import { markAgentOnline, type AgentIdentification } from './agents.js'
import { sendAgentMessage } from './messages.js'
import { createTestDeps, newAccountId, START, storedEvents, type TestDeps } from './test-deps.js'

let deps: TestDeps
let accountId: string

beforeEach(async () => {
  deps = await createTestDeps({ presenceTtlMs: 150_000 })
  accountId = await newAccountId(deps)
})
afterEach(() => deps.close())

const liz = (agentEmail: string) => ({ agentEmail, agentName: 'Liz', receivedFrom: 'x' })
const sendAs = (who: AgentIdentification) => sendAgentMessage(deps, accountId, { visitorId: 'v', text: 'hi', ...who })

describe('agent identification', () => {
  it('takes a known agentId, alone or with receivedFrom', async () => {
    const liz = await createAgent(deps, accountId, { email: 'liz@example.com', name: 'Liz' })
    expect((await sendAs({ agentId: liz.id })).agentId).toBe(liz.id)
    const marked = await sendAs({ agentId: liz.id, receivedFrom: 'crm' })
    expect(marked).toMatchObject({ agentId: liz.id, agentName: 'Liz', receivedFrom: 'crm' })
    expect((await markAgentOnline(deps, accountId, { agentId: liz.id })).id).toBe(liz.id)
  })

  it("refuses an unknown agentId, or another account's, as invalid_parameter", async () => {
    const other = await newAccountId(deps, 'Other')
    const stranger = await createAgent(deps, other, { email: 'x@example.com', name: 'X' })
    for (const agentId of ['no-such-agent', stranger.id]) {
      await expect(sendAs({ agentId })).rejects.toBeInstanceOf(InvalidParameterError)
      await expect(markAgentOnline(deps, accountId, { agentId })).rejects.toMatchObject({ code: 'invalid_parameter' })
    }
    expect(deps.published).toEqual([])
  })

  it('names exactly the missing pieces of the email mode', async () => {
    const cases: Array<[AgentIdentification, RegExp]> = [
      [{}, /^agentId is missing/],
      [{ agentEmail: 'a@example.com' }, /^agentName, receivedFrom missing/],
      [{ agentEmail: 'a@example.com', agentName: 'A' }, /^receivedFrom missing/],
      [{ agentName: 'A', receivedFrom: 'crm' }, /^agentEmail missing/],
      [{ receivedFrom: 'crm' }, /^agentEmail, agentName missing/],
    ]
    for (const [who, message] of cases) {
      await expect(sendAs(who)).rejects.toBeInstanceOf(MissingParameterError)
      await expect(sendAs(who)).rejects.toThrow(message)
      await expect(markAgentOnline(deps, accountId, who)).rejects.toThrow(message)
    }
    expect(await deps.storage.read.agents.list(accountId)).toEqual([])
    expect(await deps.storage.read.messages.count(accountId)).toBe(0)
  })

  it('creates a dummy agent for an unknown email once and reuses it, whatever the case', async () => {
    const first = await sendAs({ agentEmail: 'Bob@Example.com', agentName: 'Bob', receivedFrom: 'crm' })
    const second = await sendAs({ agentEmail: 'bob@example.COM', agentName: 'Robert', receivedFrom: 'crm' })
    const pinged = await markAgentOnline(deps, accountId, liz('BOB@example.com'))
    const agents = await deps.storage.read.agents.list(accountId)
    expect(agents).toEqual([
      { id: first.agentId, accountId, email: 'bob@example.com', name: 'Bob', isDummy: true, createdAt: START },
    ])
    expect(second).toMatchObject({ agentId: first.agentId, agentName: 'Bob' })
    expect(pinged.id).toBe(first.agentId)
  })

  it('reuses a real agent found by email instead of creating a dummy', async () => {
    const liz = await createAgent(deps, accountId, { email: 'Liz@Example.com', name: 'Liz' })
    const message = await sendAs({ agentEmail: 'LIZ@example.com', agentName: 'Someone', receivedFrom: 'crm' })
    expect(message).toMatchObject({ agentId: liz.id, agentName: 'Liz' })
    expect(await deps.storage.read.agents.list(accountId)).toEqual([liz])
  })

  it('creates one dummy agent when two requests name the same new email at once', async () => {
    const who = { agentEmail: 'new@example.com', agentName: 'New', receivedFrom: 'crm' }
    const [a, b] = await Promise.all([sendAs(who), sendAs(who)])
    expect(a.agentId).toBe(b.agentId)
    expect(await deps.storage.read.agents.list(accountId)).toHaveLength(1)
  })
})

describe('markAgentOnline', () => {
  const ttl = 150_000
  const online = () => deps.presence.onlineAgents(accountId, deps.clock.now())

  it('keeps the agent online until now + presenceTtlMs', async () => {
    const agent = await markAgentOnline(deps, accountId, liz('liz@example.com'))
    expect(await online()).toEqual([agent.id])
    deps.clock.advance(ttl - 1)
    expect(await online()).toEqual([agent.id])
    deps.clock.advance(1)
    expect(await online()).toEqual([])
  })

  it('emits agent.online only when the agent goes from offline to online', async () => {
    const who = { agentEmail: 'liz@example.com', agentName: 'Liz', receivedFrom: 'x' }
    const agent = await markAgentOnline(deps, accountId, who)
    deps.clock.advance(60_000)
    await markAgentOnline(deps, accountId, who)
    // The second ping extended the time: still online 60 s after the first ping would have expired.
    deps.clock.advance(ttl - 1)
    expect(await online()).toEqual([agent.id])
    let events = await storedEvents(deps, accountId)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ type: 'agent.online', payload: { agentId: agent.id, until: START + ttl } })
    expect(deps.published).toEqual(events)

    deps.clock.advance(1)
    expect(await online()).toEqual([])
    await markAgentOnline(deps, accountId, who)
    events = await storedEvents(deps, accountId)
    expect(events.map((e) => [e.type, e.seq])).toEqual([
      ['agent.online', 1],
      ['agent.online', 2],
    ])
    expect(events[1].payload).toEqual({ agentId: agent.id, until: deps.clock.now() + ttl })
    expect(deps.published).toEqual(events)
  })

  it('emits one agent.online when two pings arrive at the same moment', async () => {
    const who = { agentEmail: 'liz@example.com', agentName: 'Liz', receivedFrom: 'x' }
    await markAgentOnline(deps, accountId, who)
    deps.clock.advance(ttl)
    await Promise.all([markAgentOnline(deps, accountId, who), markAgentOnline(deps, accountId, who)])
    expect((await storedEvents(deps, accountId)).map((e) => e.type)).toEqual(['agent.online', 'agent.online'])
  })

  it("keeps presence per account: another account's ping does not mark this one", async () => {
    const other = await newAccountId(deps, 'Other')
    await markAgentOnline(deps, other, { agentEmail: 'liz@example.com', agentName: 'Liz', receivedFrom: 'x' })
    expect(await online()).toEqual([])
    expect(await storedEvents(deps, accountId)).toEqual([])
  })
})
