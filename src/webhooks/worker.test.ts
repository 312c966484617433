import { Webhook } from 'standardwebhooks'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { WEBHOOK_LEASE_MS, type WebhookEventName } from '../domain/webhooks.js'
import type { WebhookRequest, WebhookResponse } from '../ports/webhook-transport.js'
import { createAgent } from '../services/accounts.js'
import { sendAgentMessage } from '../services/messages.js'
import { createTestDeps, newAccountId, START, type TestDeps } from '../services/test-deps.js'
import { createWebhook, getDelivery, getWebhook, listDeliveries, replayDelivery, rotateWebhookSecret } from '../services/webhooks.js'
import { WEBHOOK_TIMEOUT_MS, runWebhookWorkerOnce, startWebhookWorker } from './worker.js'

let deps: TestDeps
let accountId: string
let agentId: string

beforeEach(async () => {
  deps = await createTestDeps()
  accountId = await newAccountId(deps)
  agentId = (await createAgent(deps, accountId, { email: 'liz@acme.test', name: 'Liz' })).id
})
afterEach(() => deps.close())

// The middle of the jitter range: every wait is exactly the schedule's.
const run = () => runWebhookWorkerOnce(deps, { random: () => 0.5 })
const ok = (status = 200): WebhookResponse => ({ status, bodyExcerpt: '' })
const answer = (...responses: Array<WebhookResponse | Error>) => {
  deps.webhookTransport.respond = () => {
    const next = responses.length > 1 ? responses.shift()! : responses[0]
    if (next instanceof Error) throw next
    return next
  }
}

async function endpoint(events: WebhookEventName[] = ['message.created']) {
  return createWebhook(deps, accountId, { url: 'https://hooks.example.com/parley', events })
}
const say = (text: string, visitorId = 'visitor-1') => sendAgentMessage(deps, accountId, { visitorId, text, agentId })
const deliveriesOf = async (endpointId: string) => (await listDeliveries(deps, accountId, endpointId, { limit: 100 })).reverse()
const sentTexts = () => deps.webhookTransport.sent.map((r) => JSON.parse(r.body).message.text as string)

