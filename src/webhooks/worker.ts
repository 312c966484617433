import {
  MAX_ATTEMPT_LOG,
  WEBHOOK_LEASE_MS,
  type StoredWebhookEndpoint,
  type WebhookAttempt,
  type WebhookDelivery,
} from '../domain/webhooks.js'
import type { DeliveryOutcome, Tx } from '../ports/storage.js'
import type { ServiceDeps } from '../services/deps.js'
import { parseRetryAfter, retryDelay } from './schedule.js'
import { signingSecrets, webhookHeaders } from './signing.js'

/** The whole exchange with a receiver, connection to last byte. */
export const WEBHOOK_TIMEOUT_MS = 15_000
/** Attempts one process has in flight at most. */
export const WEBHOOK_CONCURRENCY = 32
/** How often the worker looks for due deliveries when nothing rang (retries, other processes' writes). */
export const WEBHOOK_POLL_MS = 250

/**
 * Outcomes are recorded together, in one transaction (one commit and one fdatasync), once this
 * many wait or the first of them has waited RECORD_WAIT_MS: recording only frees the row's lease,
 * which is far longer, so a few ms more cost nothing, while every commit costs as much as several
 * outcomes' own statements.
 */
const RECORD_BATCH = 32
const RECORD_WAIT_MS = 10
const ERROR_EXCERPT = 200
/** Time an attempt's outcome may take to be recorded after its response. */
const LEASE_MARGIN_MS = 5_000

export interface WorkerOptions {
  /** In [0, 1): the retry jitter. */
  random?: () => number
  concurrency?: number
  pollMs?: number
}

interface Claimed {
  delivery: WebhookDelivery
  endpoint: StoredWebhookEndpoint
  leasedUntil: number
}

/** Leased deliveries with their endpoints, read once per endpoint. */
async function withEndpoints(deps: ServiceDeps, deliveries: WebhookDelivery[]): Promise<Claimed[]> {
  const endpoints = new Map<string, Promise<StoredWebhookEndpoint | undefined>>()
  const claimed = await Promise.all(
    deliveries.map(async (delivery) => {
      let endpoint = endpoints.get(delivery.endpointId)
      if (!endpoint) endpoints.set(delivery.endpointId, (endpoint = deps.storage.read.webhookEndpoints.get(delivery.accountId, delivery.endpointId)))
      return { delivery, endpoint: await endpoint, leasedUntil: delivery.leasedUntil! }
    }),
  )
  // An endpoint deleted since the lease took its deliveries with it.
  return claimed.filter((c): c is Claimed => c.endpoint !== undefined)
}

async function claim(deps: ServiceDeps, limit: number): Promise<Claimed[]> {
  const now = deps.clock.now()
  // A lease lost with the machine only means the deliveries are claimed again, as they would be
  // once it ran out; the claim need not wait for the disk.
  const deliveries = await deps.storage.transaction((tx) => tx.webhookDeliveries.claimDue(now, now + WEBHOOK_LEASE_MS, limit), {
    durable: false,
    background: true,
  })
  return withEndpoints(deps, deliveries)
}

function failureText(status: number, bodyExcerpt: string): string {
  if (status >= 300 && status < 400) return `HTTP ${status}: a redirect, which webhooks do not follow`
  const excerpt = bodyExcerpt.trim().slice(0, ERROR_EXCERPT)
  return excerpt ? `HTTP ${status}: ${excerpt}` : `HTTP ${status}`
}

/** What one attempt came to, ready to be recorded. */
interface Attempted extends Claimed {
  status?: number
  error?: string
  outcome: DeliveryOutcome
}

/**
 * One attempt: sign and POST. 2xx is delivered; 410 fails the delivery (and disables the endpoint
 * when recorded); anything else, a redirect included, is retried on the schedule until the
 * attempts run out.
 */
async function send(deps: ServiceDeps, claimed: Claimed, random: () => number): Promise<Attempted> {
  const { delivery, endpoint } = claimed
  const at = deps.clock.now()
  const started = performance.now()
  let status: number | undefined
  let error: string | undefined
  let retryAfter: string | undefined
  try {
    const response = await deps.webhookTransport.send({
      url: endpoint.url,
      headers: webhookHeaders(signingSecrets(endpoint, at), delivery.id, at, delivery.payload),
      body: delivery.payload,
      timeoutMs: WEBHOOK_TIMEOUT_MS,
    })
    status = response.status
    retryAfter = response.retryAfter
    if (status < 200 || status >= 300) error = failureText(status, response.bodyExcerpt)
  } catch (err) {
    error = err instanceof Error ? err.message : String(err)
  }
  const durationMs = Math.round(performance.now() - started)
  const now = deps.clock.now()
  const tries = delivery.tries + 1
  const gone = status === 410
  const entry: WebhookAttempt = { attempt: delivery.attempts + 1, at, durationMs }
  if (status !== undefined) entry.status = status
  if (error !== undefined) entry.error = error
  // The lease makes this worker the row's only writer, so the log is read and written back whole.
  const attemptLog = [...delivery.attemptLog, entry].slice(-MAX_ATTEMPT_LOG)
  const last = { lastStatus: status, lastError: error, attemptLog }
  let outcome: DeliveryOutcome
  if (error === undefined) {
    outcome = { status: 'delivered', tries, nextAt: delivery.nextAt, deliveredAt: now, ...last }
  } else {
    const delay = gone ? undefined : retryDelay(tries, random(), parseRetryAfter(retryAfter, now))
    outcome = delay === undefined ? { status: 'failed', tries, nextAt: delivery.nextAt, ...last } : { status: 'pending', tries, nextAt: now + delay, ...last }
  }
  return { ...claimed, status, error, outcome }
}

