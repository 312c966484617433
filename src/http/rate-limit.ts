import type { FastifyReply } from 'fastify'
import { AppError } from '../domain/errors.js'

const WINDOW_MS = 60_000

/**
 * A fixed one-minute window per API key, answered with Brevo's `x-sib-ratelimit-*` headers and,
 * once exceeded, 429 with `Retry-After` (the newer Node SDK backs off only on that header).
 * @TODO share counters through Redis when processes scale out.
 */
export function createRateLimiter(limit: number, now: () => number) {
  const windows = new Map<string, { start: number; count: number }>()
  const limitHeader = String(limit)
  let lastSweep = now()

  return function check(key: string, reply: FastifyReply): void {
    if (limit <= 0) return
    const t = now()
    if (t - lastSweep > WINDOW_MS) {
      for (const [k, w] of windows) if (t - w.start >= WINDOW_MS) windows.delete(k)
      lastSweep = t
    }
    let window = windows.get(key)
    if (!window || t - window.start >= WINDOW_MS) windows.set(key, (window = { start: t, count: 0 }))
    window.count++
    const reset = Math.max(1, Math.ceil((window.start + WINDOW_MS - t) / 1000))
    reply.header('x-sib-ratelimit-limit', limitHeader)
    reply.header('x-sib-ratelimit-remaining', Math.max(0, limit - window.count))
    reply.header('x-sib-ratelimit-reset', reset)
    if (window.count > limit) {
      reply.header('retry-after', reset)
      throw new AppError('too_many_requests', `Too many requests: at most ${limit} per minute for this API key`)
    }
  }
}
