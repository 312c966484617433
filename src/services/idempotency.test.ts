import { afterEach, beforeEach, expect, it } from 'vitest'
import { DuplicateRequestError } from '../domain/errors.js'
import { createAgent } from './accounts.js'
import { purgeExpiredIdempotencyKeys, type IdempotencyRequest } from './idempotency.js'
import { pushMessage, sendAgentMessage, type AgentMessageInput } from './messages.js'
import { createTestDeps, newAccountId, storedEvents, type TestDeps } from './test-deps.js'

const TTL = 3_600_000
const SCOPE = 'POST /conversations/messages'

let deps: TestDeps
let accountId: string
let body: AgentMessageInput

beforeEach(async () => {
  deps = await createTestDeps({ idempotencyTtlMs: TTL })
  accountId = await newAccountId(deps)
  const agent = await createAgent(deps, accountId, { email: 'liz@example.com', name: 'Liz' })
  body = { visitorId: 'v', text: 'Your order shipped', agentId: agent.id }
})
afterEach(() => deps.close())

const once = (input: AgentMessageInput, key = 'key-1', account = accountId, scope = SCOPE) =>
  sendAgentMessage(deps, account, input, { key, scope, body: input } satisfies IdempotencyRequest)

it('answers a retry with the first result and stores the message once', async () => {
  const first = await once(body)
  deps.clock.advance(1000)
  const retry = await once({ ...body })
  expect(retry).toEqual(first)
  // The same body with its keys in another order is the same request.
  const reordered = await once({ agentId: body.agentId, text: body.text, visitorId: body.visitorId })
  expect(reordered).toEqual(first)
  expect(await deps.storage.read.messages.count(accountId)).toBe(1)
  expect(await storedEvents(deps, accountId)).toHaveLength(1)
  expect(deps.published).toHaveLength(1)
})

it('refuses the key with another body and stores nothing more', async () => {
  await once(body)
  await expect(once({ ...body, text: 'Something else' })).rejects.toBeInstanceOf(DuplicateRequestError)
  await expect(once({ ...body, text: 'Something else' })).rejects.toMatchObject({ code: 'duplicate_request' })
  expect(await deps.storage.read.messages.count(accountId)).toBe(1)
  expect(deps.published).toHaveLength(1)
})

it('runs again once the key has expired, and then remembers the new result', async () => {
  const first = await once(body)
  deps.clock.advance(TTL - 1)
  expect(await once(body)).toEqual(first)
  deps.clock.advance(1)
  const second = await once(body)
  expect(second.id).not.toBe(first.id)
  // An expired key may even come back with another body.
  deps.clock.advance(TTL)
  const third = await once({ ...body, text: 'New text' })
  expect(third.text).toBe('New text')
  expect(await once({ ...body, text: 'New text' })).toEqual(third)
  expect(await deps.storage.read.messages.count(accountId)).toBe(3)
})

it('keeps keys per account', async () => {
  const other = await newAccountId(deps, 'Other')
  const otherAgent = await createAgent(deps, other, { email: 'sam@example.com', name: 'Sam' })
  const mine = await once(body)
  const theirs = await once({ ...body, agentId: otherAgent.id }, 'key-1', other)
  expect(theirs.id).not.toBe(mine.id)
  expect(await deps.storage.read.messages.count(accountId)).toBe(1)
  expect(await deps.storage.read.messages.count(other)).toBe(1)
})

it('keeps keys per scope', async () => {
  const message = await once(body)
  const pushed = await pushMessage(deps, accountId, { visitorId: 'v', text: body.text }, {
    key: 'key-1',
    scope: 'POST /conversations/pushedMessages',
    body: { visitorId: 'v', text: body.text },
  })
  expect(pushed.id).not.toBe(message.id)
  expect(pushed.isPushed).toBe(true)
  expect(await deps.storage.read.messages.count(accountId)).toBe(2)
})

it('stores once when the same request arrives twice at the same moment', async () => {
  const [a, b] = await Promise.all([once(body), once(body)])
  expect(a).toEqual(b)
  expect(await deps.storage.read.messages.count(accountId)).toBe(1)
  expect(deps.published).toHaveLength(1)
})

it('leaves requests without a key alone', async () => {
  await sendAgentMessage(deps, accountId, body)
  await sendAgentMessage(deps, accountId, body)
  expect(await deps.storage.read.messages.count(accountId)).toBe(2)
})

it('purges only the expired keys', async () => {
  await once(body, 'old')
  deps.clock.advance(TTL + 1)
  const fresh = await once(body, 'fresh')
  expect(await purgeExpiredIdempotencyKeys(deps)).toBe(1)
  expect(await deps.storage.read.idempotency.get(accountId, SCOPE, 'old')).toBeUndefined()
  expect(await once(body, 'fresh')).toEqual(fresh)
})
