import { hash as hashOnce, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'
import { InvalidParameterError, NotFoundError, UnauthorizedError, DuplicateParameterError } from '../domain/errors.js'
import { DuplicateError } from '../domain/errors.js'
import { generateId } from '../domain/ids.js'
import type { Account, Agent, AgentGroup, ApiKey } from '../domain/model.js'
import { transact, type ServiceDeps } from './deps.js'

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>

export function hashApiKey(key: string): string {
  // The one-shot hash: a Hash object costs several times more than hashing a key this short.
  return hashOnce('sha256', key, 'hex')
}

/** A new key in Brevo's shape: `xkeysib-<64 hex>-<16 chars>`. */
export function generateApiKey(): string {
  return `xkeysib-${randomBytes(32).toString('hex')}-${generateId(16)}`
}

const KEY_PREFIX_LENGTH = 16

/** Stores a key; with `newAccount`, creates that account in the same transaction so a refused key leaves none behind. */
async function storeApiKey(deps: ServiceDeps, accountId: string, secret: string, newAccount?: Account): Promise<ApiKey> {
  const key: ApiKey = {
    id: generateId(),
    accountId,
    prefix: secret.slice(0, KEY_PREFIX_LENGTH),
    createdAt: deps.clock.now(),
  }
  try {
    await deps.storage.transaction(async (tx) => {
      if (newAccount) await tx.accounts.insert(newAccount)
      await tx.apiKeys.insert({ ...key, hash: hashApiKey(secret) })
    })
  } catch (err) {
    if (err instanceof DuplicateError) throw new DuplicateParameterError('This API key is already in use')
    throw err
  }
  return key
}

/** A new tenant with its first API key. `apiKey` pins the key (PARLEY_BOOTSTRAP_API_KEY). */
export async function createAccount(
  deps: ServiceDeps,
  name: string,
  apiKey?: string,
): Promise<{ account: Account; apiKey: string; key: ApiKey }> {
  if (!name.trim()) throw new InvalidParameterError('account name must not be empty')
  const account: Account = { id: generateId(), name: name.trim(), widgetId: generateId(), createdAt: deps.clock.now() }
  const secret = apiKey ?? generateApiKey()
  if (secret.length < 16) throw new InvalidParameterError('an API key must be at least 16 characters long')
  const key = await storeApiKey(deps, account.id, secret, account)
  return { account, apiKey: secret, key }
}

export function listAccounts(deps: ServiceDeps): Promise<Account[]> {
  return deps.storage.read.accounts.list()
}

async function requireAccount(deps: ServiceDeps, accountId: string): Promise<Account> {
  const account = await deps.storage.read.accounts.get(accountId)
  if (!account) throw new NotFoundError(`Account "${accountId}" not found`)
  return account
}

export async function createApiKey(deps: ServiceDeps, accountId: string): Promise<{ key: ApiKey; apiKey: string }> {
  await requireAccount(deps, accountId)
  const apiKey = generateApiKey()
  return { key: await storeApiKey(deps, accountId, apiKey), apiKey }
}

export async function listApiKeys(deps: ServiceDeps, accountId: string): Promise<ApiKey[]> {
  await requireAccount(deps, accountId)
  return deps.storage.read.apiKeys.list(accountId)
}

/**
 * How long a process trusts a key it has seen without asking the database again. A revocation is
 * immediate in the process that made it and reaches the others within this time.
 */
export const API_KEY_CACHE_MS = 5_000
const API_KEY_CACHE_SIZE = 10_000

interface CachedKey {
  keyId: string
  accountId: string
  until: number
}

// One cache per storage, so that every context (and every test) has its own.
const keyCaches = new WeakMap<object, Map<string, CachedKey>>()
// The last one asked for: a process serves one storage, and this runs on every request.
let lastStorage: object | undefined
let lastCache: Map<string, CachedKey> | undefined

function keyCache(deps: ServiceDeps): Map<string, CachedKey> {
  if (deps.storage === lastStorage) return lastCache!
  let cache = keyCaches.get(deps.storage)
  if (!cache) keyCaches.set(deps.storage, (cache = new Map()))
  lastStorage = deps.storage
  lastCache = cache
  return cache
}

export async function revokeApiKey(deps: ServiceDeps, accountId: string, keyId: string): Promise<void> {
  const revoked = await deps.storage.transaction((tx) => tx.apiKeys.revoke(accountId, keyId, deps.clock.now()))
  if (!revoked) throw new NotFoundError(`No live API key "${keyId}" in account "${accountId}"`)
  const cache = keyCache(deps)
  for (const [hash, entry] of cache) if (entry.keyId === keyId) cache.delete(hash)
}

/** The account an `api-key` header belongs to, with Brevo's two 401 answers. */
export async function authenticate(deps: ServiceDeps, apiKey: string | undefined): Promise<string> {
  return (await authenticateKey(deps, apiKey)).accountId
}

/** As `authenticate`, with the id of the key, for whatever is counted per key (rate limits). */
export async function authenticateKey(
  deps: ServiceDeps,
  apiKey: string | undefined,
): Promise<{ accountId: string; keyId: string }> {
  if (!apiKey) throw new UnauthorizedError('authentication not found in headers')
  const hash = hashApiKey(apiKey)
  const cache = keyCache(deps)
  const now = deps.clock.now()
  const cached = cache.get(hash)
  if (cached && cached.until > now) return cached
  // Only keys that exist are remembered: a key created a moment ago works at once.
  const key = await deps.storage.read.apiKeys.findActiveByHash(hash)
  if (!key) {
    cache.delete(hash)
    throw new UnauthorizedError('Key not found')
  }
  if (cache.size >= API_KEY_CACHE_SIZE) cache.delete(cache.keys().next().value!)
  const entry = { keyId: key.id, accountId: key.accountId, until: now + API_KEY_CACHE_MS }
  cache.set(hash, entry)
  return entry
}

/**
 * `authenticateKey` answered from this process's cache alone, without waiting: undefined when the
 * key is missing, unknown here or due for a fresh look, and the caller then awaits
 * `authenticateKey`. Every request pays for authentication, so the common case stays synchronous.
 */
export function authenticateCachedKey(deps: ServiceDeps, apiKey: string | undefined): { accountId: string; keyId: string } | undefined {
  if (!apiKey) return undefined
  const cached = keyCache(deps).get(hashApiKey(apiKey))
  return cached && cached.until > deps.clock.now() ? cached : undefined
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const hash = await scryptAsync(password, salt, 32)
  return `scrypt$${salt.toString('base64')}$${hash.toString('base64')}`
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, salt, hash] = stored.split('$')
  if (scheme !== 'scrypt' || !salt || !hash) return false
  const expected = Buffer.from(hash, 'base64')
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64'), expected.length)
  return timingSafeEqual(actual, expected)
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

export async function createAgent(
  deps: ServiceDeps,
  accountId: string,
  input: { email: string; name: string; password?: string; userpic?: string },
): Promise<Agent> {
  await requireAccount(deps, accountId)
  if (!EMAIL.test(input.email)) throw new InvalidParameterError(`"${input.email}" is not a valid email address`)
  if (!input.name.trim()) throw new InvalidParameterError('agent name must not be empty')
  const agent: Agent = {
    id: generateId(),
    accountId,
    email: input.email.toLowerCase(),
    name: input.name.trim(),
    userpic: input.userpic,
    isDummy: false,
    createdAt: deps.clock.now(),
  }
  const passwordHash = input.password === undefined ? undefined : await hashPassword(input.password)
  try {
    await transact(deps, (tx) => tx.agents.insert({ ...agent, passwordHash }))
  } catch (err) {
    if (err instanceof DuplicateError) throw new DuplicateParameterError(`An agent with email "${agent.email}" already exists`)
    throw err
  }
  return agent
}

export async function listAgents(deps: ServiceDeps, accountId: string): Promise<Agent[]> {
  await requireAccount(deps, accountId)
  return deps.storage.read.agents.list(accountId)
}

export async function createGroup(deps: ServiceDeps, accountId: string, name: string): Promise<AgentGroup> {
  await requireAccount(deps, accountId)
  if (!name.trim()) throw new InvalidParameterError('group name must not be empty')
  const group: AgentGroup = { id: generateId(), accountId, name: name.trim(), createdAt: deps.clock.now() }
  await deps.storage.transaction((tx) => tx.groups.insert(group))
  return group
}

export async function listGroups(deps: ServiceDeps, accountId: string): Promise<Array<AgentGroup & { agentIds: string[] }>> {
  await requireAccount(deps, accountId)
  const groups = await deps.storage.read.groups.list(accountId)
  return Promise.all(groups.map(async (g) => ({ ...g, agentIds: await deps.storage.read.groups.members(accountId, g.id) })))
}

/** Adds an agent to a group; adding one already there is a no-op. */
export async function addAgentToGroup(deps: ServiceDeps, accountId: string, groupId: string, agentId: string): Promise<void> {
  await deps.storage.transaction(async (tx) => {
    if (!(await tx.groups.get(accountId, groupId))) throw new NotFoundError(`Group "${groupId}" not found`)
    if (!(await tx.agents.get(accountId, agentId))) throw new NotFoundError(`Agent "${agentId}" not found`)
    if ((await tx.groups.members(accountId, groupId)).includes(agentId)) return
    await tx.groups.addMember(accountId, groupId, agentId)
  })
}
