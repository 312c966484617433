import { Brevo, BrevoClient, BrevoError } from '@getbrevo/brevo'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateId } from '../src/domain/ids.js'
import type { Agent, AgentGroup } from '../src/domain/model.js'
import { addAgentToGroup, createAgent, createGroup } from '../src/services/accounts.js'
import { sendVisitorMessage } from '../src/services/messages.js'
import { describeEachDb } from './helpers/databases.js'
import { startParley, type RunningParley } from './helpers/parley.js'
import { BREVO_ID, nullPaths } from './helpers/wire.js'

// The current Node SDK (Fern-generated, fetch-based), pointed at a real Parley with nothing but its
// base URL changed. For the Conversations endpoints it raises BadRequestError for 400,
// NotFoundError for 404 and a plain BrevoError for any other status (401 included).

/** The BrevoError a call rejects with; fails the test if the call succeeds. */
async function failure(call: Promise<unknown>): Promise<BrevoError> {
  const outcome = await call.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  )
  if (outcome.ok) throw new Error(`expected the call to fail, it returned ${JSON.stringify(outcome.value)}`)
  expect(outcome.error).toBeInstanceOf(BrevoError)
  return outcome.error as BrevoError
}

/** Status and body of a failed call, for one exact assertion. */
async function errorOf(call: Promise<unknown>): Promise<{ status: number | undefined; body: unknown }> {
  const err = await failure(call)
  return { status: err.statusCode, body: err.body }
}