/** Stores one outcome, its attempt in the log, under the lease the attempt was made with. */
async function recordIn(tx: Tx, attempted: Attempted, now: number): Promise<boolean> {
  const { delivery, endpoint, leasedUntil, status, outcome } = attempted
  if (!(await tx.webhookDeliveries.finishAttempt(delivery.accountId, delivery.id, leasedUntil, outcome))) return false
  if (status === 410) {
    await tx.webhookEndpoints.update(delivery.accountId, endpoint.id, {
      enabled: false,
      disabledReason: 'the receiver answered 410 Gone',
      updatedAt: now,
    })
  }
  return true
}

function logOutcome(deps: ServiceDeps, attempted: Attempted, recorded: boolean): void {
  const { delivery, endpoint, status, error, outcome } = attempted
  const log = { deliveryId: delivery.id, endpointId: endpoint.id, event: delivery.event, attempt: delivery.attempts + 1, status, error }
  if (!recorded) deps.logger.warn(log, 'webhook attempt outlived its claim; its outcome was not recorded')
  else if (status === 410) deps.logger.warn(log, 'webhook endpoint disabled: the receiver answered 410 Gone')
  else if (outcome.status === 'failed') deps.logger.warn(log, 'webhook delivery failed for good; it can be replayed')
  else if (error !== undefined) deps.logger.info({ ...log, nextAt: outcome.nextAt }, 'webhook attempt failed; will retry')
}

/**
 * Stores the outcomes of several attempts in one transaction (one commit for many, on either
 * database); the deliveries stay leased, so unclaimable, until then. Should that transaction fail,
 * each is tried alone, so one bad row cannot cost the others their outcome.
 */
async function record(deps: ServiceDeps, batch: Attempted[]): Promise<void> {
  const now = deps.clock.now()
  let recorded: boolean[]
  try {
    recorded = await deps.storage.transaction(
      async (tx) => {
        const results: boolean[] = []
        for (const attempted of batch) results.push(await recordIn(tx, attempted, now))
        return results
      },
      { background: true },
    )
  } catch (err) {
    if (batch.length === 1) throw err
    recorded = []
    for (const attempted of batch) {
      try {
        recorded.push(await deps.storage.transaction((tx) => recordIn(tx, attempted, now), { background: true }))
      } catch (single) {
        deps.logger.warn({ err: single, deliveryId: attempted.delivery.id }, 'webhook attempt could not be recorded')
        recorded.push(false)
      }
    }
  }
  batch.forEach((attempted, i) => logOutcome(deps, attempted, recorded[i]))
}

/**
 * One pass of the worker: claims what is due now (up to `concurrency`), attempts each once and
 * waits for all of them. Returns how many it attempted. Tests drive retries with it and an
 * injected clock; the running worker (`startWebhookWorker`) uses the same steps.
 */
export async function runWebhookWorkerOnce(deps: ServiceDeps, options: WorkerOptions = {}): Promise<number> {
  const claimed = await claim(deps, options.concurrency ?? WEBHOOK_CONCURRENCY)
  await record(deps, await Promise.all(claimed.map((c) => send(deps, c, options.random ?? Math.random))))
  return claimed.length
}

/**
 * The worker of a running Parley: keeps up to `concurrency` requests in flight and as many claimed
 * deliveries ready behind them (claiming again when the ready ones run low, so a claim's commit
 * never leaves the slots empty), takes the deliveries this process's commits hand it (already
 * leased, see webhook-dispatch.ts), and looks for due deliveries when woken and every `pollMs`
 * (retries coming due, other processes' writes). A slot is held for the HTTP exchange only:
 * recording the outcome goes on beside the next request. A slow receiver holds one slot, never the
 * others; a delivery waits in `ready` at most one timeout, far inside its lease. The returned stop
 * sends what it had claimed and waits for the requests and their recording, which the timeout
 * bounds, so a clean shutdown leaves nothing leased.
 */
