const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE

/**
 * When each attempt is made, counted from the failure of the one before: the first at once, then
 * 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h later. Ten attempts over about three and
 * a half days; after the last the delivery is failed (and can be replayed).
 */
export const RETRY_SCHEDULE_MS = [0, 5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 14 * HOUR, 20 * HOUR, 24 * HOUR]

export const MAX_ATTEMPTS = RETRY_SCHEDULE_MS.length

/** ±20 %: receivers that failed together do not get every retry at the same instant. */
const JITTER = 0.2

/** The longest wait a receiver's `Retry-After` can ask for. */
export const MAX_RETRY_AFTER_MS = 24 * HOUR

/**
 * `Retry-After` as milliseconds from `now`: delay-seconds or an HTTP date. Undefined when absent or
 * unreadable; never negative.
 */
export function parseRetryAfter(header: string | undefined, now: number): number | undefined {
  if (header === undefined) return undefined
  const value = header.trim()
  if (/^\d+$/.test(value)) return Math.min(Number(value) * SECOND, MAX_RETRY_AFTER_MS)
  // An HTTP date names its day and month; Date.parse alone would take "-5" for a year.
  const date = /[a-z]/i.test(value) ? Date.parse(value) : NaN
  if (Number.isNaN(date)) return undefined
  return Math.min(Math.max(0, date - now), MAX_RETRY_AFTER_MS)
}

/**
 * How long to wait after failed attempt number `tries` (1-based, counted since the delivery was
 * queued or replayed), or undefined when that was the last. `random` is in [0, 1). A `Retry-After`
 * longer than the schedule's wait is honoured.
 */
export function retryDelay(tries: number, random: number, retryAfterMs?: number): number | undefined {
  if (tries >= MAX_ATTEMPTS) return undefined
  const base = RETRY_SCHEDULE_MS[tries]
  const jittered = Math.round(base * (1 - JITTER + 2 * JITTER * random))
  return Math.max(jittered, retryAfterMs ?? 0)
}
