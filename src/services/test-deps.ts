import { createMemoryPresence } from '../adapters/presence/memory.js'
import { createMemoryPubSub } from '../adapters/pubsub/memory.js'
import { createSqliteStorage } from '../adapters/storage/sqlite.js'
import type { StoredEvent } from '../domain/events.js'
import { createLogger } from '../logger.js'
import type { Clock } from '../ports/clock.js'
import type { WebhookRequest, WebhookResponse, WebhookTransport } from '../ports/webhook-transport.js'
import { checkWebhookTarget } from '../webhooks/target-guard.js'
import { createAccount } from './accounts.js'
import type { ServiceDeps } from './deps.js'
import { createWebhookDispatch } from './webhook-dispatch.js'

/** A clock that moves only when a test says so. */
export interface TestClock extends Clock {
  advance(ms: number): void
}

/**
 * A webhook transport that records what would be sent and answers as the test says (200 unless
 * told otherwise; throw from `respond` for a request that got no response). Targets are checked
 * by the real guard against a fixed DNS table: `*.example.com` is public, `*.internal.test` is
 * 10.0.0.7, anything else does not resolve.
 */
export interface FakeWebhookTransport extends WebhookTransport {
  sent: WebhookRequest[]
  respond: (request: WebhookRequest) => WebhookResponse | Promise<WebhookResponse>
}

export function createFakeWebhookTransport(): FakeWebhookTransport {
  const lookup = async (hostname: string) => {
    if (hostname === 'example.com' || hostname.endsWith('.example.com')) return [{ address: '93.184.215.14', family: 4 as const }]
    if (hostname.endsWith('.internal.test')) return [{ address: '10.0.0.7', family: 4 as const }]
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
  }
  const transport: FakeWebhookTransport = {
    sent: [],
    respond: () => ({ status: 200, bodyExcerpt: '' }),
    async checkTarget(url) {
      await checkWebhookTarget(url, { allowPrivate: false, lookup })
    },
    async send(request) {
      transport.sent.push(request)
      return transport.respond(request)
    },
  }
  return transport
}

export interface TestDeps extends ServiceDeps {
  clock: TestClock
  webhookTransport: FakeWebhookTransport
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
    webhookTransport: createFakeWebhookTransport(),
    webhookDispatch: createWebhookDispatch(),
    settings: {
      presenceTtlMs: 150_000,
      idempotencyTtlMs: 24 * 3_600_000,
      webhookFragmentWindowMs: 5_000,
      conversationIdleMs: 30 * 60_000,
      ...settings,
    },
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
