import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { InvalidParameterError, NotFoundError } from '../domain/errors.js'
import { createAgent } from './accounts.js'
import { sendAgentMessage } from './messages.js'
import { createTestDeps, newAccountId, START, type TestDeps } from './test-deps.js'
import {
  createWebhook,
  deleteWebhook,
  getDelivery,
  getWebhook,
  listDeliveries,
  listWebhooks,
  purgeFinishedDeliveries,
  replayDelivery,
  rotateWebhookSecret,
  SECRET_OVERLAP_MS,
  updateWebhook,
} from './webhooks.js'

let deps: TestDeps
let accountId: string

beforeEach(async () => {
  deps = await createTestDeps()
  accountId = await newAccountId(deps)
})
afterEach(() => deps.close())

const create = (input: Partial<Parameters<typeof createWebhook>[2]> = {}, account = accountId) =>
  createWebhook(deps, account, { url: 'https://hooks.example.com/parley', events: ['conversationStarted'], ...input })

async function refusal(call: Promise<unknown>): Promise<Error> {
  const outcome = await call.then(
    () => undefined,
    (err: unknown) => err as Error,
  )
  if (!outcome) throw new Error('expected the call to be refused')
  return outcome
}

describe('createWebhook', () => {
  it('stores the endpoint and returns its secret once; listings never show a secret', async () => {
    const { endpoint, secret } = await create({ events: ['conversationFragment', 'message.created', 'message.created'], description: '  CRM  ' })
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/)
    expect(endpoint).toEqual({
      id: expect.any(String),
      accountId,
      url: 'https://hooks.example.com/parley',
      events: ['conversationFragment', 'message.created'],
      description: 'CRM',
      enabled: true,
      createdAt: START,
      updatedAt: START,
    })
    expect(await getWebhook(deps, accountId, endpoint.id)).toEqual(endpoint)
    expect(await listWebhooks(deps, accountId)).toEqual([endpoint])
    expect(JSON.stringify(await listWebhooks(deps, accountId))).not.toContain(secret)
    expect((await deps.storage.read.webhookEndpoints.get(accountId, endpoint.id))!.secret).toBe(secret)
  })

  it('refuses unknown or no events, bad URLs and private targets with invalid_parameter, storing nothing', async () => {
    const cases: Array<[Parameters<typeof create>[0], RegExp]> = [
      [{ events: [] }, /at least one/],
      [{ events: ['conversationStarted', 'conversationEnded'] }, /unknown event "conversationEnded"/],
      [{ url: 'ftp://hooks.example.com/x' }, /http or https/],
      [{ url: 'not a url' }, /absolute URL/],
      [{ url: `https://hooks.example.com/${'x'.repeat(2048)}` }, /too long/],
      [{ url: 'http://127.0.0.1:8080/hook' }, /private, loopback/],
      [{ url: 'https://crm.internal.test/hook' }, /10\.0\.0\.7/],
      [{ url: 'https://nowhere.test/hook' }, /does not resolve/],
      [{ description: 'x'.repeat(501) }, /description is too long/],
    ]
    for (const [input, message] of cases) {
      const err = await refusal(create(input))
      expect(err, JSON.stringify(input)).toBeInstanceOf(InvalidParameterError)
      expect(err.message).toMatch(message)
    }
    expect(await listWebhooks(deps, accountId)).toEqual([])
    expect(await refusal(create({}, 'noSuchAccount'))).toBeInstanceOf(NotFoundError)
  })
})