export function startWebhookWorker(deps: ServiceDeps, options: WorkerOptions = {}): () => Promise<void> {
  const concurrency = options.concurrency ?? WEBHOOK_CONCURRENCY
  const random = options.random ?? Math.random
  /** Requests in flight (and handed deliveries whose endpoints are being read): the slots. */
  const inFlight = new Set<Promise<unknown>>()
  /** Claimed, waiting for a slot. */
  const ready: Claimed[] = []
  const recording = new Set<Promise<void>>()
  /** Outcomes waiting for the next recording transaction, and who waits for each. */
  let outcomes: Array<{ attempted: Attempted; done: () => void }> = []
  let flushing = false
  /** Set while outcomes wait for more to join them (see RECORD_BATCH). */
  let recordTimer: NodeJS.Timeout | undefined
  let claiming = false
  let again = false
  let stopped = false
  const owned = () => inFlight.size + ready.length

  function occupy<T>(work: Promise<T>): Promise<T> {
    inFlight.add(work)
    const free = () => {
      inFlight.delete(work)
      fill()
      if (owned() <= concurrency) void pump()
    }
    work.then(free, free)
    return work
  }

  /**
   * Records the waiting outcomes now if there are enough of them (or the worker is stopping),
   * else once the first has waited RECORD_WAIT_MS. One recording transaction at a time: outcomes
   * that arrive meanwhile are scheduled again when it ends.
   */
  function scheduleRecording(): void {
    if (flushing || outcomes.length === 0) return
    if (outcomes.length >= RECORD_BATCH || stopped) {
      clearTimeout(recordTimer)
      recordTimer = undefined
      void flush()
    } else {
      recordTimer ??= setTimeout(() => {
        recordTimer = undefined
        if (!flushing) void flush()
      }, RECORD_WAIT_MS)
    }
  }

  async function flush(): Promise<void> {
    flushing = true
    const batch = outcomes
    outcomes = []
    try {
      await record(deps, batch.map((o) => o.attempted))
    } catch (err) {
      deps.logger.warn({ err, deliveries: batch.length }, 'webhook attempts could not be recorded')
    }
    for (const o of batch) o.done()
    flushing = false
    scheduleRecording()
  }

  function start(claimed: Claimed): void {
    const recorded = occupy(send(deps, claimed, random)).then(
      (attempted) =>
        new Promise<void>((done) => {
          outcomes.push({ attempted, done })
          scheduleRecording()
        }),
    )
    recording.add(recorded)
    void recorded.finally(() => recording.delete(recorded))
  }

  function fill(): void {
    while (ready.length > 0 && (inFlight.size < concurrency || stopped)) {
      const next = ready.shift()!
      // One that waited so long its lease would end mid-attempt is left to be claimed again:
      // sent now, it could be sent twice, and out of order with its conversation's next.
      if (next.leasedUntil - deps.clock.now() < WEBHOOK_TIMEOUT_MS + LEASE_MARGIN_MS) continue
      start(next)
    }
  }

  function take(deliveries: WebhookDelivery[]): void {
    // A slot is held while their endpoints are read, so room() counts them at once. Concurrent
    // commits each saw room for theirs, so together they may bring more than there is: the
    // extra wait in `ready` like claimed ones.
    occupy(withEndpoints(deps, deliveries))
      .then((handed) => {
        ready.push(...handed)
        fill()
      })
      .catch((err) => deps.logger.warn({ err }, 'reading the endpoints of handed webhook deliveries failed'))
  }

  async function pump(): Promise<void> {
    if (stopped) return
    if (claiming) {
      // A claim is running and may have read the database before this wake-up's commit.
      again = true
      return
    }
    claiming = true
    try {
      do {
        again = false
        while (!stopped && owned() <= concurrency) {
          const room = 2 * concurrency - owned()
          const claimed = await claim(deps, room)
          ready.push(...claimed)
          fill()
          if (claimed.length < room) break
        }
      } while (again && !stopped && owned() <= concurrency)
    } catch (err) {
      deps.logger.warn({ err }, 'claiming webhook deliveries failed')
    } finally {
      claiming = false
      // Claimed while stopping: send rather than leave them leased.
      if (stopped) fill()
    }
  }

  const timer = setInterval(() => void pump(), options.pollMs ?? WEBHOOK_POLL_MS).unref()
  const detach = deps.webhookDispatch.attach({
    room: () => (stopped ? 0 : Math.max(0, concurrency - owned())),
    take,
    wake: () => void pump(),
  })
  void pump()
  return async () => {
    stopped = true
    clearInterval(timer)
    detach()
    fill()
    // Outcomes waiting for company are recorded at once.
    scheduleRecording()
    while (claiming || inFlight.size > 0 || recording.size > 0) {
      await Promise.allSettled([...inFlight, ...recording])
      if (claiming) await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }
}
