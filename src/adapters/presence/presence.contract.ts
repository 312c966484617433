import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Presence } from '../../ports/presence.js'

const T = 1_700_000_000_000

/** What every presence adapter must do; `open` gives two processes' handles on one store. */
export function runPresenceContract(name: string, open: () => Promise<{ a: Presence; b: Presence; close(): Promise<void> }>): void {
  describe(`presence contract: ${name}`, () => {
    let store: Awaited<ReturnType<typeof open>>
    beforeEach(async () => {
      store = await open()
    })
    afterEach(async () => {
      await store.close()
    })

    it('reports coming online once, and extends without a new transition', async () => {
      expect(await store.a.markOnline('acc', 'liz', T + 150_000, T)).toBe(true)
      expect(await store.b.markOnline('acc', 'liz', T + 160_000, T + 10_000)).toBe(false)
      // An earlier ping arriving late never shortens the time.
      expect(await store.a.markOnline('acc', 'liz', T + 100_000, T + 11_000)).toBe(false)
      expect(await store.b.onlineAgents('acc', T + 155_000)).toEqual(['liz'])
      expect(await store.a.onlineAgents('acc', T + 160_000)).toEqual([])
      expect(await store.a.onlineAgents('other', T)).toEqual([])
    })

    it('gives each expired agent to exactly one sweeper, and then it may come online again', async () => {
      await store.a.markOnline('acc', 'liz', T + 1000, T)
      await store.a.markOnline('acc', 'sam', T + 5000, T)
      await store.a.markOnline('acc2', 'kim', T + 1000, T)
      expect(await store.a.takeExpired(T + 500)).toEqual([])
      const [first, second] = await Promise.all([store.a.takeExpired(T + 2000), store.b.takeExpired(T + 2000)])
      const taken = [...first, ...second].sort((x, y) => x.agentId.localeCompare(y.agentId))
      expect(taken).toEqual([
        { accountId: 'acc2', agentId: 'kim' },
        { accountId: 'acc', agentId: 'liz' },
      ])
      expect(await store.b.onlineAgents('acc', T + 2000)).toEqual(['sam'])
      expect(await store.a.markOnline('acc', 'liz', T + 9000, T + 3000)).toBe(true)
    })

    it('treats a ping that ran out as offline even before the sweep', async () => {
      await store.a.markOnline('acc', 'liz', T + 1000, T)
      expect(await store.b.onlineAgents('acc', T + 1000)).toEqual([])
      expect(await store.b.markOnline('acc', 'liz', T + 9000, T + 2000)).toBe(true)
    })
  })
}
