import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { HeartbeatWheel } from './heartbeat.js'

describe('HeartbeatWheel', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('visits every item once per period, a slice per tick', () => {
    const visits: number[][] = []
    let current: number[] = []
    const wheel = new HeartbeatWheel<number>(30_000, (item) => current.push(item))
    for (let i = 0; i < 3000; i++) wheel.add(i)
    for (let tick = 0; tick < 300; tick++) {
      vi.advanceTimersByTime(100)
      visits.push(current)
      current = []
    }
    wheel.stop()
    // A three-hundredth every 100 ms, never everything at once.
    expect(visits.map((slice) => slice.length)).toEqual(Array(300).fill(10))
    expect(visits.flat().sort((a, b) => a - b)).toEqual([...Array(3000).keys()])
  })

  it('forgets deleted items, tolerates deletion during a visit, and ends a round with afterRound', () => {
    const seen: string[] = []
    let rounds = 0
    const wheel: HeartbeatWheel<string> = new HeartbeatWheel<string>(
      200,
      (item) => {
        seen.push(item)
        wheel.delete(item)
      },
      () => rounds++,
    )
    wheel.add('a')
    wheel.add('b')
    wheel.add('c')
    wheel.delete('b')
    expect([...wheel]).toHaveLength(2)
    expect([...wheel].sort()).toEqual(['a', 'c'])
    vi.advanceTimersByTime(200)
    expect(seen.sort()).toEqual(['a', 'c'])
    expect([...wheel]).toHaveLength(0)
    expect(rounds).toBe(1)
    vi.advanceTimersByTime(400)
    expect(rounds).toBe(3)
    wheel.stop()
  })

  it('uses one slice when the period is too short to split', () => {
    const seen: number[] = []
    const wheel = new HeartbeatWheel<number>(50, (item) => seen.push(item))
    wheel.add(1)
    wheel.add(2)
    vi.advanceTimersByTime(50)
    expect(seen).toEqual([1, 2])
    wheel.stop()
  })
})
