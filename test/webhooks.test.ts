import { BrevoClient } from '@getbrevo/brevo'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { generateId } from '../src/domain/ids.js'
import { createAgent } from '../src/services/accounts.js'
import { sweepIdleConversations } from '../src/services/conversations.js'
import { sendVisitorMessage } from '../src/services/messages.js'
import { updateIntegrationData } from '../src/services/visitors.js'
import { ConversationFragment, ConversationStarted, ConversationTranscript, expectShape } from './helpers/brevo-webhooks.js'
import { describeEachDb } from './helpers/databases.js'
import { startParley, type RunningParley } from './helpers/parley.js'
import { offsetClock, startReceiver, type OffsetClock, type Received, type Receiver } from './helpers/webhook-receiver.js'
import { nullPaths } from './helpers/wire.js'

// A real Parley and a real receiver on 127.0.0.1. Each test is its own account with its own
// endpoint, so the receiver's requests are told apart by path.

const BREVO_EVENTS = ['conversationStarted', 'conversationFragment', 'conversationTranscript']
// Long enough that no fragment goes out before a test moves the clock on.
const FRAGMENT_WINDOW_MS = 60_000
const WAIT = { timeout: 20_000, interval: 25 }

interface Site {
  accountId: string
  apiKey: string
  endpointId: string
  secret: string
  client: BrevoClient
  agentId: string
  /** What the receiver got for this site, optionally of one event. */
  received(event?: string): Received[]
}

async function createSite(parley: RunningParley, receiver: Receiver, events: string[]): Promise<Site> {
  const account = await parley.createAccount()
  const path = `/hooks/${account.accountId}`
  const response = await fetch(`${parley.baseUrl}/parley/v1/webhooks`, {
    method: 'POST',
    headers: { 'api-key': account.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ url: receiver.url(path), events, description: 'test receiver' }),
  })
  const created = (await response.json()) as { id: string; secret: string }
  expect(response.status).toBe(201)
  const agent = await createAgent(parley.ctx, account.accountId, { email: 'liz@acme.test', name: 'Liz' })
  return {
    ...account,
    endpointId: created.id,
    secret: created.secret,
    client: new BrevoClient({ apiKey: account.apiKey, baseUrl: parley.apiUrl, maxRetries: 0 }),
    agentId: agent.id,
    received: (event) => receiver.at(path).filter((r) => event === undefined || r.json?.eventName === event),
  }
}

/** Waits until the site has received `count` requests of the event, and returns them. */
async function arrived(site: Site, event: string, count = 1): Promise<Received[]> {
  await vi.waitFor(() => expect(site.received(event).length).toBeGreaterThanOrEqual(count), WAIT)
  return site.received(event)
}

/** The signature a receiver checks, computed by the independent standardwebhooks package. */
function expectSignedBy(secret: string, request: Received): void {
  const id = String(request.headers['webhook-id'])
  const timestamp = new Date(Number(request.headers['webhook-timestamp']) * 1000)
  const signatures = String(request.headers['webhook-signature']).split(' ')
  expect(signatures).toContain(new Webhook(secret).sign(id, timestamp, request.body))
}

async function deliveries(parley: RunningParley, site: Site): Promise<Array<{ event: string; status: string; attemptCount: number }>> {
  const response = await fetch(`${parley.baseUrl}/parley/v1/webhooks/${site.endpointId}/deliveries?limit=100`, { headers: { 'api-key': site.apiKey } })
  expect(response.status).toBe(200)
  return ((await response.json()) as { deliveries: Array<{ event: string; status: string; attemptCount: number }> }).deliveries.reverse()
}

