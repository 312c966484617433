import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { createAgent } from '../src/services/accounts.js'
import { sendAgentMessage } from '../src/services/messages.js'
import { startWebhookWorker } from '../src/webhooks/worker.js'
import { describeEachDb, describePostgres, type DbKind } from './helpers/databases.js'
import { startParley, type RunningParley } from './helpers/parley.js'
import { createTestDatabase } from './helpers/postgres.js'
import { offsetClock, startReceiver, type OffsetClock, type Receiver } from './helpers/webhook-receiver.js'

// Delivery that survives receivers going down, redirects, 410s and Parley restarting. Retries are
// driven by moving the injected clock past each wait, never by waiting.

const WAIT = { timeout: 20_000, interval: 25 }

interface Delivery {
  id: string
  event: string
  status: string
  attemptCount: number
  nextAttemptAt?: number
  lastStatus?: number
  lastError?: string
  attempts: Array<{ attempt: number; status?: number; error?: string }>
}

async function api(parley: RunningParley, apiKey: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${parley.baseUrl}/parley/v1${path}`, {
    method,
    headers: { 'api-key': apiKey, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, body: text ? JSON.parse(text) : undefined }
}

async function deliveriesOf(parley: RunningParley, apiKey: string, endpointId: string): Promise<Delivery[]> {
  const { status, body } = await api(parley, apiKey, 'GET', `/webhooks/${endpointId}/deliveries`)
  expect(status).toBe(200)
  return body.deliveries
}

/** A database that outlives one Parley: the restart test opens it twice. */
async function durableDatabase(db: DbKind): Promise<{ url: string; drop(): Promise<void> }> {
  if (db === 'postgres') return createTestDatabase()
  const dir = mkdtempSync(join(tmpdir(), 'parley-restart-'))
  return { url: `sqlite:${join(dir, 'parley.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) }
}

describeEachDb('webhook delivery', (db) => {
  let parley: RunningParley
  let receiver: Receiver
  let clock: OffsetClock

  beforeAll(async () => {
    receiver = await startReceiver()
    clock = offsetClock()
    parley = await startParley(db, { config: { webhooksAllowPrivateTargets: true }, overrides: { clock } })
  })
  afterAll(async () => {
    await parley?.close()
    await receiver?.close()
  })

  /** A new account whose endpoint at `path` wants message.created. */
  async function site(path: string) {
    const account = await parley.createAccount()
    const created = await api(parley, account.apiKey, 'POST', '/webhooks', { url: receiver.url(path), events: ['message.created'] })
    expect(created.status).toBe(201)
    const agent = await createAgent(parley.ctx, account.accountId, { email: 'liz@acme.test', name: 'Liz' })
    const say = (text: string) => sendAgentMessage(parley.ctx, account.accountId, { visitorId: 'visitor-1', text, agentId: agent.id })
    return { ...account, endpointId: created.body.id as string, say }
  }

  it('keeps trying while the receiver answers 500, and delivers once it recovers, with one webhook-id', async () => {
    const s = await site('/flaky')
    let failures = 2
    receiver.answer((r) => (r.path === '/flaky' && failures-- > 0 ? { status: 500 } : { status: 200 }))
    const message = await s.say('Your order shipped')

    // Each failure is recorded with the time of the next attempt before the clock moves past it.
    const failedAttempts = (n: number) =>
      vi.waitFor(async () => {
        const [pending] = await deliveriesOf(parley, s.apiKey, s.endpointId)
        expect(pending).toMatchObject({ status: 'pending', attemptCount: n, lastStatus: 500 })
      }, WAIT)
    await failedAttempts(1)
    expect(receiver.at('/flaky')).toHaveLength(1)
    // The second attempt is due about 5 s later (±20 %), the third 5 min after that.
    clock.advance(6_000)
    await failedAttempts(2)
    expect(receiver.at('/flaky')).toHaveLength(2)
    clock.advance(6 * 60_000)
    await vi.waitFor(() => expect(receiver.at('/flaky')).toHaveLength(3), WAIT)

    await vi.waitFor(async () => expect((await deliveriesOf(parley, s.apiKey, s.endpointId))[0].status).toBe('delivered'), WAIT)
    const [delivered] = await deliveriesOf(parley, s.apiKey, s.endpointId)
    expect(delivered.attempts.map((a) => a.status)).toEqual([500, 500, 200])
    const ids = receiver.at('/flaky').map((r) => r.headers['webhook-id'])
    expect(ids).toEqual([delivered.id, delivered.id, delivered.id])
    expect(receiver.at('/flaky').every((r) => r.json.message.id === message.id)).toBe(true)
  })

  it('disables the endpoint when the receiver answers 410 Gone', async () => {
    const s = await site('/gone')
    receiver.answer((r) => (r.path === '/gone' ? { status: 410 } : { status: 200 }))
    await s.say('first')
    await vi.waitFor(async () => expect((await api(parley, s.apiKey, 'GET', `/webhooks/${s.endpointId}`)).body.enabled).toBe(false), WAIT)
    const endpoint = await api(parley, s.apiKey, 'GET', `/webhooks/${s.endpointId}`)
    expect(endpoint.body).toMatchObject({ enabled: false, disabledReason: 'the receiver answered 410 Gone' })
    expect((await deliveriesOf(parley, s.apiKey, s.endpointId))[0]).toMatchObject({ status: 'failed', lastStatus: 410, attemptCount: 1 })
    await s.say('second')
    // A disabled endpoint is not an address for new events.
    expect(await deliveriesOf(parley, s.apiKey, s.endpointId)).toHaveLength(1)
    expect(receiver.at('/gone')).toHaveLength(1)
  })

  it('does not follow a redirect, and counts it as a failed attempt', async () => {
    const s = await site('/moved')
    receiver.answer((r) => (r.path === '/moved' ? { status: 307, headers: { location: '/moved-here' } } : { status: 200 }))
    await s.say('Hello')
    await vi.waitFor(async () => expect((await deliveriesOf(parley, s.apiKey, s.endpointId))[0].attemptCount).toBe(1), WAIT)
    const [delivery] = await deliveriesOf(parley, s.apiKey, s.endpointId)
    expect(delivery).toMatchObject({ status: 'pending', lastStatus: 307, lastError: expect.stringContaining('redirect') })
    expect(receiver.at('/moved-here')).toEqual([])
  })

  it('replays a delivery through the REST API: the same body and webhook-id once more', async () => {
    const s = await site('/replay')
    receiver.answer(() => ({ status: 200 }))
    await s.say('Keep this')
    await vi.waitFor(async () => expect((await deliveriesOf(parley, s.apiKey, s.endpointId))[0]?.status).toBe('delivered'), WAIT)
    const [delivery] = await deliveriesOf(parley, s.apiKey, s.endpointId)
    const replayed = await api(parley, s.apiKey, 'POST', `/webhook-deliveries/${delivery.id}/replay`)
    expect(replayed.status).toBe(200)
    expect(replayed.body).toMatchObject({ id: delivery.id, status: 'pending', attemptCount: 1 })
    await vi.waitFor(() => expect(receiver.at('/replay')).toHaveLength(2), WAIT)
    const [first, second] = receiver.at('/replay')
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id'])
    expect(second.body).toBe(first.body)
    await vi.waitFor(async () => {
      const detail = await api(parley, s.apiKey, 'GET', `/webhook-deliveries/${delivery.id}`)
      expect(detail.body).toMatchObject({ status: 'delivered', attemptCount: 2, payload: first.json })
    }, WAIT)

    const stranger = await parley.createAccount()
    expect(await api(parley, stranger.apiKey, 'POST', `/webhook-deliveries/${delivery.id}/replay`)).toEqual({
      status: 404,
      body: { code: 'document_not_found', message: expect.any(String) },
    })
  })
})

describeEachDb('webhook delivery across a restart', (db) => {
  let database: { url: string; drop(): Promise<void> }
  let receiver: Receiver

  beforeAll(async () => {
    database = await durableDatabase(db)
    receiver = await startReceiver()
  })
  afterAll(async () => {
    await receiver?.close()
    await database?.drop()
  })

  it('sends, after Parley restarts, a delivery that was waiting for its next attempt', async () => {
    const clock = offsetClock()
    const config = { databaseUrl: database.url, webhooksAllowPrivateTargets: true }
    const first = await startParley(db, { config, overrides: { clock } })
    let endpointId: string
    let messageId: string
    try {
      receiver.answer(() => ({ status: 503 }))
      const created = await api(first, first.apiKey, 'POST', '/webhooks', { url: receiver.url('/restart'), events: ['message.created'] })
      endpointId = created.body.id
      const agent = await createAgent(first.ctx, first.accountId, { email: 'liz@acme.test', name: 'Liz' })
      messageId = (await sendAgentMessage(first.ctx, first.accountId, { visitorId: 'v', text: 'survive', agentId: agent.id })).id
      await vi.waitFor(async () => expect((await deliveriesOf(first, first.apiKey, endpointId))[0]?.attemptCount).toBe(1), WAIT)
    } finally {
      await first.close()
    }

    // The receiver is back; Parley comes back later than the retry was due.
    receiver.answer(() => ({ status: 200 }))
    const second = await startParley(db, { config, overrides: { clock: offsetClock(10_000) } })
    try {
      await vi.waitFor(() => expect(receiver.at('/restart')).toHaveLength(2), WAIT)
      const [before, after] = receiver.at('/restart')
      expect(after.headers['webhook-id']).toBe(before.headers['webhook-id'])
      expect(after.json.message.id).toBe(messageId)
      // The first account's key still works on the restarted server.
      await vi.waitFor(async () => {
        const [delivery] = await deliveriesOf(second, first.apiKey, endpointId)
        expect(delivery).toMatchObject({ status: 'delivered', attemptCount: 2 })
        expect(delivery.attempts.map((a) => a.status)).toEqual([503, 200])
      }, WAIT)
    } finally {
      await second.close()
    }
  })
})

describePostgres('webhook workers of two Parley processes on one PostgreSQL', () => {
  let database: { url: string; drop(): Promise<void> }
  let receiver: Receiver

  beforeAll(async () => {
    database = await createTestDatabase()
    receiver = await startReceiver()
  })
  afterAll(async () => {
    await receiver?.close()
    await database?.drop()
  })

  it('send every delivery of a shared backlog once: no delivery goes out twice', async () => {
    const config = { databaseUrl: database.url, webhooksAllowPrivateTargets: true }
    // Workers off while the backlog is queued, so nothing is handed over: both must claim.
    const a = await startParley('postgres', { config, backgroundJobs: false })
    const b = await startParley('postgres', { config, backgroundJobs: false })
    const stops: Array<() => Promise<void>> = []
    try {
      await api(a, a.apiKey, 'POST', '/webhooks', { url: receiver.url('/shared'), events: ['message.created'] })
      const agent = await createAgent(a.ctx, a.accountId, { email: 'liz@acme.test', name: 'Liz' })
      const count = 300
      for (let i = 0; i < count; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, k) => sendAgentMessage(a.ctx, a.accountId, { visitorId: `v-${(i + k) % 40}`, text: `m${i + k}`, agentId: agent.id })),
        )
      }
      stops.push(startWebhookWorker(a.ctx), startWebhookWorker(b.ctx))
      await vi.waitFor(() => expect(new Set(receiver.at('/shared').map((r) => r.headers['webhook-id'])).size).toBe(count), WAIT)
      await Promise.all(stops.map((stop) => stop()))
      stops.length = 0
      expect(receiver.at('/shared')).toHaveLength(count)
      // One conversation's messages arrived in the order they were stored, whichever process sent them.
      for (let v = 0; v < 40; v++) {
        const seqs = receiver.at('/shared').filter((r) => r.json.message.visitorId === `v-${v}`).map((r) => r.json.seq as number)
        expect(seqs, `visitor v-${v}`).toEqual([...seqs].sort((x, y) => x - y))
      }
    } finally {
      await Promise.all(stops.map((stop) => stop()))
      await a.close()
      await b.close()
    }
  })
})