describe('an attempt', () => {
  it('POSTs the stored body to the URL, signed, with a 15 s timeout, and records the delivery', async () => {
    const { endpoint: e, secret } = await endpoint()
    await say('Hello')
    expect(await run()).toBe(1)
    const [request] = deps.webhookTransport.sent
    const [delivery] = await deliveriesOf(e.id)
    expect(request.url).toBe('https://hooks.example.com/parley')
    expect(request.timeoutMs).toBe(WEBHOOK_TIMEOUT_MS)
    expect(request.body).toBe(delivery.payload)
    expect(request.headers['webhook-id']).toBe(delivery.id)
    expect(request.headers['webhook-timestamp']).toBe(String(START / 1000))
    // The independent implementation computes the same signature.
    expect(request.headers['webhook-signature']).toBe(new Webhook(secret).sign(delivery.id, new Date(START), request.body))
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 1, lastStatus: 200, deliveredAt: START })
    expect(delivery.attemptLog).toEqual([expect.objectContaining({ attempt: 1, at: START, status: 200 })])
    expect(await run()).toBe(0)
  })

  it('retries on the schedule with the same webhook-id, honouring Retry-After, until a 2xx', async () => {
    const { endpoint: e } = await endpoint()
    await say('Hello')
    answer({ status: 500, bodyExcerpt: 'database down' }, { status: 503, retryAfter: '600', bodyExcerpt: '' }, ok(204))
    await run()
    let [d] = await deliveriesOf(e.id)
    expect(d).toMatchObject({ status: 'pending', attempts: 1, tries: 1, nextAt: START + 5_000, lastStatus: 500, lastError: 'HTTP 500: database down' })

    deps.clock.advance(4_999)
    expect(await run()).toBe(0)
    deps.clock.advance(1)
    expect(await run()).toBe(1)
    ;[d] = await deliveriesOf(e.id)
    // The schedule says 5 min; the receiver asked for 10.
    expect(d).toMatchObject({ status: 'pending', attempts: 2, nextAt: START + 5_000 + 600_000, lastStatus: 503 })

    deps.clock.advance(600_000)
    expect(await run()).toBe(1)
    ;[d] = await deliveriesOf(e.id)
    expect(d).toMatchObject({ status: 'delivered', attempts: 3, lastStatus: 204, deliveredAt: START + 605_000 })
    expect(d.lastError).toBeUndefined()
    expect(d.attemptLog.map((a) => [a.attempt, a.at, a.status])).toEqual([
      [1, START, 500],
      [2, START + 5_000, 503],
      [3, START + 605_000, 204],
    ])
    const ids = deps.webhookTransport.sent.map((r) => r.headers['webhook-id'])
    expect(ids).toEqual([d.id, d.id, d.id])
    expect(new Set(deps.webhookTransport.sent.map((r) => r.headers['webhook-timestamp'])).size).toBe(3)
  })

  it('counts a redirect and a lost connection as failures', async () => {
    const { endpoint: e } = await endpoint()
    await say('Hello')
    answer({ status: 302, bodyExcerpt: '' }, new Error('ECONNRESET: socket hang up'))
    await run()
    deps.clock.advance(5_000)
    await run()
    const [d] = await deliveriesOf(e.id)
    expect(d.status).toBe('pending')
    expect(d.attemptLog).toEqual([
      expect.objectContaining({ attempt: 1, status: 302, error: 'HTTP 302: a redirect, which webhooks do not follow' }),
      expect.objectContaining({ attempt: 2, error: 'ECONNRESET: socket hang up' }),
    ])
    expect(d.attemptLog[1].status).toBeUndefined()
  })

  it('fails a delivery for good after the tenth attempt; a replay sends it again with the same id', async () => {
    const { endpoint: e } = await endpoint()
    await say('Hello')
    answer(ok(500))
    for (let i = 0; i < 10; i++) {
      expect(await run()).toBe(1)
      deps.clock.advance(24 * 3_600_000)
    }
    expect(await run()).toBe(0)
    let [d] = await deliveriesOf(e.id)
    expect(d).toMatchObject({ status: 'failed', attempts: 10, lastStatus: 500 })

    answer(ok())
    const replayed = await replayDelivery(deps, accountId, d.id)
    expect(replayed).toMatchObject({ status: 'pending', attempts: 10, tries: 0, nextAt: deps.clock.now() })
    expect(await run()).toBe(1)
    ;[d] = await deliveriesOf(e.id)
    expect(d).toMatchObject({ status: 'delivered', attempts: 11 })
    expect(deps.webhookTransport.sent.map((r) => r.headers['webhook-id'])).toEqual(new Array(11).fill(d.id))
  })

  it('disables the endpoint on 410 Gone and sends it nothing more until enabled again', async () => {
    const { endpoint: e } = await endpoint()
    await say('first')
    answer(ok(410))
    await run()
    expect(await getWebhook(deps, accountId, e.id)).toMatchObject({ enabled: false, disabledReason: 'the receiver answered 410 Gone' })
    expect((await deliveriesOf(e.id))[0]).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 410 })
    expect(await run()).toBe(0)
  })
})

describe('order and claims', () => {
  it("sends one conversation's deliveries in order: a later one waits while an earlier one is retried", async () => {
    const { endpoint: e } = await endpoint()
    await say('one')
    await say('two')
    await say('elsewhere', 'visitor-2')
    deps.webhookTransport.respond = (r: WebhookRequest) => ok(JSON.parse(r.body).message.text === 'one' ? 500 : 200)
    expect(await run()).toBe(2)
    expect(sentTexts().sort()).toEqual(['elsewhere', 'one'])
    deps.clock.advance(4_000)
    expect(await run()).toBe(0)
    answer(ok())
    deps.clock.advance(1_000)
    expect(await run()).toBe(1)
    expect(await run()).toBe(1)
    expect(sentTexts().slice(2)).toEqual(['one', 'two'])
    expect((await deliveriesOf(e.id)).every((d) => d.status === 'delivered')).toBe(true)
  })

  it('sends again, after the lease, what a worker claimed and never finished (it crashed)', async () => {
    const { endpoint: e } = await endpoint()
    await say('Hello')
    await deps.storage.transaction((tx) => tx.webhookDeliveries.claimDue(START, START + WEBHOOK_LEASE_MS, 10))
    expect(await run()).toBe(0)
    deps.clock.advance(WEBHOOK_LEASE_MS)
    expect(await run()).toBe(1)
    expect((await deliveriesOf(e.id))[0]).toMatchObject({ status: 'delivered', attempts: 1 })
  })

  it('signs with the new and the replaced secret for 24 hours after a rotation', async () => {
    const { endpoint: e, secret: old } = await endpoint()
    const { secret } = await rotateWebhookSecret(deps, accountId, e.id)
    await say('during')
    await run()
    deps.clock.advance(24 * 3_600_000)
    await say('after')
    await run()
    const [during, after] = deps.webhookTransport.sent
    const ds = await deliveriesOf(e.id)
    const expected = (s: string, r: WebhookRequest, i: number) => new Webhook(s).sign(ds[i].id, new Date(Number(r.headers['webhook-timestamp']) * 1000), r.body)
    expect(during.headers['webhook-signature']).toBe(`${expected(secret, during, 0)} ${expected(old, during, 0)}`)
    expect(after.headers['webhook-signature']).toBe(expected(secret, after, 1))
  })
})

