import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { StoredEvent } from '../../domain/events.js'
import type { PubSub, Signal } from '../../ports/pubsub.js'

function event(seq: number): StoredEvent {
  return { accountId: 'acc', seq, type: 'agent.online', payload: { agentId: 'a', until: 1 }, createdAt: 1 }
}

function eventually(check: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const poll = () => {
      try {
        check()
        resolve()
      } catch (err) {
        if (Date.now() - started > 5000) reject(err)
        else setTimeout(poll, 5)
      }
    }
    poll()
  })
}

/**
 * What every pub/sub adapter must do. `open` gives two handles on one bus (two processes' views
 * of it; the memory adapter has one process, so it returns the same one twice).
 */
export function runPubSubContract(name: string, open: () => Promise<{ a: PubSub; b: PubSub; close(): Promise<void> }>): void {
  describe(`pub/sub contract: ${name}`, () => {
    let bus: Awaited<ReturnType<typeof open>>
    beforeEach(async () => {
      bus = await open()
    })
    afterEach(async () => {
      await bus.close()
    })

    it('carries events to every subscriber in publish order, with their payloads intact', async () => {
      const seen: StoredEvent[] = []
      bus.b.subscribe((e) => seen.push(e))
      for (let seq = 1; seq <= 50; seq++) await bus.a.publish(event(seq))
      await eventually(() => expect(seen).toHaveLength(50))
      expect(seen.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
      expect(seen[0]).toEqual(event(1))
    })

    it('carries signals separately from events', async () => {
      const signals: Signal[] = []
      const events: StoredEvent[] = []
      bus.b.onSignal((s) => signals.push(s))
      bus.b.subscribe((e) => events.push(e))
      const typing: Signal = { kind: 'typing', accountId: 'acc', visitorId: 'v', from: 'visitor', isTyping: true }
      await bus.a.signal(typing)
      await eventually(() => expect(signals).toEqual([typing]))
      expect(events).toEqual([])
    })

    it('stops delivering to a listener that unsubscribed', async () => {
      const seen: number[] = []
      const kept: number[] = []
      const off = bus.b.subscribe((e) => seen.push(e.seq))
      bus.b.subscribe((e) => kept.push(e.seq))
      await bus.a.publish(event(1))
      await eventually(() => expect(seen).toEqual([1]))
      off()
      await bus.a.publish(event(2))
      await eventually(() => expect(kept).toEqual([1, 2]))
      expect(seen).toEqual([1])
    })
  })
}
