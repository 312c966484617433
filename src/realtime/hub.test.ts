import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createMemoryPubSub } from '../adapters/pubsub/memory.js'
import type { StoredEvent } from '../domain/events.js'
import type { PubSub } from '../ports/pubsub.js'
import { createAccount } from '../services/accounts.js'
import { sendAgentMessage } from '../services/messages.js'
import { createTestDeps, type TestDeps } from '../services/test-deps.js'
import { Hub, type HubClient } from './hub.js'

function recorder(visitorId?: string): HubClient & { seqs: number[] } {
  const seqs: number[] = []
  return { visitorId, seqs, event: (e: StoredEvent) => void seqs.push(e.seq), signal: () => {} }
}

function until(check: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const poll = () => (check() ? resolve() : Date.now() - started > 5000 ? reject(new Error('timed out')) : setTimeout(poll, 5))
    poll()
  })
}

describe('realtime hub', () => {
  let deps: TestDeps
  let accountId: string
  /** What the hub listens to; the tests decide what reaches it and in which order. */
  let wire: PubSub
  let hub: Hub
  let events: StoredEvent[]

  beforeEach(async () => {
    deps = await createTestDeps()
    accountId = (await createAccount(deps, 'Acme')).account.id
    wire = createMemoryPubSub()
    hub = new Hub({ pubsub: wire, read: deps.storage.read, logger: deps.logger, agentCards: async () => [] })
    events = []
    for (let i = 0; i < 6; i++) {
      await sendAgentMessage(deps, accountId, { visitorId: 'v1', text: `m${i}`, agentEmail: 'a@x.io', agentName: 'A', receivedFrom: 't' })
    }
    events = [...deps.published]
  })
  afterEach(async () => {
    hub.close()
    await deps.close()
  })

  it('holds events until the client is ready, then delivers only those after its mark', async () => {
    const client = recorder()
    const membership = hub.join(accountId, client)
    hub.position(accountId, events[1].seq)
    for (const e of events.slice(2)) await wire.publish(e)
    expect(client.seqs).toEqual([])
    membership.ready(events[3].seq)
    expect(client.seqs).toEqual(events.slice(4).map((e) => e.seq))
  })

  it('puts out-of-order events back in order and drops duplicates', async () => {
    const client = recorder('v1')
    hub.join(accountId, client).ready(events[0].seq)
    hub.position(accountId, events[0].seq)
    for (const i of [2, 1, 1, 4, 3, 5, 2]) await wire.publish(events[i])
    expect(client.seqs).toEqual(events.slice(1).map((e) => e.seq))
  })

  it('fills a gap that pub/sub lost from the event table', async () => {
    const client = recorder('v1')
    hub.join(accountId, client).ready(events[0].seq)
    hub.position(accountId, events[0].seq)
    await wire.publish(events[1])
    await wire.publish(events[4])
    await wire.publish(events[5])
    expect(client.seqs).toEqual([events[1].seq])
    await until(() => client.seqs.length === 5)
    expect(client.seqs).toEqual(events.slice(1).map((e) => e.seq))
  })

  it("routes a visitor's events to that visitor only, and every event to agents", async () => {
    await sendAgentMessage(deps, accountId, { visitorId: 'v2', text: 'other', agentEmail: 'a@x.io', agentName: 'A', receivedFrom: 't' })
    const all = [...deps.published]
    const v1 = recorder('v1')
    const v2 = recorder('v2')
    const agent = recorder()
    for (const c of [v1, v2, agent]) hub.join(accountId, c).ready(0)
    hub.position(accountId, 0)
    for (const e of all) await wire.publish(e)
    expect(v1.seqs).toEqual(events.map((e) => e.seq))
    expect(v2.seqs).toEqual([all.at(-1)!.seq])
    expect(agent.seqs).toEqual(all.map((e) => e.seq))
  })

  it('forgets an account once its last client leaves', async () => {
    const membership = hub.join(accountId, recorder())
    expect(hub.connections).toBe(1)
    membership.leave()
    expect(hub.connections).toBe(0)
  })
})
