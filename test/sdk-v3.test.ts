import {
  ConversationsApi,
  ConversationsApiApiKeys,
  HttpError,
  type ConversationsMessagesPostRequest,
  type ConversationsPushedMessagesIdPutRequest,
} from '@getbrevo/brevo-v3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateId } from '../src/domain/ids.js'
import type { Agent, AgentGroup } from '../src/domain/model.js'
import { addAgentToGroup, createAgent, createGroup } from '../src/services/accounts.js'
import { sendVisitorMessage } from '../src/services/messages.js'
import { describeEachDb } from './helpers/databases.js'
import { startParley, type RunningParley } from './helpers/parley.js'
import { BREVO_ID, nullPaths } from './helpers/wire.js'

// The classic 3.x Node SDK (OpenAPI Generator, CommonJS, installed as `@getbrevo/brevo-v3`), pointed
// at a real Parley with nothing but its base path changed. It has no visitorGroup method.

/**
 * Status and body of a failed call; fails the test if the call succeeds. @NOTE 3.0.x hands the
 * transport's AxiosError to `reject` before it gets to build its own HttpError (which older 3.x
 * releases raised), so both shapes are read here; anything else (a network error) is rethrown.
 */
async function errorOf(call: Promise<unknown>): Promise<{ status: number | undefined; body: unknown }> {
  const outcome = await call.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  )
  if (outcome.ok) throw new Error(`expected the call to fail, it returned ${JSON.stringify(outcome.value)}`)
  const { error } = outcome
  if (error instanceof HttpError) return { status: error.statusCode, body: error.body }
  const axios = error as { isAxiosError?: boolean; response?: { status: number; data: unknown } }
  if (axios.isAxiosError && axios.response) return { status: axios.response.status, body: axios.response.data }
  throw error
}

