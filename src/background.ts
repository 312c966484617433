import type { AppContext } from './context.js'
import { sweepPresence } from './services/agents.js'
import { sweepIdleConversations } from './services/conversations.js'
import { purgeExpiredIdempotencyKeys } from './services/idempotency.js'
import { purgeFinishedDeliveries } from './services/webhooks.js'
import { startWebhookWorker } from './webhooks/worker.js'

const PURGE_INTERVAL_MS = 3_600_000
const PRESENCE_SWEEP_MS = 5_000
/** A conversation is closed at most this long after it has been idle for the configured time. */
const IDLE_SWEEP_MS = 15_000

/**
 * The periodic work of a running Parley, started next to the HTTP app by `parley serve` and by
 * the test helper. Every job is idempotent and safe to cut short, because the state it works on
 * lives in the database or the presence store; the stop function waits only for webhook attempts
 * in flight (at most their timeout), so that none is sent twice across a restart.
 */
export function startBackgroundJobs(ctx: AppContext): () => Promise<void> {
  const timers: NodeJS.Timeout[] = []
  function every(ms: number, name: string, job: () => Promise<unknown>): void {
    let running = false
    const timer = setInterval(() => {
      // A slow run (a busy database) is never overlapped by the next one.
      if (running) return
      running = true
      job()
        .catch((err) => ctx.logger.warn({ err, job: name }, 'background job failed'))
        .finally(() => (running = false))
    }, ms)
    timers.push(timer.unref())
  }
  // Expired keys are already ignored; this only keeps the table from growing.
  every(PURGE_INTERVAL_MS, 'idempotency purge', () => purgeExpiredIdempotencyKeys(ctx))
  every(PRESENCE_SWEEP_MS, 'presence sweep', () => sweepPresence(ctx))
  every(IDLE_SWEEP_MS, 'idle conversation sweep', () => sweepIdleConversations(ctx))
  every(PURGE_INTERVAL_MS, 'webhook delivery purge', () => purgeFinishedDeliveries(ctx, ctx.config.webhookRetentionMs))
  // The worker waits for its attempts in flight when stopped, so none is sent again after a restart.
  const stopWebhookWorker = startWebhookWorker(ctx)
  return async () => {
    for (const timer of timers) clearInterval(timer)
    await stopWebhookWorker()
  }
}
