import { createMemoryPresence } from '../adapters/presence/memory.js'
import { createMemoryPubSub } from '../adapters/pubsub/memory.js'
import { createSqliteStorage } from '../adapters/storage/sqlite.js'
import type { StoredEvent } from '../domain/events.js'
import { createLogger } from '../logger.js'
import type { Clock } from '../ports/clock.js'
import { createAccount } from './accounts.js'
import type { ServiceDeps } from './deps.js'

/** A clock that moves only when a test says so. */
export interface TestClock extends Clock {
  advance(ms: number): void
}

export interface TestDeps extends ServiceDeps {
  clock: TestClock
  /** Every event published on pub/sub, in order. */
  published: StoredEvent[]
  close(): Promise<void>
}

export const START = 1_700_000_000_000

/**
 * Services on real in-memory adapters (SQLite `:memory:`, memory pub/sub and presence), a
 * fixed clock and a silent logger. Shared by every service test.
 */
export async function createTestDeps(settings: Partial<ServiceDeps['settings']> = {}): Promise<TestDeps> {
  let t = START
  const clock: TestClock = { now: () => t, advance: (ms) => void (t += ms) }
  const storage = createSqliteStorage(':memory:')
  await storage.migrate()
  const pubsub = createMemoryPubSub()
  const presence = createMemoryPresence()
  const published: StoredEvent[] = []
  pubsub.subscribe((event) => published.push(event))
  return {
    storage,
    clock,
    pubsub,
    presence,
    logger: createLogger('silent'),
    settings: { presenceTtlMs: 150_000, idempotencyTtlMs: 24 * 3_600_000, ...settings },
    published,
    async close() {
      await pubsub.close()
      await presence.close()
      await storage.close()
    },
  }
}

/** A fresh account; returns its id. */
export async function newAccountId(deps: ServiceDeps, name = 'Acme'): Promise<string> {
  return (await createAccount(deps, name)).account.id
}

/** Every event stored for the account, oldest first. */
export function storedEvents(deps: ServiceDeps, accountId: string): Promise<StoredEvent[]> {
  return deps.storage.read.events.listAfter(accountId, 0, 1000)
}