describe('the running worker', () => {
  it('leaves a delivery that waited most of its lease to be claimed again, rather than send it late', async () => {
    const { endpoint: e } = await endpoint()
    const releases: Array<() => void> = []
    deps.webhookTransport.respond = () => new Promise((resolve) => releases.push(() => resolve(ok())))
    const stop = startWebhookWorker(deps, { pollMs: 3_600_000, concurrency: 1 })
    await say('Hello')
    await vi.waitFor(() => expect(deps.webhookTransport.sent).toHaveLength(1))
    // Claimed behind the one in flight, and waiting for its slot.
    await say('Hello too', 'visitor-2')
    await vi.waitFor(async () => expect((await deliveriesOf(e.id))[1].leasedUntil).toBe(START + WEBHOOK_LEASE_MS))
    // The first takes 45 s: 15 s of lease left is less than an attempt may take.
    deps.clock.advance(WEBHOOK_LEASE_MS - WEBHOOK_TIMEOUT_MS)
    releases[0]()
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(deps.webhookTransport.sent).toHaveLength(1)
    // Once the lease is over it is claimed afresh, and sent once.
    deps.clock.advance(WEBHOOK_TIMEOUT_MS)
    deps.webhookDispatch.wake()
    await vi.waitFor(() => expect(deps.webhookTransport.sent).toHaveLength(2))
    releases[1]()
    await stop()
    expect(sentTexts()).toEqual(['Hello', 'Hello too'])
    expect((await deliveriesOf(e.id)).map((d) => d.status)).toEqual(['delivered', 'delivered'])
  })

  it('records the outcomes of attempts that end together in one transaction', async () => {
    await endpoint()
    const releases: Array<() => void> = []
    deps.webhookTransport.respond = () => new Promise((resolve) => releases.push(() => resolve(ok())))
    // Each recording transaction, by how many outcomes it stored.
    const recordings: number[] = []
    const transaction = deps.storage.transaction.bind(deps.storage)
    deps.storage.transaction = ((fn: Parameters<typeof transaction>[0]) =>
      transaction((tx) => {
        let finished = 0
        const counted = Object.create(tx, {
          webhookDeliveries: {
            value: Object.create(tx.webhookDeliveries, {
              finishAttempt: { value: (...args: Parameters<typeof tx.webhookDeliveries.finishAttempt>) => (finished++, tx.webhookDeliveries.finishAttempt(...args)) },
            }),
          },
        })
        return fn(counted).finally(() => finished > 0 && recordings.push(finished))
      })) as typeof deps.storage.transaction
    const stop = startWebhookWorker(deps, { pollMs: 3_600_000, concurrency: 4 })
    for (const visitor of ['v-1', 'v-2', 'v-3', 'v-4']) await say('Hello', visitor)
    await vi.waitFor(() => expect(deps.webhookTransport.sent).toHaveLength(4))
    for (const release of releases) release()
    await vi.waitFor(() => expect(recordings).toEqual([4]))
    await stop()
    expect(recordings).toEqual([4])
  })

  it('sends what a commit hands it, the rest when a slot frees, and its stop waits for attempts in flight', async () => {
    const { endpoint: e } = await endpoint()
    const releases: Array<() => void> = []
    deps.webhookTransport.respond = () => new Promise((resolve) => releases.push(() => resolve(ok())))
    // A poll far away and one slot: the first is handed over by its commit, the second (another
    // conversation) finds the worker full and waits for the slot.
    const stop = startWebhookWorker(deps, { pollMs: 3_600_000, concurrency: 1 })
    await say('Hello')
    await vi.waitFor(() => expect(deps.webhookTransport.sent).toHaveLength(1))
    await say('Hello too', 'visitor-2')
    const [first, second] = await deliveriesOf(e.id)
    expect(first.leasedUntil).toBe(START + WEBHOOK_LEASE_MS)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(deps.webhookTransport.sent).toHaveLength(1)

    releases[0]()
    await vi.waitFor(() => expect(deps.webhookTransport.sent).toHaveLength(2))
    expect(sentTexts()).toEqual(['Hello', 'Hello too'])
    let stopped = false
    const stopping = stop().then(() => (stopped = true))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(stopped).toBe(false)
    releases[1]()
    await stopping
    expect((await getDelivery(deps, accountId, first.id)).status).toBe('delivered')
    expect((await getDelivery(deps, accountId, second.id)).status).toBe('delivered')
  })
})