describeEachDb('Brevo Node SDK 6.x against Parley', (db) => {
  let parley: RunningParley
  let client: BrevoClient
  let liz: Agent
  let support: AgentGroup

  beforeAll(async () => {
    parley = await startParley(db)
    client = new BrevoClient({ apiKey: parley.apiKey, baseUrl: parley.apiUrl, maxRetries: 0 })
    liz = await createAgent(parley.ctx, parley.accountId, { email: 'liz@acme.test', name: 'Liz' })
    support = await createGroup(parley.ctx, parley.accountId, 'Support')
    await addAgentToGroup(parley.ctx, parley.accountId, support.id, liz.id)
  })
  afterAll(() => parley?.close())

  const visitor = (label: string) => `v6-${label}-${generateId(8)}`
  const storedMessages = () => parley.ctx.storage.read.messages.count(parley.accountId)
  const notFound = { code: 'document_not_found', message: expect.any(String) }

  describe('POST /conversations/messages', () => {
    it('sends as an agent given by agentId and answers 200 with the whole message, no null anywhere', async () => {
      const visitorId = visitor('by-id')
      const before = Date.now()
      const { data, rawResponse } = await client.conversations
        .sendAMessageAsAnAgent({ agentId: liz.id, visitorId, text: 'Hello! How can I help you?' })
        .withRawResponse()
      const after = Date.now()

      expect(rawResponse.status).toBe(200)
      expect(rawResponse.headers.get('content-type')).toMatch(/^application\/json/)
      expect(data).toEqual({
        id: expect.stringMatching(BREVO_ID),
        type: 'agent',
        text: 'Hello! How can I help you?',
        html: 'Hello! How can I help you?',
        visitorId,
        agentId: liz.id,
        agentName: 'Liz',
        createdAt: expect.any(Number),
        isPushed: false,
      })
      expect(Number.isInteger(data.createdAt)).toBe(true)
      expect(data.createdAt).toBeGreaterThanOrEqual(before)
      expect(data.createdAt).toBeLessThanOrEqual(after)
      expect(nullPaths(data)).toEqual([])
    })

    it('sends as agentId + receivedFrom and echoes receivedFrom', async () => {
      const visitorId = visitor('id-rf')
      const message = await client.conversations.sendAMessageAsAnAgent({
        agentId: liz.id,
        receivedFrom: 'SuperAwesomeHelpdesk',
        visitorId,
        text: 'Hi from the helpdesk',
      })
      expect(message).toMatchObject({ type: 'agent', agentId: liz.id, agentName: 'Liz', receivedFrom: 'SuperAwesomeHelpdesk', visitorId })
      expect(nullPaths(message)).toEqual([])
    })

    it('sends as agentEmail + agentName + receivedFrom: a dummy agent is created once and reused', async () => {
      const visitorId = visitor('by-email')
      const who = { agentEmail: 'sam@helpdesk.test', agentName: 'Sam', receivedFrom: 'SuperAwesomeHelpdesk' }
      const first = await client.conversations.sendAMessageAsAnAgent({ ...who, visitorId, text: 'first' })
      const second = await client.conversations.sendAMessageAsAnAgent({ ...who, visitorId, text: 'second' })

      expect(first).toMatchObject({ type: 'agent', agentName: 'Sam', receivedFrom: 'SuperAwesomeHelpdesk', isPushed: false })
      expect(first.agentId).toMatch(BREVO_ID)
      expect(first.agentId).not.toBe(liz.id)
      expect(second.agentId).toBe(first.agentId)
      expect(second.id).not.toBe(first.id)
      const dummy = await parley.ctx.storage.read.agents.getByEmail(parley.accountId, 'sam@helpdesk.test')
      expect(dummy).toMatchObject({ id: first.agentId, name: 'Sam', isDummy: true })
    })

    it('accepts text of exactly 10000 characters', async () => {
      const text = 'x'.repeat(10_000)
      const message = await client.conversations.sendAMessageAsAnAgent({ agentId: liz.id, visitorId: visitor('long'), text })
      expect(message.text).toBe(text)
    })
  })

  describe('GET, PUT, DELETE /conversations/messages/{id}', () => {
    it('gets the message exactly as it was returned on creation', async () => {
      const created = await client.conversations.sendAMessageAsAnAgent({
        agentId: liz.id,
        receivedFrom: 'crm',
        visitorId: visitor('get'),
        text: 'a <b>bold</b>\nmove',
      })
      expect(created.html).toBe('a &lt;b&gt;bold&lt;/b&gt;<br>move')
      const { data, rawResponse } = await client.conversations.getAMessage({ id: created.id! }).withRawResponse()
      expect(rawResponse.status).toBe(200)
      expect(data).toEqual(created)
    })

    it('edits an agent message: same id and createdAt, new text, and GET shows the edit', async () => {
      const created = await client.conversations.sendAMessageAsAnAgent({ agentId: liz.id, visitorId: visitor('put'), text: 'Good mornin' })
      const { data: edited, rawResponse } = await client.conversations
        .updateAMessageSentByAnAgent({ id: created.id!, text: 'Good morning! How can I help you?' })
        .withRawResponse()
      expect(rawResponse.status).toBe(200)
      expect(edited).toEqual({
        ...created,
        text: 'Good morning! How can I help you?',
        html: 'Good morning! How can I help you?',
      })
      expect(await client.conversations.getAMessage({ id: created.id! })).toEqual(edited)
    })

    it('deletes with 204 and no body; the message is then 404 document_not_found everywhere', async () => {
      const created = await client.conversations.sendAMessageAsAnAgent({ agentId: liz.id, visitorId: visitor('del'), text: 'oops' })
      const { data, rawResponse } = await client.conversations.deleteAMessageSentByAnAgent({ id: created.id! }).withRawResponse()
      expect(rawResponse.status).toBe(204)
      expect(data).toBeUndefined()

      const get = await failure(client.conversations.getAMessage({ id: created.id! }))
      expect(get).toBeInstanceOf(Brevo.NotFoundError)
      expect({ status: get.statusCode, body: get.body }).toEqual({ status: 404, body: notFound })
      expect(await errorOf(client.conversations.updateAMessageSentByAnAgent({ id: created.id!, text: 'back?' }))).toEqual({
        status: 404,
        body: notFound,
      })
      expect(await errorOf(client.conversations.deleteAMessageSentByAnAgent({ id: created.id! }))).toEqual({ status: 404, body: notFound })
    })

    it('answers 404 document_not_found for an id that never existed', async () => {
      const err = await failure(client.conversations.getAMessage({ id: 'eYBEm3gq3zc5ayE2g' }))
      expect(err).toBeInstanceOf(Brevo.NotFoundError)
      expect({ status: err.statusCode, body: err.body }).toEqual({ status: 404, body: notFound })
    })

    it("reads a visitor's message but refuses to edit or delete it (400 invalid_parameter)", async () => {
      const visitorId = visitor('own')
      const { id } = await sendVisitorMessage(parley.ctx, parley.accountId, { visitorId, text: 'Where is my order?' })
      const message = await client.conversations.getAMessage({ id })
      expect(message).toEqual({
        id,
        type: 'visitor',
        text: 'Where is my order?',
        html: 'Where is my order?',
        visitorId,
        createdAt: expect.any(Number),
      })
      const invalid = { status: 400, body: { code: 'invalid_parameter', message: expect.stringContaining('Only agents') } }
      const edit = await failure(client.conversations.updateAMessageSentByAnAgent({ id, text: 'changed' }))
      expect(edit).toBeInstanceOf(Brevo.BadRequestError)
      expect({ status: edit.statusCode, body: edit.body }).toEqual(invalid)
      expect(await errorOf(client.conversations.deleteAMessageSentByAnAgent({ id }))).toEqual(invalid)
      expect((await client.conversations.getAMessage({ id })).text).toBe('Where is my order?')
    })
  })

  describe('/conversations/pushedMessages', () => {
    it('pushes on behalf of an agent: 200, type agent, isPushed true', async () => {
      const visitorId = visitor('push-agent')
      const { data, rawResponse } = await client.conversations
        .sendAnAutomatedMessageToAVisitor({ agentId: liz.id, visitorId, text: 'Your order has shipped' })
        .withRawResponse()
      expect(rawResponse.status).toBe(200)
      expect(data).toEqual({
        id: expect.stringMatching(BREVO_ID),
        type: 'agent',
        text: 'Your order has shipped',
        html: 'Your order has shipped',
        visitorId,
        agentId: liz.id,
        agentName: 'Liz',
        createdAt: expect.any(Number),
        isPushed: true,
      })
      expect(Number.isInteger(data.createdAt)).toBe(true)
      expect(nullPaths(data)).toEqual([])
    })

    it('pushes for a group: isPushed true, speaking as the account', async () => {
      const visitorId = visitor('push-group')
      const message = await client.conversations.sendAnAutomatedMessageToAVisitor({ groupId: support.id, visitorId, text: 'We are here' })
      expect(message).toEqual({
        id: expect.stringMatching(BREVO_ID),
        type: 'agent',
        text: 'We are here',
        html: 'We are here',
        visitorId,
        agentName: 'Acme',
        createdAt: expect.any(Number),
        isPushed: true,
      })
    })

    it("pushes with neither agentId nor groupId: no agentId, agentName is the account's name", async () => {
      const visitorId = visitor('push-none')
      const message = await client.conversations.sendAnAutomatedMessageToAVisitor({ visitorId, text: 'New feature!' })
      expect(message).toMatchObject({ type: 'agent', agentName: 'Acme', isPushed: true, visitorId, text: 'New feature!' })
      expect(message).not.toHaveProperty('agentId')
      expect(nullPaths(message)).toEqual([])
    })

    it('refuses an unknown agentId or groupId with 400 invalid_parameter and stores nothing', async () => {
      const count = await storedMessages()
      const byAgent = await failure(
        client.conversations.sendAnAutomatedMessageToAVisitor({ agentId: 'noSuchAgent23456', visitorId: visitor('x'), text: 't' }),
      )
      expect(byAgent).toBeInstanceOf(Brevo.BadRequestError)
      expect({ status: byAgent.statusCode, body: byAgent.body }).toEqual({
        status: 400,
        body: { code: 'invalid_parameter', message: expect.stringContaining('agentId') },
      })
      expect(
        await errorOf(client.conversations.sendAnAutomatedMessageToAVisitor({ groupId: 'noSuchGroup23456', visitorId: visitor('x'), text: 't' })),
      ).toEqual({ status: 400, body: { code: 'invalid_parameter', message: expect.stringContaining('groupId') } })
      expect(await storedMessages()).toBe(count)
    })

    it('gets, edits and deletes a pushed message; after delete it is 404', async () => {
      const created = await client.conversations.sendAnAutomatedMessageToAVisitor({ agentId: liz.id, visitorId: visitor('push-crud'), text: 'v1' })

      const got = await client.conversations.getAnAutomatedMessage({ id: created.id! }).withRawResponse()
      expect(got.rawResponse.status).toBe(200)
      expect(got.data).toEqual(created)
      // The general collection reads any message, pushed ones included.
      expect(await client.conversations.getAMessage({ id: created.id! })).toEqual(created)

      const edited = await client.conversations.updateAnAutomatedMessage({ id: created.id!, text: 'v2' }).withRawResponse()
      expect(edited.rawResponse.status).toBe(200)
      expect(edited.data).toEqual({ ...created, text: 'v2', html: 'v2' })
      expect(await client.conversations.getAnAutomatedMessage({ id: created.id! })).toEqual(edited.data)

      const deleted = await client.conversations.deleteAnAutomatedMessage({ id: created.id! }).withRawResponse()
      expect(deleted.rawResponse.status).toBe(204)
      expect(deleted.data).toBeUndefined()
      const gone = await failure(client.conversations.getAnAutomatedMessage({ id: created.id! }))
      expect(gone).toBeInstanceOf(Brevo.NotFoundError)
      expect({ status: gone.statusCode, body: gone.body }).toEqual({ status: 404, body: notFound })
      expect(await errorOf(client.conversations.getAMessage({ id: created.id! }))).toEqual({ status: 404, body: notFound })
    })

    it('refuses to edit or delete a pushed message through /conversations/messages (400 invalid_parameter)', async () => {
      const pushed = await client.conversations.sendAnAutomatedMessageToAVisitor({ agentId: liz.id, visitorId: visitor('push-wrong'), text: 'stay' })
      const invalid = { status: 400, body: { code: 'invalid_parameter', message: expect.stringContaining('pushedMessages') } }
      const edit = await failure(client.conversations.updateAMessageSentByAnAgent({ id: pushed.id!, text: 'changed' }))
      expect(edit).toBeInstanceOf(Brevo.BadRequestError)
      expect({ status: edit.statusCode, body: edit.body }).toEqual(invalid)
      expect(await errorOf(client.conversations.deleteAMessageSentByAnAgent({ id: pushed.id! }))).toEqual(invalid)
      expect(await client.conversations.getAnAutomatedMessage({ id: pushed.id! })).toEqual(pushed)
    })

    it('knows only pushed messages: an agent message id is 404 on every pushedMessages endpoint', async () => {
      const plain = await client.conversations.sendAMessageAsAnAgent({ agentId: liz.id, visitorId: visitor('not-pushed'), text: 'plain' })
      const get = await failure(client.conversations.getAnAutomatedMessage({ id: plain.id! }))
      expect(get).toBeInstanceOf(Brevo.NotFoundError)
      expect({ status: get.statusCode, body: get.body }).toEqual({ status: 404, body: notFound })
      expect(await errorOf(client.conversations.updateAnAutomatedMessage({ id: plain.id!, text: 'x' }))).toEqual({ status: 404, body: notFound })
      expect(await errorOf(client.conversations.deleteAnAutomatedMessage({ id: plain.id! }))).toEqual({ status: 404, body: notFound })
      expect(await client.conversations.getAMessage({ id: plain.id! })).toEqual(plain)
    })
  })

  describe('POST /conversations/agentOnlinePing', () => {
    it('answers 201 with no body for agentId and marks the agent online', async () => {
      const { data, rawResponse } = await client.conversations.setsAgentsStatusToOnlineFor23Minutes({ agentId: liz.id }).withRawResponse()
      expect(rawResponse.status).toBe(201)
      expect(data).toBeUndefined()
      expect(await parley.ctx.presence.onlineAgents(parley.accountId, Date.now())).toContain(liz.id)
    })

    it('answers 201 for agentEmail + agentName + receivedFrom, creating a dummy agent that is online', async () => {
      const { rawResponse } = await client.conversations
        .setsAgentsStatusToOnlineFor23Minutes({ agentEmail: 'pat@helpdesk.test', agentName: 'Pat', receivedFrom: 'SuperAwesomeHelpdesk' })
        .withRawResponse()
      expect(rawResponse.status).toBe(201)
      const pat = await parley.ctx.storage.read.agents.getByEmail(parley.accountId, 'pat@helpdesk.test')
      expect(pat).toMatchObject({ name: 'Pat', isDummy: true })
      expect(await parley.ctx.presence.onlineAgents(parley.accountId, Date.now())).toContain(pat!.id)
    })

    it('refuses {} with 400 missing_parameter', async () => {
      const err = await failure(client.conversations.setsAgentsStatusToOnlineFor23Minutes({}))
      expect(err).toBeInstanceOf(Brevo.BadRequestError)
      expect({ status: err.statusCode, body: err.body }).toEqual({
        status: 400,
        body: { code: 'missing_parameter', message: expect.stringContaining('agentId') },
      })
    })
  })

  describe('PUT /conversations/visitorGroup', () => {
    // The SDK's request type declares only groupId; Parley also needs visitorId in the body.
    const assign = (visitorId: string, groupId: string | null) => {
      const request: Brevo.PutConversationsVisitorGroupRequest & { visitorId: string } = { visitorId, groupId }
      return client.conversations.setVisitorGroupAssignment(request)
    }

    it('assigns a visitor to a group and removes the assignment with groupId null', async () => {
      const visitorId = visitor('group')
      await client.conversations.sendAMessageAsAnAgent({ agentId: liz.id, visitorId, text: 'hello' })

      const { data, rawResponse } = await assign(visitorId, support.id).withRawResponse()
      expect(rawResponse.status).toBe(200)
      expect(data).toEqual({ groupId: support.id, visitorId })
      expect((await parley.ctx.storage.read.visitors.get(parley.accountId, visitorId))?.groupId).toBe(support.id)

      const removed = await assign(visitorId, null)
      expect(removed).toEqual({ visitorId })
      expect((await parley.ctx.storage.read.visitors.get(parley.accountId, visitorId))?.groupId).toBeUndefined()
    })

    it('answers 404 document_not_found for an unknown visitor or group', async () => {
      const unknownVisitor = await failure(assign('nobody-ever-seen', support.id))
      expect(unknownVisitor).toBeInstanceOf(Brevo.NotFoundError)
      expect({ status: unknownVisitor.statusCode, body: unknownVisitor.body }).toEqual({
        status: 404,
        body: { code: 'document_not_found', message: expect.stringContaining('nobody-ever-seen') },
      })

      const visitorId = visitor('group-404')
      await client.conversations.sendAMessageAsAnAgent({ agentId: liz.id, visitorId, text: 'hello' })
      expect(await errorOf(assign(visitorId, 'noSuchGroup23456'))).toEqual({
        status: 404,
        body: { code: 'document_not_found', message: expect.stringContaining('noSuchGroup23456') },
      })
      expect((await parley.ctx.storage.read.visitors.get(parley.accountId, visitorId))?.groupId).toBeUndefined()
    })
  })

  describe('errors', () => {
    it("answers 401 with Brevo's body when the api-key header is missing", async () => {
      // `auth: false` sends no api-key header at all; the typings still insist on an apiKey.
      const anonymous = new BrevoClient({ apiKey: 'unused', auth: false, baseUrl: parley.apiUrl, maxRetries: 0 })
      const err = await failure(anonymous.conversations.getAMessage({ id: 'eYBEm3gq3zc5ayE2g' }))
      expect({ status: err.statusCode, body: err.body }).toEqual({
        status: 401,
        body: { message: 'authentication not found in headers', code: 'unauthorized' },
      })
    })

    it("answers 401 with Brevo's body for an unknown key, and stores nothing", async () => {
      const count = await storedMessages()
      const stranger = new BrevoClient({ apiKey: 'xkeysib-not-a-real-key-0000000000', baseUrl: parley.apiUrl, maxRetries: 0 })
      const err = await failure(stranger.conversations.sendAMessageAsAnAgent({ agentId: liz.id, visitorId: visitor('401'), text: 'hi' }))
      expect({ status: err.statusCode, body: err.body }).toEqual({ status: 401, body: { message: 'Key not found', code: 'unauthorized' } })
      expect(await storedMessages()).toBe(count)
    })

    it("cannot see another account's messages: 404", async () => {
      const created = await client.conversations.sendAMessageAsAnAgent({ agentId: liz.id, visitorId: visitor('tenant'), text: 'mine' })
      const other = await parley.createAccount('Other')
      const otherClient = new BrevoClient({ apiKey: other.apiKey, baseUrl: parley.apiUrl, maxRetries: 0 })
      expect(await errorOf(otherClient.conversations.getAMessage({ id: created.id! }))).toEqual({ status: 404, body: notFound })
      expect(await errorOf(otherClient.conversations.deleteAMessageSentByAnAgent({ id: created.id! }))).toEqual({
        status: 404,
        body: notFound,
      })
      expect(await client.conversations.getAMessage({ id: created.id! })).toEqual(created)
    })

    it('refuses bad message requests with 400 and the right code, storing nothing', async () => {
      const count = await storedMessages()
      const visitorId = visitor('bad')

      const noText = await failure(
        client.conversations.sendAMessageAsAnAgent({ agentId: liz.id, visitorId } as Brevo.PostConversationsMessagesRequest),
      )
      expect(noText).toBeInstanceOf(Brevo.BadRequestError)
      expect({ status: noText.statusCode, body: noText.body }).toEqual({
        status: 400,
        body: { code: 'missing_parameter', message: expect.stringContaining('text') },
      })

      expect(await errorOf(client.conversations.sendAMessageAsAnAgent({ agentId: 'noSuchAgent23456', visitorId, text: 'hi' }))).toEqual({
        status: 400,
        body: { code: 'invalid_parameter', message: expect.stringContaining('noSuchAgent23456') },
      })

      expect(await errorOf(client.conversations.sendAMessageAsAnAgent({ agentId: liz.id, visitorId, text: 'x'.repeat(10_001) }))).toEqual({
        status: 400,
        body: { code: 'out_of_range', message: expect.stringContaining('text') },
      })

      const onlyEmail = await errorOf(client.conversations.sendAMessageAsAnAgent({ agentEmail: 'solo@helpdesk.test', visitorId, text: 'hi' }))
      expect(onlyEmail).toEqual({
        status: 400,
        body: { code: 'missing_parameter', message: expect.stringMatching(/agentName.*receivedFrom/) },
      })

      expect(await storedMessages()).toBe(count)
      expect(await parley.ctx.storage.read.agents.getByEmail(parley.accountId, 'solo@helpdesk.test')).toBeUndefined()
    })

    it('refuses an edit without text with 400 missing_parameter', async () => {
      const created = await client.conversations.sendAMessageAsAnAgent({ agentId: liz.id, visitorId: visitor('edit-bad'), text: 'keep' })
      const noText = { id: created.id! } as Brevo.PutConversationsMessagesIdRequest
      expect(await errorOf(client.conversations.updateAMessageSentByAnAgent(noText))).toEqual({
        status: 400,
        body: { code: 'missing_parameter', message: expect.stringContaining('text') },
      })
      expect(await errorOf(client.conversations.updateAnAutomatedMessage(noText))).toEqual({
        status: 400,
        body: { code: 'missing_parameter', message: expect.stringContaining('text') },
      })
      expect((await client.conversations.getAMessage({ id: created.id! })).text).toBe('keep')
    })
  })

  describe('Idempotency-Key', () => {
    it('returns the first message for a retry with the same key and body, storing one message', async () => {
      const count = await storedMessages()
      const request = { agentId: liz.id, visitorId: visitor('idem'), text: 'charged once' }
      const headers = { 'Idempotency-Key': `v6-${generateId()}` }
      const first = await client.conversations.sendAMessageAsAnAgent(request, { headers })
      const retry = await client.conversations.sendAMessageAsAnAgent({ ...request }, { headers })
      expect(retry).toEqual(first)
      expect(await storedMessages()).toBe(count + 1)

      const other = await failure(client.conversations.sendAMessageAsAnAgent({ ...request, text: 'something else' }, { headers }))
      expect(other).toBeInstanceOf(Brevo.BadRequestError)
      expect({ status: other.statusCode, body: other.body }).toEqual({
        status: 400,
        body: { code: 'duplicate_request', message: expect.stringContaining('Idempotency-Key') },
      })
      expect(await storedMessages()).toBe(count + 1)

      // Without the key the same body is a new message.
      const fresh = await client.conversations.sendAMessageAsAnAgent(request)
      expect(fresh.id).not.toBe(first.id)
      expect(await storedMessages()).toBe(count + 2)
    })

    it('does the same for pushed messages', async () => {
      const count = await storedMessages()
      const request = { groupId: support.id, visitorId: visitor('idem-push'), text: 'shipped once' }
      const headers = { 'Idempotency-Key': `v6-push-${generateId()}` }
      const first = await client.conversations.sendAnAutomatedMessageToAVisitor(request, { headers })
      const retry = await client.conversations.sendAnAutomatedMessageToAVisitor(request, { headers })
      expect(retry).toEqual(first)
      expect(first.isPushed).toBe(true)
      expect(await storedMessages()).toBe(count + 1)
      expect(
        await errorOf(client.conversations.sendAnAutomatedMessageToAVisitor({ ...request, text: 'shipped twice' }, { headers })),
      ).toEqual({ status: 400, body: { code: 'duplicate_request', message: expect.any(String) } })
      expect(await storedMessages()).toBe(count + 1)
    })
  })
})