describeEachDb('Brevo Node SDK 3.x against Parley', (db) => {
  let parley: RunningParley
  let api: ConversationsApi
  let liz: Agent
  let support: AgentGroup

  function apiWithKey(key?: string): ConversationsApi {
    const conversations = new ConversationsApi(parley.apiUrl)
    if (key !== undefined) conversations.setApiKey(ConversationsApiApiKeys.apiKey, key)
    return conversations
  }

  beforeAll(async () => {
    parley = await startParley(db)
    api = apiWithKey(parley.apiKey)
    liz = await createAgent(parley.ctx, parley.accountId, { email: 'liz@acme.test', name: 'Liz' })
    support = await createGroup(parley.ctx, parley.accountId, 'Support')
    await addAgentToGroup(parley.ctx, parley.accountId, support.id, liz.id)
  })
  afterAll(() => parley?.close())

  const visitor = (label: string) => `v3-${label}-${generateId(8)}`
  const storedMessages = () => parley.ctx.storage.read.messages.count(parley.accountId)
  const notFound = { status: 404, body: { code: 'document_not_found', message: expect.any(String) } }

  describe('POST /conversations/messages', () => {
    it('sends as an agent given by agentId and answers 200 with the message, no null anywhere', async () => {
      const visitorId = visitor('by-id')
      const before = Date.now()
      const { response, body } = await api.conversationsMessagesPost({ agentId: liz.id, visitorId, text: 'Hello! How can I help you?' })
      const after = Date.now()

      expect(response.statusCode).toBe(200)
      expect(body).toEqual({
        id: expect.stringMatching(BREVO_ID),
        type: 'agent',
        text: 'Hello! How can I help you?',
        visitorId,
        agentId: liz.id,
        agentName: 'Liz',
        createdAt: expect.any(Number),
        isPushed: false,
      })
      expect(Number.isInteger(body.createdAt)).toBe(true)
      expect(body.createdAt).toBeGreaterThanOrEqual(before)
      expect(body.createdAt).toBeLessThanOrEqual(after)
      expect(nullPaths(body)).toEqual([])
    })

    it('sends as agentId + receivedFrom and echoes receivedFrom', async () => {
      const visitorId = visitor('id-rf')
      const { body } = await api.conversationsMessagesPost({ agentId: liz.id, receivedFrom: 'SuperAwesomeHelpdesk', visitorId, text: 'Hi' })
      expect(body).toMatchObject({ type: 'agent', agentId: liz.id, agentName: 'Liz', receivedFrom: 'SuperAwesomeHelpdesk', visitorId })
      expect(nullPaths(body)).toEqual([])
    })

    it('sends as agentEmail + agentName + receivedFrom: a dummy agent is created once and reused', async () => {
      const visitorId = visitor('by-email')
      const who = { agentEmail: 'sam@helpdesk.test', agentName: 'Sam', receivedFrom: 'SuperAwesomeHelpdesk' }
      const first = (await api.conversationsMessagesPost({ ...who, visitorId, text: 'first' })).body
      const second = (await api.conversationsMessagesPost({ ...who, visitorId, text: 'second' })).body

      expect(first).toMatchObject({ type: 'agent', agentName: 'Sam', receivedFrom: 'SuperAwesomeHelpdesk', isPushed: false })
      expect(first.agentId).toMatch(BREVO_ID)
      expect(first.agentId).not.toBe(liz.id)
      expect(second.agentId).toBe(first.agentId)
      expect(second.id).not.toBe(first.id)
      const dummy = await parley.ctx.storage.read.agents.getByEmail(parley.accountId, 'sam@helpdesk.test')
      expect(dummy).toMatchObject({ id: first.agentId, name: 'Sam', isDummy: true })
    })

    it('accepts a partner-key header alongside the api-key and ignores it', async () => {
      const withPartner = apiWithKey(parley.apiKey)
      withPartner.setApiKey(ConversationsApiApiKeys.partnerKey, 'xkeysib-partner-0000000000000000')
      const { response, body } = await withPartner.conversationsMessagesPost({ agentId: liz.id, visitorId: visitor('partner'), text: 'hi' })
      expect(response.statusCode).toBe(200)
      expect(body.agentId).toBe(liz.id)
    })
  })

  describe('GET, PUT, DELETE /conversations/messages/{id}', () => {
    it('gets the message exactly as it was returned on creation', async () => {
      const created = (await api.conversationsMessagesPost({ agentId: liz.id, receivedFrom: 'crm', visitorId: visitor('get'), text: 'hey' })).body
      const { response, body } = await api.conversationsMessagesIdGet(created.id!)
      expect(response.statusCode).toBe(200)
      expect(body).toEqual(created)
    })

    it('edits an agent message: same id and createdAt, new text, and GET shows the edit', async () => {
      const created = (await api.conversationsMessagesPost({ agentId: liz.id, visitorId: visitor('put'), text: 'Good mornin' })).body
      const { response, body } = await api.conversationsMessagesIdPut(created.id!, { text: 'Good morning! How can I help you?' })
      expect(response.statusCode).toBe(200)
      expect(body).toEqual({ ...created, text: 'Good morning! How can I help you?' })
      expect((await api.conversationsMessagesIdGet(created.id!)).body).toEqual(body)
    })

    it('refuses an edit without a body or without text with 400 missing_parameter', async () => {
      const created = (await api.conversationsMessagesPost({ agentId: liz.id, visitorId: visitor('put-bad'), text: 'keep' })).body
      const missing = { status: 400, body: { code: 'missing_parameter', message: expect.any(String) } }
      // The SDK declares this body optional; without one it sends no body at all.
      expect(await errorOf(api.conversationsMessagesIdPut(created.id!))).toEqual(missing)
      expect(await errorOf(api.conversationsMessagesIdPut(created.id!, {} as { text: string }))).toEqual({
        status: 400,
        body: { code: 'missing_parameter', message: expect.stringContaining('text') },
      })
      expect((await api.conversationsMessagesIdGet(created.id!)).body.text).toBe('keep')
    })

    it('deletes with 204 and no body; the message is then 404 document_not_found everywhere', async () => {
      const created = (await api.conversationsMessagesPost({ agentId: liz.id, visitorId: visitor('del'), text: 'oops' })).body
      const { response, body } = await api.conversationsMessagesIdDelete(created.id!)
      expect(response.statusCode).toBe(204)
      expect(body).toBe('')

      expect(await errorOf(api.conversationsMessagesIdGet(created.id!))).toEqual(notFound)
      expect(await errorOf(api.conversationsMessagesIdPut(created.id!, { text: 'back?' }))).toEqual(notFound)
      expect(await errorOf(api.conversationsMessagesIdDelete(created.id!))).toEqual(notFound)
    })

    it('answers 404 document_not_found for an id that never existed', async () => {
      expect(await errorOf(api.conversationsMessagesIdGet('eYBEm3gq3zc5ayE2g'))).toEqual(notFound)
    })

    it("reads a visitor's message but refuses to edit or delete it (400 invalid_parameter)", async () => {
      const visitorId = visitor('own')
      const { id } = await sendVisitorMessage(parley.ctx, parley.accountId, { visitorId, text: 'Where is my order?' })
      const { body } = await api.conversationsMessagesIdGet(id)
      expect(body).toEqual({ id, type: 'visitor', text: 'Where is my order?', visitorId, createdAt: expect.any(Number) })
      const invalid = { status: 400, body: { code: 'invalid_parameter', message: expect.stringContaining('Only agents') } }
      expect(await errorOf(api.conversationsMessagesIdPut(id, { text: 'changed' }))).toEqual(invalid)
      expect(await errorOf(api.conversationsMessagesIdDelete(id))).toEqual(invalid)
      expect((await api.conversationsMessagesIdGet(id)).body.text).toBe('Where is my order?')
    })
  })

  describe('/conversations/pushedMessages', () => {
    it('pushes on behalf of an agent: 200, type agent, isPushed true', async () => {
      const visitorId = visitor('push-agent')
      const { response, body } = await api.conversationsPushedMessagesPost({ agentId: liz.id, visitorId, text: 'Your order has shipped' })
      expect(response.statusCode).toBe(200)
      expect(body).toEqual({
        id: expect.stringMatching(BREVO_ID),
        type: 'agent',
        text: 'Your order has shipped',
        visitorId,
        agentId: liz.id,
        agentName: 'Liz',
        createdAt: expect.any(Number),
        isPushed: true,
      })
      expect(Number.isInteger(body.createdAt)).toBe(true)
      expect(nullPaths(body)).toEqual([])
    })

    it('pushes for a group: isPushed true, speaking as the account', async () => {
      const visitorId = visitor('push-group')
      const { body } = await api.conversationsPushedMessagesPost({ groupId: support.id, visitorId, text: 'We are here' })
      expect(body).toEqual({
        id: expect.stringMatching(BREVO_ID),
        type: 'agent',
        text: 'We are here',
        visitorId,
        agentName: 'Acme',
        createdAt: expect.any(Number),
        isPushed: true,
      })
    })

    it("pushes with neither agentId nor groupId: no agentId, agentName is the account's name", async () => {
      const visitorId = visitor('push-none')
      const { body } = await api.conversationsPushedMessagesPost({ visitorId, text: 'New feature!' })
      expect(body).toMatchObject({ type: 'agent', agentName: 'Acme', isPushed: true, visitorId, text: 'New feature!' })
      expect(body.agentId).toBeUndefined()
      expect(nullPaths(body)).toEqual([])
    })

    it('refuses an unknown agentId or groupId with 400 invalid_parameter and stores nothing', async () => {
      const count = await storedMessages()
      expect(await errorOf(api.conversationsPushedMessagesPost({ agentId: 'noSuchAgent23456', visitorId: visitor('x'), text: 't' }))).toEqual({
        status: 400,
        body: { code: 'invalid_parameter', message: expect.stringContaining('agentId') },
      })
      expect(await errorOf(api.conversationsPushedMessagesPost({ groupId: 'noSuchGroup23456', visitorId: visitor('x'), text: 't' }))).toEqual({
        status: 400,
        body: { code: 'invalid_parameter', message: expect.stringContaining('groupId') },
      })
      expect(await storedMessages()).toBe(count)
    })

    it('gets, edits and deletes a pushed message; after delete it is 404', async () => {
      const created = (await api.conversationsPushedMessagesPost({ agentId: liz.id, visitorId: visitor('push-crud'), text: 'v1' })).body

      const got = await api.conversationsPushedMessagesIdGet(created.id!)
      expect(got.response.statusCode).toBe(200)
      expect(got.body).toEqual(created)
      // The general collection reads any message, pushed ones included.
      expect((await api.conversationsMessagesIdGet(created.id!)).body).toEqual(created)

      const edited = await api.conversationsPushedMessagesIdPut(created.id!, { text: 'v2' })
      expect(edited.response.statusCode).toBe(200)
      expect(edited.body).toEqual({ ...created, text: 'v2' })
      expect((await api.conversationsPushedMessagesIdGet(created.id!)).body).toEqual(edited.body)

      const deleted = await api.conversationsPushedMessagesIdDelete(created.id!)
      expect(deleted.response.statusCode).toBe(204)
      expect(deleted.body).toBe('')
      expect(await errorOf(api.conversationsPushedMessagesIdGet(created.id!))).toEqual(notFound)
      expect(await errorOf(api.conversationsMessagesIdGet(created.id!))).toEqual(notFound)
    })

    it('refuses an edit without text with 400 missing_parameter', async () => {
      const created = (await api.conversationsPushedMessagesPost({ agentId: liz.id, visitorId: visitor('push-put-bad'), text: 'keep' })).body
      expect(await errorOf(api.conversationsPushedMessagesIdPut(created.id!, {} as ConversationsPushedMessagesIdPutRequest))).toEqual({
        status: 400,
        body: { code: 'missing_parameter', message: expect.stringContaining('text') },
      })
      expect((await api.conversationsPushedMessagesIdGet(created.id!)).body.text).toBe('keep')
    })

    it('refuses to edit or delete a pushed message through /conversations/messages (400 invalid_parameter)', async () => {
      const pushed = (await api.conversationsPushedMessagesPost({ agentId: liz.id, visitorId: visitor('push-wrong'), text: 'stay' })).body
      const invalid = { status: 400, body: { code: 'invalid_parameter', message: expect.stringContaining('pushedMessages') } }
      expect(await errorOf(api.conversationsMessagesIdPut(pushed.id!, { text: 'changed' }))).toEqual(invalid)
      expect(await errorOf(api.conversationsMessagesIdDelete(pushed.id!))).toEqual(invalid)
      expect((await api.conversationsPushedMessagesIdGet(pushed.id!)).body).toEqual(pushed)
    })

    it('knows only pushed messages: an agent message id is 404 on every pushedMessages endpoint', async () => {
      const plain = (await api.conversationsMessagesPost({ agentId: liz.id, visitorId: visitor('not-pushed'), text: 'plain' })).body
      expect(await errorOf(api.conversationsPushedMessagesIdGet(plain.id!))).toEqual(notFound)
      expect(await errorOf(api.conversationsPushedMessagesIdPut(plain.id!, { text: 'x' }))).toEqual(notFound)
      expect(await errorOf(api.conversationsPushedMessagesIdDelete(plain.id!))).toEqual(notFound)
      expect((await api.conversationsMessagesIdGet(plain.id!)).body).toEqual(plain)
    })
  })

  describe('POST /conversations/agentOnlinePing', () => {
    it('answers 201 with no body for agentId and marks the agent online', async () => {
      const { response, body } = await api.conversationsAgentOnlinePingPost({ agentId: liz.id })
      expect(response.statusCode).toBe(201)
      expect(body).toBe('')
      expect(await parley.ctx.presence.onlineAgents(parley.accountId, Date.now())).toContain(liz.id)
    })

    it('answers 201 for agentEmail + agentName + receivedFrom, creating a dummy agent that is online', async () => {
      const { response } = await api.conversationsAgentOnlinePingPost({
        agentEmail: 'pat@helpdesk.test',
        agentName: 'Pat',
        receivedFrom: 'SuperAwesomeHelpdesk',
      })
      expect(response.statusCode).toBe(201)
      const pat = await parley.ctx.storage.read.agents.getByEmail(parley.accountId, 'pat@helpdesk.test')
      expect(pat).toMatchObject({ name: 'Pat', isDummy: true })
      expect(await parley.ctx.presence.onlineAgents(parley.accountId, Date.now())).toContain(pat!.id)
    })

    it('refuses {} with 400 missing_parameter', async () => {
      expect(await errorOf(api.conversationsAgentOnlinePingPost({}))).toEqual({
        status: 400,
        body: { code: 'missing_parameter', message: expect.stringContaining('agentId') },
      })
    })
  })

  describe('errors', () => {
    it("answers 401 with Brevo's body when no api-key is set", async () => {
      expect(await errorOf(apiWithKey().conversationsMessagesIdGet('eYBEm3gq3zc5ayE2g'))).toEqual({
        status: 401,
        body: { message: 'authentication not found in headers', code: 'unauthorized' },
      })
    })

    it("answers 401 with Brevo's body for an unknown key, and stores nothing", async () => {
      const count = await storedMessages()
      const stranger = apiWithKey('xkeysib-not-a-real-key-0000000000')
      expect(await errorOf(stranger.conversationsMessagesPost({ agentId: liz.id, visitorId: visitor('401'), text: 'hi' }))).toEqual({
        status: 401,
        body: { message: 'Key not found', code: 'unauthorized' },
      })
      expect(await storedMessages()).toBe(count)
    })

    it("cannot see another account's messages: 404", async () => {
      const created = (await api.conversationsMessagesPost({ agentId: liz.id, visitorId: visitor('tenant'), text: 'mine' })).body
      const other = apiWithKey((await parley.createAccount('Other')).apiKey)
      expect(await errorOf(other.conversationsMessagesIdGet(created.id!))).toEqual(notFound)
      expect(await errorOf(other.conversationsMessagesIdDelete(created.id!))).toEqual(notFound)
      expect((await api.conversationsMessagesIdGet(created.id!)).body).toEqual(created)
    })

    it('refuses bad message requests with 400 and the right code, storing nothing', async () => {
      const count = await storedMessages()
      const visitorId = visitor('bad')

      expect(await errorOf(api.conversationsMessagesPost({ agentId: liz.id, visitorId } as ConversationsMessagesPostRequest))).toEqual({
        status: 400,
        body: { code: 'missing_parameter', message: expect.stringContaining('text') },
      })
      expect(await errorOf(api.conversationsMessagesPost({ agentId: 'noSuchAgent23456', visitorId, text: 'hi' }))).toEqual({
        status: 400,
        body: { code: 'invalid_parameter', message: expect.stringContaining('noSuchAgent23456') },
      })
      expect(await errorOf(api.conversationsMessagesPost({ agentId: liz.id, visitorId, text: 'x'.repeat(10_001) }))).toEqual({
        status: 400,
        body: { code: 'out_of_range', message: expect.stringContaining('text') },
      })
      expect(await errorOf(api.conversationsMessagesPost({ agentEmail: 'solo@helpdesk.test', visitorId, text: 'hi' }))).toEqual({
        status: 400,
        body: { code: 'missing_parameter', message: expect.stringMatching(/agentName.*receivedFrom/) },
      })

      expect(await storedMessages()).toBe(count)
      expect(await parley.ctx.storage.read.agents.getByEmail(parley.accountId, 'solo@helpdesk.test')).toBeUndefined()
    })
  })

  describe('Idempotency-Key', () => {
    it('returns the first message for a retry with the same key and body, storing one message', async () => {
      const count = await storedMessages()
      const request = { agentId: liz.id, visitorId: visitor('idem'), text: 'charged once' }
      const options = { headers: { 'Idempotency-Key': `v3-${generateId()}` } }
      const first = (await api.conversationsMessagesPost(request, options)).body
      const retry = (await api.conversationsMessagesPost({ ...request }, options)).body
      expect(retry).toEqual(first)
      expect(await storedMessages()).toBe(count + 1)

      expect(await errorOf(api.conversationsMessagesPost({ ...request, text: 'something else' }, options))).toEqual({
        status: 400,
        body: { code: 'duplicate_request', message: expect.stringContaining('Idempotency-Key') },
      })
      expect(await storedMessages()).toBe(count + 1)

      // Without the key the same body is a new message.
      const fresh = (await api.conversationsMessagesPost(request)).body
      expect(fresh.id).not.toBe(first.id)
      expect(await storedMessages()).toBe(count + 2)
    })

    it('does the same for pushed messages', async () => {
      const count = await storedMessages()
      const request = { groupId: support.id, visitorId: visitor('idem-push'), text: 'shipped once' }
      const options = { headers: { 'Idempotency-Key': `v3-push-${generateId()}` } }
      const first = (await api.conversationsPushedMessagesPost(request, options)).body
      const retry = (await api.conversationsPushedMessagesPost(request, options)).body
      expect(retry).toEqual(first)
      expect(first.isPushed).toBe(true)
      expect(await storedMessages()).toBe(count + 1)
      expect(await errorOf(api.conversationsPushedMessagesPost({ ...request, text: 'shipped twice' }, options))).toEqual({
        status: 400,
        body: { code: 'duplicate_request', message: expect.any(String) },
      })
      expect(await storedMessages()).toBe(count + 1)
    })
  })
})
