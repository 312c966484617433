import type { StoredEvent } from '../domain/events.js'
import type { NewEvent } from '../domain/events.js'
import { DuplicateError } from '../domain/errors.js'
import type { Logger } from '../logger.js'
import type { Clock } from '../ports/clock.js'
import type { Presence } from '../ports/presence.js'
import type { PubSub } from '../ports/pubsub.js'
import type { Storage, Tx } from '../ports/storage.js'

/** What every service function receives: the ports, never a concrete adapter. */
export interface ServiceDeps {
  storage: Storage
  clock: Clock
  pubsub: PubSub
  presence: Presence
  logger: Logger
  settings: { presenceTtlMs: number; idempotencyTtlMs: number }
}

/**
 * Runs `fn` in a transaction, retrying when a concurrent writer won a unique constraint (two
 * requests creating the same visitor or dummy agent at once). The retry sees the winner's row.
 */
export async function transact<T>(deps: ServiceDeps, fn: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await deps.storage.transaction(fn)
    } catch (err) {
      if (!(err instanceof DuplicateError) || attempt >= 3) throw err
    }
  }
}

/** Appends the event in `tx` and publishes it once the transaction has committed. */
export async function recordEvent(deps: ServiceDeps, tx: Tx, accountId: string, event: NewEvent): Promise<StoredEvent> {
  const stored = await tx.events.append(accountId, event, deps.clock.now())
  tx.onCommit(() => {
    deps.pubsub.publish(stored).catch((err) => deps.logger.warn({ err, seq: stored.seq }, 'publish failed'))
  })
  return stored
}