describe('changing endpoints', () => {
  it('updates what is given, checks a new URL, and disabling or enabling sets the reason', async () => {
    const { endpoint } = await create({ description: 'CRM' })
    deps.clock.advance(1000)
    const updated = await updateWebhook(deps, accountId, endpoint.id, {
      url: 'https://other.example.com/in',
      events: ['conversationTranscript'],
      description: '',
      enabled: false,
    })
    expect(updated).toEqual({
      ...endpoint,
      url: 'https://other.example.com/in',
      events: ['conversationTranscript'],
      description: undefined,
      enabled: false,
      disabledReason: 'turned off through the API or the command line',
      updatedAt: START + 1000,
    })
    expect(await refusal(updateWebhook(deps, accountId, endpoint.id, { url: 'http://[::1]/' }))).toBeInstanceOf(InvalidParameterError)
    const enabled = await updateWebhook(deps, accountId, endpoint.id, { enabled: true })
    expect(enabled).toMatchObject({ enabled: true, url: 'https://other.example.com/in' })
    expect(enabled.disabledReason).toBeUndefined()
  })

  it("rotates the secret: the replaced one signs for 24 h more, one rotated earlier stops", async () => {
    const { endpoint, secret: first } = await create()
    const { secret: second, endpoint: rotated } = await rotateWebhookSecret(deps, accountId, endpoint.id)
    expect(second).not.toBe(first)
    expect(rotated.previousSecretExpiresAt).toBe(START + SECRET_OVERLAP_MS)
    let stored = await deps.storage.read.webhookEndpoints.get(accountId, endpoint.id)
    expect(stored).toMatchObject({ secret: second, previousSecret: first })
    const { secret: third } = await rotateWebhookSecret(deps, accountId, endpoint.id)
    stored = await deps.storage.read.webhookEndpoints.get(accountId, endpoint.id)
    expect(stored).toMatchObject({ secret: third, previousSecret: second })
  })

  it("treats another account's endpoints and deliveries as unknown", async () => {
    const { endpoint } = await create()
    const agentId = (await createAgent(deps, accountId, { email: 'liz@acme.test', name: 'Liz' })).id
    await updateWebhook(deps, accountId, endpoint.id, { events: ['message.created'] })
    await sendAgentMessage(deps, accountId, { visitorId: 'v', text: 'hi', agentId })
    const [delivery] = await listDeliveries(deps, accountId, endpoint.id, { limit: 10 })
    const other = await newAccountId(deps, 'Other')
    const calls = [
      () => getWebhook(deps, other, endpoint.id),
      () => updateWebhook(deps, other, endpoint.id, { enabled: false }),
      () => rotateWebhookSecret(deps, other, endpoint.id),
      () => deleteWebhook(deps, other, endpoint.id),
      () => listDeliveries(deps, other, endpoint.id, { limit: 10 }),
      () => getDelivery(deps, other, delivery.id),
      () => replayDelivery(deps, other, delivery.id),
    ]
    for (const call of calls) expect(await refusal(call())).toBeInstanceOf(NotFoundError)
    expect(await getWebhook(deps, accountId, endpoint.id)).toMatchObject({ enabled: true })
    expect(await getDelivery(deps, accountId, delivery.id)).toMatchObject({ id: delivery.id, status: 'pending', attempts: 0 })
  })

  it('refuses to replay a delivery while an attempt holds it, and replays it once that lease has run out', async () => {
    const { endpoint } = await create({ events: ['message.created'] })
    const agentId = (await createAgent(deps, accountId, { email: 'liz@acme.test', name: 'Liz' })).id
    await sendAgentMessage(deps, accountId, { visitorId: 'v', text: 'hi', agentId })
    const [delivery] = await listDeliveries(deps, accountId, endpoint.id, { limit: 10 })
    const now = deps.clock.now()
    await deps.storage.transaction((tx) => tx.webhookDeliveries.claimDue(now, now + 60_000, 10))
    const refused = await refusal(replayDelivery(deps, accountId, delivery.id))
    expect(refused).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/being attempted/) })
    // The worker that held it died: once its lease is over, a replay takes the delivery back.
    deps.clock.advance(60_000)
    const replayed = await replayDelivery(deps, accountId, delivery.id)
    expect(replayed).toMatchObject({ status: 'pending', nextAt: deps.clock.now() })
    expect(replayed.leasedUntil).toBeUndefined()
  })

  it('deletes an endpoint with its deliveries', async () => {
    const { endpoint } = await create({ events: ['message.created'] })
    const agentId = (await createAgent(deps, accountId, { email: 'liz@acme.test', name: 'Liz' })).id
    await sendAgentMessage(deps, accountId, { visitorId: 'v', text: 'hi', agentId })
    const [delivery] = await listDeliveries(deps, accountId, endpoint.id, { limit: 10 })
    await deleteWebhook(deps, accountId, endpoint.id)
    expect(await refusal(getWebhook(deps, accountId, endpoint.id))).toBeInstanceOf(NotFoundError)
    expect(await refusal(getDelivery(deps, accountId, delivery.id))).toBeInstanceOf(NotFoundError)
    expect(await refusal(deleteWebhook(deps, accountId, endpoint.id))).toBeInstanceOf(NotFoundError)
  })
})

describe('purgeFinishedDeliveries', () => {
  it('forgets finished deliveries past the retention time and keeps pending ones', async () => {
    const { endpoint } = await create({ events: ['message.created'] })
    const agentId = (await createAgent(deps, accountId, { email: 'liz@acme.test', name: 'Liz' })).id
    await sendAgentMessage(deps, accountId, { visitorId: 'v', text: 'hi', agentId })
    deps.clock.advance(40 * 86_400_000)
    expect(await purgeFinishedDeliveries(deps, 30 * 86_400_000)).toBe(0)
    const [d] = await listDeliveries(deps, accountId, endpoint.id, { limit: 10 })
    const leasedUntil = deps.clock.now() + 60_000
    await deps.storage.transaction((tx) => tx.webhookDeliveries.claimDue(deps.clock.now(), leasedUntil, 10))
    await deps.storage.transaction((tx) =>
      tx.webhookDeliveries.finishAttempt(accountId, d.id, leasedUntil, { status: 'delivered', tries: 1, nextAt: START, deliveredAt: deps.clock.now(), attemptLog: [] }),
    )
    expect(await purgeFinishedDeliveries(deps, 30 * 86_400_000)).toBe(1)
    expect(await listDeliveries(deps, accountId, endpoint.id, { limit: 10 })).toEqual([])
  })
})
