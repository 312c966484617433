import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DuplicateParameterError, InvalidParameterError, NotFoundError, UnauthorizedError } from '../domain/errors.js'
import {
  addAgentToGroup,
  API_KEY_CACHE_MS,
  authenticate,
  createAccount,
  createAgent,
  createApiKey,
  createGroup,
  hashPassword,
  listAccounts,
  listAgents,
  listApiKeys,
  listGroups,
  revokeApiKey,
  verifyPassword,
} from './accounts.js'
import { createTestDeps, START, type TestDeps } from './test-deps.js'

let deps: TestDeps

beforeEach(async () => {
  deps = await createTestDeps()
})
afterEach(() => deps.close())

describe('accounts and API keys', () => {
  it('creates an account whose key authenticates it', async () => {
    const { account, apiKey, key } = await createAccount(deps, '  Acme  ')
    expect(account).toMatchObject({ name: 'Acme', createdAt: START })
    expect(apiKey).toMatch(/^xkeysib-[0-9a-f]{64}-[2-9A-Za-z]{16}$/)
    expect(key).toEqual({ id: key.id, accountId: account.id, prefix: apiKey.slice(0, 16), createdAt: START })
    expect(await authenticate(deps, apiKey)).toBe(account.id)
    expect(await listAccounts(deps)).toEqual([account])
    expect(await deps.storage.read.accounts.getByWidgetId(account.widgetId)).toEqual(account)
  })

  it("answers with Brevo's two 401 messages", async () => {
    await createAccount(deps, 'Acme')
    for (const missing of [undefined, '']) {
      const err = await authenticate(deps, missing).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(UnauthorizedError)
      expect(err).toMatchObject({ code: 'unauthorized', message: 'authentication not found in headers' })
    }
    await expect(authenticate(deps, 'xkeysib-not-a-real-key')).rejects.toMatchObject({
      code: 'unauthorized',
      message: 'Key not found',
    })
  })

  it('refuses a revoked key and keeps the other keys working', async () => {
    const { account, apiKey, key } = await createAccount(deps, 'Acme')
    deps.clock.advance(5)
    const second = await createApiKey(deps, account.id)
    deps.clock.advance(5)
    await revokeApiKey(deps, account.id, key.id)
    await expect(authenticate(deps, apiKey)).rejects.toMatchObject({ message: 'Key not found' })
    expect(await authenticate(deps, second.apiKey)).toBe(account.id)
    expect(await listApiKeys(deps, account.id)).toEqual([{ ...key, revokedAt: START + 10 }, second.key])
    await expect(revokeApiKey(deps, account.id, key.id)).rejects.toBeInstanceOf(NotFoundError)
  })

  it('refuses a revoked key at once in the revoking process, even just after using it', async () => {
    const { account, apiKey, key } = await createAccount(deps, 'Acme')
    expect(await authenticate(deps, apiKey)).toBe(account.id)
    await revokeApiKey(deps, account.id, key.id)
    await expect(authenticate(deps, apiKey)).rejects.toMatchObject({ message: 'Key not found' })
  })

  it('honours a revocation made by another process within API_KEY_CACHE_MS', async () => {
    const { account, apiKey, key } = await createAccount(deps, 'Acme')
    expect(await authenticate(deps, apiKey)).toBe(account.id)
    // Another process (the CLI) revokes through the database, not through this process's services.
    await deps.storage.transaction((tx) => tx.apiKeys.revoke(account.id, key.id, deps.clock.now()))
    deps.clock.advance(API_KEY_CACHE_MS - 1)
    expect(await authenticate(deps, apiKey)).toBe(account.id)
    deps.clock.advance(1)
    await expect(authenticate(deps, apiKey)).rejects.toMatchObject({ message: 'Key not found' })
  })

  it("cannot revoke another account's key", async () => {
    const mine = await createAccount(deps, 'Acme')
    const theirs = await createAccount(deps, 'Other')
    await expect(revokeApiKey(deps, mine.account.id, theirs.key.id)).rejects.toBeInstanceOf(NotFoundError)
    expect(await authenticate(deps, theirs.apiKey)).toBe(theirs.account.id)
  })

  it('pins the bootstrap key; a short key or one in use is refused and leaves no account behind', async () => {
    const pinned = 'parley-bootstrap-key-0001'
    const { account } = await createAccount(deps, 'Acme', pinned)
    expect(await authenticate(deps, pinned)).toBe(account.id)
    await expect(createAccount(deps, 'Short', 'too-short')).rejects.toBeInstanceOf(InvalidParameterError)
    await expect(createAccount(deps, 'Again', pinned)).rejects.toBeInstanceOf(DuplicateParameterError)
    expect(await listAccounts(deps)).toEqual([account])
    expect(await authenticate(deps, pinned)).toBe(account.id)
  })

  it('refuses an empty name and an unknown account', async () => {
    await expect(createAccount(deps, '  ')).rejects.toBeInstanceOf(InvalidParameterError)
    await expect(createApiKey(deps, 'no-such-account')).rejects.toBeInstanceOf(NotFoundError)
    await expect(listApiKeys(deps, 'no-such-account')).rejects.toBeInstanceOf(NotFoundError)
    expect(await listAccounts(deps)).toEqual([])
  })
})

