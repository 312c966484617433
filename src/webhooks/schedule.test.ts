import { describe, expect, it } from 'vitest'
import { MAX_ATTEMPTS, MAX_RETRY_AFTER_MS, parseRetryAfter, retryDelay } from './schedule.js'

const s = 1000
const min = 60 * s
const h = 60 * min

describe('retryDelay', () => {
  it('follows the schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h after failures 1 to 9', () => {
    const middle = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((tries) => retryDelay(tries, 0.5))
    expect(middle).toEqual([5 * s, 5 * min, 30 * min, 2 * h, 5 * h, 10 * h, 14 * h, 20 * h, 24 * h])
  })

  it('gives up after the tenth attempt', () => {
    expect(MAX_ATTEMPTS).toBe(10)
    expect(retryDelay(9, 0.5)).toBe(24 * h)
    expect(retryDelay(10, 0.5)).toBeUndefined()
    expect(retryDelay(10, 0.5, 5 * s)).toBeUndefined()
  })

  it('jitters by up to 20 % either way', () => {
    expect(retryDelay(2, 0)).toBe(4 * min)
    expect(retryDelay(2, 0.999999)).toBeCloseTo(6 * min, -1)
    const draws = Array.from({ length: 200 }, (_, i) => retryDelay(1, i / 200)!)
    expect(Math.min(...draws)).toBe(4 * s)
    expect(Math.max(...draws)).toBeLessThan(6 * s)
    expect(new Set(draws).size).toBeGreaterThan(100)
  })

  it('waits at least as long as Retry-After asks, never less than the schedule', () => {
    expect(retryDelay(1, 0.5, 90 * s)).toBe(90 * s)
    expect(retryDelay(3, 0.5, 90 * s)).toBe(30 * min)
  })
})

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-25T12:00:00Z')

  it('reads delay-seconds and HTTP dates', () => {
    expect(parseRetryAfter('120', now)).toBe(120 * s)
    expect(parseRetryAfter(' 0 ', now)).toBe(0)
    expect(parseRetryAfter('Wed, 25 Nov 2026 12:10:00 GMT', now)).toBe(10 * min)
  })

  it('ignores what it cannot read and clamps the rest to [0, 24 h]', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter('-5', now)).toBeUndefined()
    expect(parseRetryAfter('Wed, 25 Nov 2026 11:00:00 GMT', now)).toBe(0)
    expect(parseRetryAfter('99999999', now)).toBe(MAX_RETRY_AFTER_MS)
  })
})