describeEachDb("Brevo's conversation webhooks", (db) => {
  let parley: RunningParley
  let receiver: Receiver
  let clock: OffsetClock

  beforeAll(async () => {
    receiver = await startReceiver()
    clock = offsetClock()
    parley = await startParley(db, {
      config: { webhooksAllowPrivateTargets: true, webhookFragmentWindowMs: FRAGMENT_WINDOW_MS },
      overrides: { clock },
    })
  })
  afterAll(async () => {
    await parley?.close()
    await receiver?.close()
  })

  const visitor = () => `visitor-${generateId(8)}`
  const visitorSays = (site: Site, visitorId: string, text: string) =>
    sendVisitorMessage(parley.ctx, site.accountId, {
      visitorId,
      text,
      page: { link: 'https://shop.example/pricing?plan=pro', title: 'Pricing' },
      browser: { userAgent: 'Mozilla/5.0 (X11; Linux x86_64)', language: 'de-DE', ip: '203.0.113.42' },
    })

  it("sends a visitor's first message as conversationStarted, in Brevo's shape, signed", async () => {
    const site = await createSite(parley, receiver, BREVO_EVENTS)
    const visitorId = visitor()
    await updateIntegrationData(parley.ctx, site.accountId, visitorId, { email: 'jo@example.com', firstName: 'Jo' })
    const message = await visitorSays(site, visitorId, 'Is the Pro plan billed monthly?')

    const [started] = await arrived(site, 'conversationStarted')
    expectShape(ConversationStarted, started.json)
    expect(nullPaths(started.json)).toEqual([])
    expect(started.json).toEqual({
      eventName: 'conversationStarted',
      conversationId: message.conversationId,
      message: { id: message.id, type: 'visitor', text: 'Is the Pro plan billed monthly?', html: 'Is the Pro plan billed monthly?', createdAt: message.createdAt },
      visitor: {
        id: visitorId,
        threadId: message.conversationId,
        source: 'widget',
        ip: '203.0.113.42',
        browserLanguage: 'de-DE',
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
        lastVisit: { hostName: 'shop.example', viewedPages: [{ link: 'https://shop.example/pricing?plan=pro', title: 'Pricing' }] },
        integrationAttributes: { email: 'jo@example.com', firstName: 'Jo' },
      },
      conversationStartPage: { link: 'https://shop.example/pricing?plan=pro', title: 'Pricing' },
      isNoAvailableAgent: true,
    })
    expect(started.headers['content-type']).toBe('application/json')
    expectSignedBy(site.secret, started)
  })

  it('sends agent messages from the Brevo SDK in one conversationFragment per burst, receivedFrom kept', async () => {
    const site = await createSite(parley, receiver, BREVO_EVENTS)
    const visitorId = visitor()
    const first = await visitorSays(site, visitorId, 'Hello?')
    await arrived(site, 'conversationStarted')

    const from = { agentId: site.agentId, receivedFrom: 'SuperAwesomeHelpdesk', visitorId }
    const a1 = await site.client.conversations.sendAMessageAsAnAgent({ ...from, text: 'Hi! Looking into it.' })
    const a2 = await site.client.conversations.sendAMessageAsAnAgent({ ...from, text: 'Found your order.' })
    const v1 = await visitorSays(site, visitorId, 'Great, thanks!')
    const a3 = await site.client.conversations.sendAMessageAsAnAgent({ ...from, text: 'It ships <today> & arrives Friday.' })
    // The burst is complete; the fragment's window closes.
    clock.advance(FRAGMENT_WINDOW_MS)

    const [fragment] = await arrived(site, 'conversationFragment')
    expectShape(ConversationFragment, fragment.json)
    expect(fragment.json.conversationId).toBe(first.conversationId)
    expect(fragment.json.messages.map((m: { id: string }) => m.id)).toEqual([a1.id, a2.id, v1.id, a3.id])
    expect(fragment.json.messages.map((m: { receivedFrom?: string }) => m.receivedFrom)).toEqual([
      'SuperAwesomeHelpdesk',
      'SuperAwesomeHelpdesk',
      undefined,
      'SuperAwesomeHelpdesk',
    ])
    expect(fragment.json.messages[3].html).toBe('It ships &lt;today&gt; &amp; arrives Friday.')
    expect(fragment.json.agents).toEqual([{ id: site.agentId, name: 'Liz', email: 'liz@acme.test' }])
    expect(fragment.json.visitor.id).toBe(visitorId)
    expectSignedBy(site.secret, fragment)

    // Four messages, one delivery: nothing else is queued for this endpoint.
    await vi.waitFor(async () => {
      const list = await deliveries(parley, site)
      expect(list.map((d) => [d.event, d.status])).toEqual([
        ['conversationStarted', 'delivered'],
        ['conversationFragment', 'delivered'],
      ])
    }, WAIT)
  })

  it('sends an edit as message.updated after its message.created', async () => {
    const site = await createSite(parley, receiver, ['message.created', 'message.updated'])
    const sent = await site.client.conversations.sendAMessageAsAnAgent({
      agentId: site.agentId,
      receivedFrom: 'crm',
      visitorId: visitor(),
      text: 'Your refund is on its way',
    })
    await site.client.conversations.updateAMessageSentByAnAgent({ id: sent.id!, text: 'Your refund arrives tomorrow' })
    const [created] = await arrived(site, 'message.created')
    const [updated] = await arrived(site, 'message.updated')
    expect(created.json).toEqual({ eventName: 'message.created', seq: expect.any(Number), createdAt: expect.any(Number), conversationId: expect.any(String), message: sent })
    expect(updated.json).toMatchObject({
      eventName: 'message.updated',
      conversationId: created.json.conversationId,
      message: { id: sent.id, text: 'Your refund arrives tomorrow', receivedFrom: 'crm', editedAt: expect.any(Number) },
    })
    expect(updated.json.seq).toBeGreaterThan(created.json.seq)
    expect(nullPaths(updated.json)).toEqual([])
    expectSignedBy(site.secret, updated)
  })

  it('sends the transcript with missedMessagesCount when an agent closes the conversation through the REST API', async () => {
    const site = await createSite(parley, receiver, BREVO_EVENTS)
    const visitorId = visitor()
    const v1 = await visitorSays(site, visitorId, 'Can I change my delivery address?')
    clock.advance(5)
    const a1 = await site.client.conversations.sendAMessageAsAnAgent({ agentId: site.agentId, visitorId, text: 'Yes, which one?', receivedFrom: 'crm' })
    clock.advance(5)
    const v2 = await visitorSays(site, visitorId, '12 Main Street')
    clock.advance(5)
    const v3 = await visitorSays(site, visitorId, 'Hello?')

    const close = (apiKey: string) =>
      fetch(`${parley.baseUrl}/parley/v1/conversations/${v1.conversationId}/close`, { method: 'POST', headers: { 'api-key': apiKey } })
    const stranger = await parley.createAccount()
    const refused = await close(stranger.apiKey)
    expect({ status: refused.status, body: await refused.json() }).toEqual({
      status: 404,
      body: { code: 'document_not_found', message: expect.any(String) },
    })
    const closed = await close(site.apiKey)
    expect(closed.status).toBe(200)
    expect(await closed.json()).toMatchObject({ conversationId: v1.conversationId, visitorId, status: 'closed' })
    // The transcript waits behind the fragment still gathering; closing its window lets both go.
    clock.advance(FRAGMENT_WINDOW_MS)

    const [transcript] = await arrived(site, 'conversationTranscript')
    expectShape(ConversationTranscript, transcript.json)
    expect(transcript.json.conversationId).toBe(v1.conversationId)
    expect(transcript.json.messages.map((m: { id: string }) => m.id)).toEqual([v1.id, a1.id, v2.id, v3.id])
    expect(transcript.json.missedMessagesCount).toBe(2)
    expect(transcript.json.messages.map((m: { isMissed?: boolean }) => m.isMissed ?? false)).toEqual([false, false, true, true])
    expect(transcript.json.messages[1].receivedFrom).toBe('crm')
    expect(transcript.json.agents).toEqual([{ id: site.agentId, name: 'Liz', email: 'liz@acme.test' }])
    expect(transcript.json.conversationStartPage).toEqual({ link: 'https://shop.example/pricing?plan=pro', title: 'Pricing' })
    expect(site.received().map((r) => r.json.eventName)).toEqual(['conversationStarted', 'conversationFragment', 'conversationTranscript'])
    expectSignedBy(site.secret, transcript)
  })

  it('sends the transcript of a conversation gone idle, with no real wait', async () => {
    const site = await createSite(parley, receiver, ['conversationTranscript'])
    const visitorId = visitor()
    const agentFirst = await site.client.conversations.sendAMessageAsAnAgent({ agentId: site.agentId, visitorId, text: 'Your cart is waiting', receivedFrom: 'crm' })
    clock.advance(5)
    const reply = await visitorSays(site, visitorId, 'I have a question first')
    clock.advance(29 * 60_000)
    await sweepIdleConversations(parley.ctx)
    expect((await parley.ctx.storage.read.conversations.get(site.accountId, reply.conversationId))!.status).toBe('open')
    clock.advance(60_000)
    await sweepIdleConversations(parley.ctx)

    const [transcript] = await arrived(site, 'conversationTranscript')
    expectShape(ConversationTranscript, transcript.json)
    expect(transcript.json.messages.map((m: { id: string }) => m.id)).toEqual([agentFirst.id, reply.id])
    expect(transcript.json.missedMessagesCount).toBe(1)
    expect(transcript.json.conversationStartPage).toBeUndefined()
  })
})