describe('agents and groups', () => {
  let accountId: string
  beforeEach(async () => {
    accountId = (await createAccount(deps, 'Acme')).account.id
  })

  it('creates an agent with a lower-cased email, never handing out a password hash', async () => {
    const agent = await createAgent(deps, accountId, { email: 'Liz@Example.com', name: ' Liz ', password: 's3cret!' })
    expect(agent).toEqual({
      id: agent.id,
      accountId,
      email: 'liz@example.com',
      name: 'Liz',
      isDummy: false,
      createdAt: START,
    })
    expect(await listAgents(deps, accountId)).toEqual([agent])
    expect(await deps.storage.read.agents.get(accountId, agent.id)).not.toHaveProperty('passwordHash')
  })

  it('verifies a password against its hash', async () => {
    const hash = await hashPassword('s3cret!')
    expect(hash).not.toContain('s3cret!')
    expect(await verifyPassword('s3cret!', hash)).toBe(true)
    expect(await verifyPassword('s3cret?', hash)).toBe(false)
    expect(await hashPassword('s3cret!')).not.toBe(hash)
    expect(await verifyPassword('s3cret!', 'plain$text')).toBe(false)
  })

  it('refuses a second agent with the same email in any case, a bad email and an empty name', async () => {
    await createAgent(deps, accountId, { email: 'liz@example.com', name: 'Liz' })
    await expect(createAgent(deps, accountId, { email: 'LIZ@example.com', name: 'Other Liz' })).rejects.toBeInstanceOf(
      DuplicateParameterError,
    )
    await expect(createAgent(deps, accountId, { email: 'not-an-email', name: 'X' })).rejects.toBeInstanceOf(
      InvalidParameterError,
    )
    await expect(createAgent(deps, accountId, { email: 'x@example.com', name: ' ' })).rejects.toBeInstanceOf(
      InvalidParameterError,
    )
    await expect(createAgent(deps, 'no-such-account', { email: 'x@example.com', name: 'X' })).rejects.toBeInstanceOf(
      NotFoundError,
    )
    expect(await listAgents(deps, accountId)).toHaveLength(1)
  })

  it('adds agents to groups once, and only agents and groups of the account', async () => {
    const group = await createGroup(deps, accountId, 'Sales')
    const liz = await createAgent(deps, accountId, { email: 'liz@example.com', name: 'Liz' })
    await addAgentToGroup(deps, accountId, group.id, liz.id)
    await addAgentToGroup(deps, accountId, group.id, liz.id)
    expect(await listGroups(deps, accountId)).toEqual([{ ...group, agentIds: [liz.id] }])

    const other = (await createAccount(deps, 'Other')).account.id
    const stranger = await createAgent(deps, other, { email: 'x@example.com', name: 'X' })
    await expect(addAgentToGroup(deps, accountId, group.id, stranger.id)).rejects.toBeInstanceOf(NotFoundError)
    await expect(addAgentToGroup(deps, other, group.id, stranger.id)).rejects.toBeInstanceOf(NotFoundError)
    await expect(addAgentToGroup(deps, accountId, 'no-such-group', liz.id)).rejects.toBeInstanceOf(NotFoundError)
    await expect(createGroup(deps, accountId, ' ')).rejects.toBeInstanceOf(InvalidParameterError)
    expect(await listGroups(deps, other)).toEqual([])
  })
})
