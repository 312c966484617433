import type { WebhookDelivery } from '../domain/webhooks.js'

/** What this process's webhook worker offers the code that queues deliveries. */
export interface LocalWebhookWorker {
  /** How many deliveries it would take from a commit right now. */
  room(): number
  /** Deliveries committed, due now and leased to this process: send them, no claim needed. */
  take(deliveries: WebhookDelivery[]): void
  /** Deliveries were queued or became due without being handed over: look in the database. */
  wake(): void
}

/**
 * Where the services that queue deliveries meet this process's worker. A delivery due at once is
 * leased in the transaction that queues it and handed over after the commit, which saves the
 * worker a claim (a transaction, and on SQLite a disk sync) on the way to the receiver. Without a
 * worker attached (the command line, service tests) nothing is handed over: deliveries wait in the
 * database for a worker's claim.
 */
export interface WebhookDispatch extends LocalWebhookWorker {
  attach(worker: LocalWebhookWorker): () => void
}

export function createWebhookDispatch(): WebhookDispatch {
  let worker: LocalWebhookWorker | undefined
  return {
    room: () => worker?.room() ?? 0,
    // A worker that stopped between the lease and the commit leaves the deliveries leased: they
    // are claimed again when the lease runs out, as after a crash.
    take: (deliveries) => worker?.take(deliveries),
    wake: () => worker?.wake(),
    attach(w) {
      worker = w
      return () => {
        if (worker === w) worker = undefined
      }
    },
  }
}
