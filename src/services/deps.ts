import type { StoredEvent } from '../domain/events.js'
import type { NewEvent } from '../domain/events.js'
import { DuplicateError } from '../domain/errors.js'
import type { Logger } from '../logger.js'
import type { Clock } from '../ports/clock.js'
import type { Presence } from '../ports/presence.js'
import type { PubSub } from '../ports/pubsub.js'
import type { Storage, Tx } from '../ports/storage.js'
import type { WebhookTransport } from '../ports/webhook-transport.js'
import type { WebhookDispatch } from './webhook-dispatch.js'
import { queueWebhookDeliveries, type ConversationMoment } from './webhook-outbox.js'

/** What every service function receives: the ports, never a concrete adapter. */
export interface ServiceDeps {
  storage: Storage
  clock: Clock
  pubsub: PubSub
  presence: Presence
  logger: Logger
  webhookTransport: WebhookTransport
  webhookDispatch: WebhookDispatch
  settings: {
    presenceTtlMs: number
    idempotencyTtlMs: number
    /** How long a conversationFragment delivery gathers further messages before it is due. */
    webhookFragmentWindowMs: number
    /** A conversation with no message for this long is closed by the idle sweep. */
    conversationIdleMs: number
  }
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

/**
 * Appends the event in `tx`, queues the webhook deliveries it causes in the same transaction, and
 * publishes it once the transaction has committed. `moment` says what the event means for its
 * conversation (started, continued, closed), which Brevo's conversation webhooks are made of.
 */
export async function recordEvent(
  deps: ServiceDeps,
  tx: Tx,
  accountId: string,
  event: NewEvent,
  moment?: ConversationMoment,
): Promise<StoredEvent> {
  const stored = await tx.events.append(accountId, event, deps.clock.now())
  tx.onCommit(() => {
    deps.pubsub.publish(stored).catch((err) => deps.logger.warn({ err, seq: stored.seq }, 'publish failed'))
  })
  await queueWebhookDeliveries(deps, tx, stored, moment)
  return stored
}
