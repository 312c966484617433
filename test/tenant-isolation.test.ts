import { afterAll, beforeAll, expect, it } from 'vitest'
import { generateId } from '../src/domain/ids.js'
import type { Agent, AgentGroup } from '../src/domain/model.js'
import { createAgent, createApiKey, createGroup, revokeApiKey } from '../src/services/accounts.js'
import { sendVisitorMessage } from '../src/services/messages.js'
import { describeEachDb } from './helpers/databases.js'
import { startParley, type RunningParley, type TestAccount } from './helpers/parley.js'

// Two tenants on one server. Whatever account B sends, with its own key, account A's data must be
// invisible to it (the answers are those for ids that never existed) and unchanged by it.

interface Reply {
  status: number
  body: unknown
}

describeEachDb('tenant isolation', (db) => {
  let parley: RunningParley
  let a: TestAccount
  let b: TestAccount
  let agentA: Agent
  let agentB: Agent
  let groupA: AgentGroup
  let groupB: AgentGroup
  /** Account A's messages, by kind, and what A's own key reads for each right after setup. */
  const aIds = { agent: '', pushed: '', visitor: '' }
  const aAnswers: Record<string, Reply> = {}
  let bMessageId: string

  async function call(apiKey: string, method: string, path: string, body?: unknown): Promise<Reply> {
    const res = await fetch(`${parley.apiUrl}${path}`, {
      method,
      headers: { 'api-key': apiKey, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    return { status: res.status, body: text === '' ? undefined : JSON.parse(text) }
  }

  /** The answer with every occurrence of `id` replaced, to compare a foreign id with an unknown one. */
  function withoutId(reply: Reply, id: string): Reply {
    return JSON.parse(JSON.stringify(reply).replaceAll(id, '<id>')) as Reply
  }

  async function sent(apiKey: string, path: string, body: unknown): Promise<{ id: string } & Record<string, unknown>> {
    const reply = await call(apiKey, 'POST', path, body)
    expect(reply.status, JSON.stringify(reply.body)).toBe(200)
    return reply.body as { id: string }
  }

  /** A visitor's own message: the API cannot create one, the widget does. */
  async function insertVisitorMessage(accountId: string, visitorId: string, text: string): Promise<string> {
    return (await sendVisitorMessage(parley.ctx, accountId, { visitorId, text })).id
  }

  /** Everything stored for account A, to show B's attempts changed none of it. */
  async function stateOfA() {
    const read = parley.ctx.storage.read
    return {
      messages: await read.messages.count(a.accountId),
      fixtures: await Promise.all(Object.values(aIds).map((id) => read.messages.get(a.accountId, id))),
      agents: await read.agents.list(a.accountId),
      groups: await read.groups.list(a.accountId),
      visitor: await read.visitors.get(a.accountId, 'visitor-a'),
      events: await read.events.listAfter(a.accountId, 0, 100_000),
      online: await parley.ctx.presence.onlineAgents(a.accountId, parley.ctx.clock.now()),
    }
  }

  beforeAll(async () => {
    parley = await startParley(db)
    a = parley
    b = await parley.createAccount('Beta')
    const ctx = parley.ctx
    agentA = await createAgent(ctx, a.accountId, { email: 'liz@acme.test', name: 'Liz' })
    agentB = await createAgent(ctx, b.accountId, { email: 'bob@beta.test', name: 'Bob' })
    groupA = await createGroup(ctx, a.accountId, 'Sales')
    groupB = await createGroup(ctx, b.accountId, 'Support')

    aIds.agent = (
      await sent(a.apiKey, '/conversations/messages', { visitorId: 'visitor-a', text: 'from A', agentId: agentA.id })
    ).id
    aIds.pushed = (
      await sent(a.apiKey, '/conversations/pushedMessages', {
        visitorId: 'visitor-a',
        text: 'pushed by A',
        groupId: groupA.id,
      })
    ).id
    aIds.visitor = await insertVisitorMessage(a.accountId, 'visitor-a', 'a visitor of A writes')
    expect(
      (await call(a.apiKey, 'PUT', '/conversations/visitorGroup', { visitorId: 'visitor-a', groupId: groupA.id }))
        .status,
    ).toBe(200)
    for (const id of Object.values(aIds)) aAnswers[id] = await call(a.apiKey, 'GET', `/conversations/messages/${id}`)
    aAnswers[`pushed:${aIds.pushed}`] = await call(a.apiKey, 'GET', `/conversations/pushedMessages/${aIds.pushed}`)

    bMessageId = (
      await sent(b.apiKey, '/conversations/messages', { visitorId: 'visitor-b', text: 'from B', agentId: agentB.id })
    ).id
  })
  afterAll(() => parley?.close())

  it("answers B's key on A's message ids exactly as on ids that never existed", async () => {
    const before = await stateOfA()
    const never = generateId()
    for (const collection of ['messages', 'pushedMessages']) {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const body = method === 'PUT' ? { text: 'hijacked' } : undefined
        const unknown = await call(b.apiKey, method, `/conversations/${collection}/${never}`, body)
        expect(unknown.status).toBe(404)
        for (const [kind, id] of Object.entries(aIds)) {
          const foreign = await call(b.apiKey, method, `/conversations/${collection}/${id}`, body)
          expect(foreign, `${method} ${collection} on A's ${kind} message`).toEqual(unknown)
        }
      }
    }
    expect(await stateOfA()).toEqual(before)
  })

  it("refuses A's agentId and groupId to B exactly as ids that do not exist", async () => {
    const before = await stateOfA()
    const never = generateId()
    const attempts: Array<{ path: string; body: (id: string) => Record<string, unknown> }> = [
      { path: '/conversations/messages', body: (agentId) => ({ visitorId: 'visitor-b', text: 'as Liz', agentId }) },
      {
        path: '/conversations/messages',
        body: (agentId) => ({ visitorId: 'visitor-b', text: 'as Liz', agentId, receivedFrom: 'crm' }),
      },
      {
        path: '/conversations/pushedMessages',
        body: (agentId) => ({ visitorId: 'visitor-b', text: 'as Liz', agentId }),
      },
      {
        path: '/conversations/pushedMessages',
        body: (groupId) => ({ visitorId: 'visitor-b', text: 'to Sales', groupId }),
      },
      {
        path: '/conversations/pushedMessages',
        body: (groupId) => ({ visitorId: 'visitor-b', text: 'to Sales', agentId: agentB.id, groupId }),
      },
      { path: '/conversations/agentOnlinePing', body: (agentId) => ({ agentId }) },
    ]
    for (const { path, body } of attempts) {
      const unknown = await call(b.apiKey, 'POST', path, body(never))
      expect(unknown.status).toBe(400)
      expect((unknown.body as { code: string }).code).toBe('invalid_parameter')
      for (const id of [agentA.id, groupA.id]) {
        const foreign = await call(b.apiKey, 'POST', path, body(id))
        expect(withoutId(foreign, id), `${path} ${JSON.stringify(body(id))}`).toEqual(withoutId(unknown, never))
      }
    }
    expect(await stateOfA()).toEqual(before)
    expect(await parley.ctx.presence.onlineAgents(b.accountId, parley.ctx.clock.now())).not.toContain(agentA.id)
  })

  it("gives B its own dummy agent for A's agent email, never A's agent", async () => {
    const before = await stateOfA()
    const message = await sent(b.apiKey, '/conversations/messages', {
      visitorId: 'visitor-b',
      text: 'by email',
      agentEmail: agentA.email.toUpperCase(),
      agentName: 'Impostor',
      receivedFrom: 'crm',
    })
    expect(message.agentId).not.toBe(agentA.id)
    expect(message.agentName).toBe('Impostor')
    const ping = await call(b.apiKey, 'POST', '/conversations/agentOnlinePing', {
      agentEmail: agentA.email,
      agentName: 'Impostor',
      receivedFrom: 'crm',
    })
    expect(ping.status).toBe(201)
    const dummy = (await parley.ctx.storage.read.agents.list(b.accountId)).find((agent) => agent.email === agentA.email)
    expect(dummy).toMatchObject({ id: message.agentId, accountId: b.accountId, isDummy: true })
    expect(await parley.ctx.presence.onlineAgents(b.accountId, parley.ctx.clock.now())).toContain(message.agentId)
    expect(await stateOfA()).toEqual(before)
  })

  it("does not let B move A's visitor, nor its own visitor into A's group", async () => {
    const before = await stateOfA()
    const never = `never-${generateId()}`
    for (const groupId of [groupB.id, groupA.id, null]) {
      const unknown = await call(b.apiKey, 'PUT', '/conversations/visitorGroup', { visitorId: never, groupId })
      expect(unknown.status).toBe(404)
      const foreign = await call(b.apiKey, 'PUT', '/conversations/visitorGroup', { visitorId: 'visitor-a', groupId })
      expect(withoutId(foreign, 'visitor-a')).toEqual(withoutId(unknown, never))
    }
    const unknownGroup = await call(b.apiKey, 'PUT', '/conversations/visitorGroup', {
      visitorId: 'visitor-b',
      groupId: never,
    })
    expect(unknownGroup.status).toBe(404)
    const foreignGroup = await call(b.apiKey, 'PUT', '/conversations/visitorGroup', {
      visitorId: 'visitor-b',
      groupId: groupA.id,
    })
    expect(withoutId(foreignGroup, groupA.id)).toEqual(withoutId(unknownGroup, never))
    expect((await parley.ctx.storage.read.visitors.get(b.accountId, 'visitor-b'))?.groupId).toBeUndefined()
    expect(await stateOfA()).toEqual(before)
    expect(before.visitor?.groupId).toBe(groupA.id)
  })

  it('keeps one visitorId used by both accounts as two visitors with two conversations', async () => {
    const shared = 'shared-visitor'
    const fromA = await sent(a.apiKey, '/conversations/messages', {
      visitorId: shared,
      text: 'A says hi',
      agentId: agentA.id,
    })
    const fromB = await sent(b.apiKey, '/conversations/messages', {
      visitorId: shared,
      text: 'B says hi',
      agentId: agentB.id,
    })
    const pushedB = await sent(b.apiKey, '/conversations/pushedMessages', { visitorId: shared, text: 'B pushes' })
    expect(pushedB.agentName).toBe('Beta')

    const read = parley.ctx.storage.read
    const conversationA = await read.conversations.getByVisitor(a.accountId, shared)
    const conversationB = await read.conversations.getByVisitor(b.accountId, shared)
    expect(conversationA?.id).toBeDefined()
    expect(conversationB?.id).toBeDefined()
    expect(conversationA?.id).not.toBe(conversationB?.id)
    expect((await read.messages.get(a.accountId, fromA.id))?.conversationId).toBe(conversationA?.id)
    expect((await read.messages.get(b.accountId, fromB.id))?.conversationId).toBe(conversationB?.id)

    // Neither reads the other's messages, on either collection.
    for (const [key, id] of [
      [b.apiKey, fromA.id],
      [a.apiKey, fromB.id],
      [a.apiKey, pushedB.id],
    ] as const) {
      expect((await call(key, 'GET', `/conversations/messages/${id}`)).status).toBe(404)
      expect((await call(key, 'GET', `/conversations/pushedMessages/${id}`)).status).toBe(404)
    }
    expect(await call(a.apiKey, 'GET', `/conversations/messages/${fromA.id}`)).toEqual({ status: 200, body: fromA })
    expect(await call(b.apiKey, 'GET', `/conversations/messages/${fromB.id}`)).toEqual({ status: 200, body: fromB })

    // Grouping one account's visitor leaves the other's alone.
    expect(
      await call(a.apiKey, 'PUT', '/conversations/visitorGroup', { visitorId: shared, groupId: groupA.id }),
    ).toEqual({
      status: 200,
      body: { visitorId: shared, groupId: groupA.id },
    })
    expect((await read.visitors.get(b.accountId, shared))?.groupId).toBeUndefined()
    expect(
      (await call(b.apiKey, 'PUT', '/conversations/visitorGroup', { visitorId: shared, groupId: groupB.id })).status,
    ).toBe(200)
    expect((await read.visitors.get(a.accountId, shared))?.groupId).toBe(groupA.id)

    // Each account's event log (what its realtime stream and webhooks replay) holds only its own messages.
    const eventsA = JSON.stringify(await read.events.listAfter(a.accountId, 0, 100_000))
    const eventsB = JSON.stringify(await read.events.listAfter(b.accountId, 0, 100_000))
    expect(eventsA).toContain(fromA.id)
    for (const id of [fromB.id, pushedB.id, bMessageId, conversationB!.id]) expect(eventsA).not.toContain(id)
    expect(eventsB).toContain(fromB.id)
    for (const id of [fromA.id, ...Object.values(aIds), conversationA!.id]) expect(eventsB).not.toContain(id)
  })

  it('keeps Idempotency-Keys per account: the same key and body in B is a new message of B', async () => {
    const body = { visitorId: 'same-key-visitor', text: 'order shipped' }
    const post = (apiKey: string) =>
      fetch(`${parley.apiUrl}/conversations/pushedMessages`, {
        method: 'POST',
        headers: { 'api-key': apiKey, 'content-type': 'application/json', 'idempotency-key': 'order-42' },
        body: JSON.stringify(body),
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as { id: string; agentName: string } }))
    const first = await post(a.apiKey)
    const other = await post(b.apiKey)
    expect(first.status).toBe(200)
    expect(other.status).toBe(200)
    expect(other.body.id).not.toBe(first.body.id)
    expect(other.body.agentName).toBe('Beta')
    expect(await post(b.apiKey)).toEqual(other)
    expect(await post(a.apiKey)).toEqual(first)
    expect((await call(b.apiKey, 'GET', `/conversations/pushedMessages/${first.body.id}`)).status).toBe(404)
  })

  it('answers a revoked key with 401 Key not found on every endpoint, and only that key', async () => {
    const extra = await createApiKey(parley.ctx, b.accountId)
    expect((await call(extra.apiKey, 'GET', `/conversations/messages/${bMessageId}`)).status).toBe(200)

    // A cannot revoke B's key: the key id is not one of A's.
    await expect(revokeApiKey(parley.ctx, a.accountId, extra.key.id)).rejects.toMatchObject({
      code: 'document_not_found',
    })
    expect((await call(extra.apiKey, 'GET', `/conversations/messages/${bMessageId}`)).status).toBe(200)

    await revokeApiKey(parley.ctx, b.accountId, extra.key.id)
    const before = await stateOfA()
    const countB = await parley.ctx.storage.read.messages.count(b.accountId)
    const requests: Array<[string, string, unknown?]> = [
      ['POST', '/conversations/messages', { visitorId: 'visitor-b', text: 'after revoke', agentId: agentB.id }],
      ['GET', `/conversations/messages/${bMessageId}`],
      ['PUT', `/conversations/messages/${bMessageId}`, { text: 'after revoke' }],
      ['DELETE', `/conversations/messages/${bMessageId}`],
      ['POST', '/conversations/pushedMessages', { visitorId: 'visitor-b', text: 'after revoke' }],
      ['GET', `/conversations/pushedMessages/${aIds.pushed}`],
      ['PUT', `/conversations/pushedMessages/${aIds.pushed}`, { text: 'after revoke' }],
      ['DELETE', `/conversations/pushedMessages/${aIds.pushed}`],
      ['POST', '/conversations/agentOnlinePing', { agentId: agentB.id }],
      ['PUT', '/conversations/visitorGroup', { visitorId: 'visitor-b', groupId: groupB.id }],
    ]
    for (const [method, path, body] of requests) {
      expect(await call(extra.apiKey, method, path, body), `${method} ${path}`).toEqual({
        status: 401,
        body: { code: 'unauthorized', message: 'Key not found' },
      })
    }
    expect(await parley.ctx.storage.read.messages.count(b.accountId)).toBe(countB)
    expect(await stateOfA()).toEqual(before)
    // B's first key still works.
    expect((await call(b.apiKey, 'GET', `/conversations/messages/${bMessageId}`)).status).toBe(200)
  })

  it("leaves A's messages exactly as A's own key read them before B's attempts", async () => {
    for (const id of Object.values(aIds)) {
      expect(await call(a.apiKey, 'GET', `/conversations/messages/${id}`)).toEqual(aAnswers[id])
    }
    expect(await call(a.apiKey, 'GET', `/conversations/pushedMessages/${aIds.pushed}`)).toEqual(
      aAnswers[`pushed:${aIds.pushed}`],
    )
    expect(aAnswers[aIds.agent]).toMatchObject({
      status: 200,
      body: { text: 'from A', agentId: agentA.id, agentName: 'Liz' },
    })
    expect(aAnswers[aIds.pushed]).toMatchObject({ status: 200, body: { text: 'pushed by A', isPushed: true } })
    expect(aAnswers[aIds.visitor]).toMatchObject({
      status: 200,
      body: { text: 'a visitor of A writes', type: 'visitor' },
    })
    expect((await parley.ctx.storage.read.visitors.get(a.accountId, 'visitor-a'))?.groupId).toBe(groupA.id)
  })
})
