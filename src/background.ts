import type { AppContext } from './context.js'
import { sweepPresence } from './services/agents.js'
import { purgeExpiredIdempotencyKeys } from './services/idempotency.js'

const PURGE_INTERVAL_MS = 3_600_000
const PRESENCE_SWEEP_MS = 5_000

/**
 * The periodic work of a running Parley, started next to the HTTP app by `parley serve` and by
 * the test helper. Returns a stop function that waits for nothing: every job is idempotent and
 * safe to cut short, because the state it works on lives in the database or the presence store.
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
  return async () => {
    for (const timer of timers) clearInterval(timer)
  }
}