describe('signatures against the standardwebhooks package', () => {
  let parley: RunningParley
  let receiver: Receiver

  // The package checks the timestamp against the real clock, so this Parley runs on it.
  beforeAll(async () => {
    receiver = await startReceiver()
    parley = await startParley('sqlite', { config: { webhooksAllowPrivateTargets: true } })
  })
  afterAll(async () => {
    await parley?.close()
    await receiver?.close()
  })

  it('verifies with the one secret, and not with a changed body or another secret', async () => {
    const site = await createSite(parley, receiver, ['message.created'])
    await site.client.conversations.sendAMessageAsAnAgent({ agentId: site.agentId, visitorId: 'v', text: 'signed' })
    const [request] = await arrived(site, 'message.created')
    const headers = request.headers as Record<string, string>
    expect(headers['webhook-id']).toMatch(/^\S+$/)
    expect(new Webhook(site.secret).verify(request.body, headers)).toEqual(request.json)
    expect(() => new Webhook(site.secret).verify(request.body.replace('signed', 'forged'), headers)).toThrow()
    expect(() => new Webhook('whsec_' + Buffer.alloc(32, 7).toString('base64')).verify(request.body, headers)).toThrow()
  })

  it('verifies with the old and with the new secret after a rotation', async () => {
    const site = await createSite(parley, receiver, ['message.created'])
    const response = await fetch(`${parley.baseUrl}/parley/v1/webhooks/${site.endpointId}/rotate-secret`, {
      method: 'POST',
      headers: { 'api-key': site.apiKey },
    })
    expect(response.status).toBe(200)
    const rotated = (await response.json()) as { secret: string; previousSecretExpiresAt: number }
    expect(rotated.secret).toMatch(/^whsec_/)
    expect(rotated.secret).not.toBe(site.secret)
    expect(rotated.previousSecretExpiresAt).toBeGreaterThan(Date.now() + 23 * 3_600_000)

    await site.client.conversations.sendAMessageAsAnAgent({ agentId: site.agentId, visitorId: 'v', text: 'during the rotation' })
    const [request] = await arrived(site, 'message.created')
    const headers = request.headers as Record<string, string>
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2)
    expect(new Webhook(rotated.secret).verify(request.body, headers)).toEqual(request.json)
    expect(new Webhook(site.secret).verify(request.body, headers)).toEqual(request.json)
  })
})
