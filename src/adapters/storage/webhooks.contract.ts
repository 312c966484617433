import { describe, expect, it } from 'vitest'
import { DuplicateError } from '../../domain/errors.js'
import { generateId } from '../../domain/ids.js'
import type { Account } from '../../domain/model.js'
import type { StoredWebhookEndpoint, WebhookDelivery } from '../../domain/webhooks.js'
import type { Storage, Tx } from '../../ports/storage.js'

const T = 1_700_000_000_000

/**
 * The webhook part of the storage contract, run by runStorageContract on the suite's shared
 * storage. Claims see every account's deliveries, so each test deletes its endpoints at the end
 * (their deliveries go with them) and filters what it claims by its own endpoints.
 */
export function describeWebhookStorage(storage: () => Storage, newAccount: () => Promise<Account>): void {
  const write = <R>(fn: (tx: Tx) => Promise<R>) => storage().transaction(fn)
  const read = () => storage().read

  function endpointOf(accountId: string, extra: Partial<StoredWebhookEndpoint> = {}): StoredWebhookEndpoint {
    return {
      id: generateId(),
      accountId,
      url: 'https://hooks.example.com/parley',
      events: ['conversationStarted', 'message.created'],
      enabled: true,
      secret: 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0',
      createdAt: T,
      updatedAt: T,
      ...extra,
    }
  }

  function deliveryOf(e: StoredWebhookEndpoint, extra: Partial<WebhookDelivery> = {}): WebhookDelivery {
    return {
      id: generateId(),
      accountId: e.accountId,
      endpointId: e.id,
      conversationId: 'conv-1',
      seq: 1,
      event: 'message.created',
      payload: '{"eventName":"message.created"}',
      status: 'pending',
      attempts: 0,
      tries: 0,
      nextAt: T,
      createdAt: T,
      attemptLog: [],
      ...extra,
    }
  }

  async function withEndpoint(extra: Partial<StoredWebhookEndpoint> = {}): Promise<StoredWebhookEndpoint> {
    const account = await newAccount()
    const endpoint = endpointOf(account.id, extra)
    await write((tx) => tx.webhookEndpoints.insert(endpoint))
    return endpoint
  }

  const insert = (...deliveries: WebhookDelivery[]) =>
    write(async (tx) => {
      for (const d of deliveries) await tx.webhookDeliveries.insert(d)
    })
  const remove = (...endpoints: StoredWebhookEndpoint[]) =>
    write(async (tx) => {
      for (const e of endpoints) await tx.webhookEndpoints.delete(e.accountId, e.id)
    })
  /** Claims everything due and returns the ids among `deliveries`. */
  async function claimIds(now: number, leaseUntil: number, deliveries: WebhookDelivery[], limit = 1000): Promise<string[]> {
    const mine = new Set(deliveries.map((d) => d.id))
    const claimed = await write((tx) => tx.webhookDeliveries.claimDue(now, leaseUntil, limit))
    return claimed.map((d) => d.id).filter((id) => mine.has(id)).sort()
  }
  const sorted = (ds: WebhookDelivery[]) => ds.map((d) => d.id).sort()

  describe('webhook endpoints', () => {
    it('reads an endpoint back whole, absent fields undefined, inside its account', async () => {
      const account = await newAccount()
      const other = await newAccount()
      const full = endpointOf(account.id, {
        description: 'CRM',
        enabled: false,
        disabledReason: 'the receiver answered 410 Gone',
        previousSecret: 'whsec_b2xk',
        previousSecretExpiresAt: T + 86_400_000,
        createdAt: T + 1,
      })
      const bare = endpointOf(account.id, { events: ['agent.online'] })
      await write(async (tx) => {
        await tx.webhookEndpoints.insert(full)
        await tx.webhookEndpoints.insert(bare)
      })
      expect(await read().webhookEndpoints.get(account.id, full.id)).toEqual(full)
      const got = await read().webhookEndpoints.get(account.id, bare.id)
      expect(got).toEqual(bare)
      for (const v of Object.values(got!)) expect(v).not.toBeNull()
      expect(await read().webhookEndpoints.list(account.id)).toEqual([bare, full])
      expect(await read().webhookEndpoints.get(other.id, full.id)).toBeUndefined()
      expect(await read().webhookEndpoints.list(other.id)).toEqual([])
      await expect(write((tx) => tx.webhookEndpoints.insert(bare))).rejects.toBeInstanceOf(DuplicateError)
      await remove(full, bare)
    })

    it('lists only the enabled endpoints with their events, for the per-event lookup', async () => {
      const account = await newAccount()
      const on = endpointOf(account.id, { events: ['conversationFragment', 'agent.offline'] })
      const off = endpointOf(account.id, { enabled: false })
      await write(async (tx) => {
        await tx.webhookEndpoints.insert(on)
        await tx.webhookEndpoints.insert(off)
      })
      expect(await read().webhookEndpoints.listEnabled(account.id)).toEqual([{ id: on.id, events: on.events }])
      expect(await read().webhookEndpoints.listEnabled((await newAccount()).id)).toEqual([])
      await remove(on, off)
    })

    it('updates the named fields, null clears, and another account changes nothing', async () => {
      const e = await withEndpoint({ description: 'old', previousSecret: 'whsec_b2xk', previousSecretExpiresAt: T + 5 })
      const other = await newAccount()
      expect(await write((tx) => tx.webhookEndpoints.update(other.id, e.id, { url: 'https://evil.example.com/' }))).toBe(false)
      expect(await write((tx) => tx.webhookEndpoints.update(other.id, e.id, {}))).toBe(false)
      expect(await write((tx) => tx.webhookEndpoints.update(e.accountId, e.id, {}))).toBe(true)
      const changes = {
        url: 'https://new.example.com/hook',
        events: ['conversationTranscript' as const],
        enabled: false,
        disabledReason: 'paused',
        description: null,
        previousSecret: null,
        previousSecretExpiresAt: null,
        updatedAt: T + 10,
      }
      expect(await write((tx) => tx.webhookEndpoints.update(e.accountId, e.id, changes))).toBe(true)
      const updated = await read().webhookEndpoints.get(e.accountId, e.id)
      expect(updated).toEqual({
        ...e,
        url: changes.url,
        events: changes.events,
        enabled: false,
        disabledReason: 'paused',
        description: undefined,
        previousSecret: undefined,
        previousSecretExpiresAt: undefined,
        updatedAt: T + 10,
      })
      await write((tx) => tx.webhookEndpoints.update(e.accountId, e.id, { enabled: true, disabledReason: null }))
      expect(await read().webhookEndpoints.get(e.accountId, e.id)).toMatchObject({ enabled: true, disabledReason: undefined })
      await remove(e)
    })

    it('deletes an endpoint with its deliveries, only from its account', async () => {
      const e = await withEndpoint()
      const d = deliveryOf(e)
      await insert(d)
      const stranger = await newAccount()
      expect(await write((tx) => tx.webhookEndpoints.delete(stranger.id, e.id))).toBe(false)
      expect(await write((tx) => tx.webhookEndpoints.delete(e.accountId, e.id))).toBe(true)
      expect(await write((tx) => tx.webhookEndpoints.delete(e.accountId, e.id))).toBe(false)
      expect(await read().webhookEndpoints.get(e.accountId, e.id)).toBeUndefined()
      expect(await read().webhookDeliveries.get(e.accountId, d.id)).toBeUndefined()
    })
  })

  describe('webhook deliveries', () => {
    it('reads a delivery back whole, absent fields undefined, inside its account', async () => {
      const e = await withEndpoint()
      const full = deliveryOf(e, {
        seq: 2 ** 40,
        status: 'failed',
        attempts: 10,
        tries: 10,
        leasedUntil: T + 60_000,
        lastStatus: 503,
        lastError: 'HTTP 503',
        deliveredAt: T + 9,
        attemptLog: [
          { attempt: 9, at: T, durationMs: 15_000, error: 'no complete response within 15 s' },
          { attempt: 10, at: T + 1, durationMs: 4, status: 503, error: 'HTTP 503' },
        ],
      })
      const bare = deliveryOf(e, { conversationId: undefined, event: 'agent.online' })
      await insert(full, bare)
      expect(await read().webhookDeliveries.get(e.accountId, full.id)).toEqual(full)
      const got = await read().webhookDeliveries.get(e.accountId, bare.id)
      expect(got).toEqual(bare)
      for (const v of Object.values(got!)) expect(v).not.toBeNull()
      expect(await read().webhookDeliveries.get((await newAccount()).id, full.id)).toBeUndefined()
      await remove(e)
    })

    it("finds the endpoint's latest pending Brevo delivery of a conversation, ignoring Parley's own events", async () => {
      const e = await withEndpoint()
      const other = await withEndpoint()
      const started = deliveryOf(e, { seq: 3, event: 'conversationStarted' })
      const fragment = deliveryOf(e, { seq: 5, event: 'conversationFragment' })
      await insert(
        started,
        fragment,
        deliveryOf(e, { seq: 9, event: 'message.created' }),
        deliveryOf(e, { seq: 9, event: 'conversationTranscript', conversationId: 'conv-2' }),
        deliveryOf(e, { seq: 2, event: 'conversationTranscript', conversationId: 'conv-3', status: 'delivered' }),
        deliveryOf(other, { seq: 12, event: 'conversationTranscript' }),
      )
      const last = (accountId: string, conversationId: string) => read().webhookDeliveries.lastPendingOfConversation(accountId, e.id, conversationId)
      expect((await last(e.accountId, 'conv-1'))?.id).toBe(fragment.id)
      expect(await last(e.accountId, 'conv-3')).toBeUndefined()
      expect(await last(e.accountId, 'conv-4')).toBeUndefined()
      expect(await last(other.accountId, 'conv-1')).toBeUndefined()
      await remove(e, other)
    })

    it('tells whether an earlier delivery of the conversation to the endpoint is pending', async () => {
      const e = await withEndpoint()
      const other = await withEndpoint()
      await insert(
        deliveryOf(e, { seq: 5 }),
        deliveryOf(e, { seq: 3, status: 'delivered' }),
        deliveryOf(e, { seq: 2, conversationId: 'conv-2' }),
        deliveryOf(other, { seq: 1 }),
      )
      const pending = (seq: number, conversationId = 'conv-1', endpoint = e) =>
        read().webhookDeliveries.hasPendingBefore(endpoint.accountId, endpoint.id, conversationId, seq)
      expect(await pending(5)).toBe(false)
      expect(await pending(6)).toBe(true)
      expect(await pending(4)).toBe(false)
      expect(await pending(3, 'conv-2')).toBe(true)
      expect(await pending(2, 'conv-1', other)).toBe(true)
      expect(await read().webhookDeliveries.hasPendingBefore(other.accountId, e.id, 'conv-1', 6)).toBe(false)
      await remove(e, other)
    })

    it('rewrites the payload only of a delivery no worker has claimed or tried', async () => {
      const e = await withEndpoint()
      const fresh = deliveryOf(e, { nextAt: T + 5_000 })
      const tried = deliveryOf(e, { attempts: 1, tries: 1 })
      await insert(fresh, tried)
      const rewrite = (d: WebhookDelivery, payload: string, accountId = e.accountId) =>
        write((tx) => tx.webhookDeliveries.replaceUnclaimedPayload(accountId, d.id, payload))
      expect(await rewrite(fresh, '{"n":2}')).toBe(true)
      expect(await rewrite(tried, '{"n":2}')).toBe(false)
      expect(await rewrite(fresh, '{"n":3}', (await newAccount()).id)).toBe(false)
      expect((await read().webhookDeliveries.get(e.accountId, fresh.id))!.payload).toBe('{"n":2}')
      expect((await read().webhookDeliveries.get(e.accountId, tried.id))!.payload).toBe(tried.payload)
      // Once claimed, it is out of reach even though nothing was attempted yet.
      expect(await claimIds(T + 5_000, T + 65_000, [fresh])).toEqual([fresh.id])
      expect(await rewrite(fresh, '{"n":4}')).toBe(false)
      await remove(e)
    })

    it('claims due deliveries of enabled endpoints under a lease that hides them until it runs out', async () => {
      const e = await withEndpoint()
      const disabled = await withEndpoint({ enabled: false })
      const due = deliveryOf(e, { conversationId: 'a' })
      const dueToo = deliveryOf(e, { conversationId: undefined, nextAt: T - 10 })
      const later = deliveryOf(e, { conversationId: 'b', nextAt: T + 1 })
      const done = deliveryOf(e, { conversationId: 'c', status: 'delivered' })
      const gaveUp = deliveryOf(e, { conversationId: 'd', status: 'failed' })
      const off = deliveryOf(disabled)
      const all = [due, dueToo, later, done, gaveUp, off]
      await insert(...all)

      const claimed = await write((tx) => tx.webhookDeliveries.claimDue(T, T + 60_000, 1000))
      const mine = claimed.filter((d) => all.some((x) => x.id === d.id))
      expect(sorted(mine)).toEqual(sorted([due, dueToo]))
      expect(mine.find((d) => d.id === due.id)).toEqual({ ...due, leasedUntil: T + 60_000 })

      expect(await claimIds(T + 59_999, T + 120_000, all)).toEqual(sorted([later]))
      // A worker that died mid-send: its lease runs out and the delivery is claimed again.
      expect(await claimIds(T + 60_000, T + 120_000, all)).toEqual(sorted([due, dueToo]))

      await write((tx) => tx.webhookEndpoints.update(disabled.accountId, disabled.id, { enabled: true }))
      expect(await claimIds(T + 60_000, T + 120_000, all)).toEqual([off.id])
      await remove(e, disabled)
    })

    it('holds back a delivery while an earlier one of its conversation to that endpoint is pending', async () => {
      const e = await withEndpoint()
      const other = await withEndpoint()
      const first = deliveryOf(e, { seq: 10, nextAt: T + 5_000 })
      const second = deliveryOf(e, { seq: 11 })
      const sameEvent = deliveryOf(e, { seq: 10, event: 'conversationStarted' })
      const elsewhere = deliveryOf(e, { seq: 12, conversationId: 'conv-2' })
      const otherEndpoint = deliveryOf(other, { seq: 12 })
      const all = [first, second, sameEvent, elsewhere, otherEndpoint]
      await insert(...all)

      const finish = (d: WebhookDelivery, leasedUntil: number, status: 'delivered' | 'failed') =>
        write((tx) => tx.webhookDeliveries.finishAttempt(d.accountId, d.id, leasedUntil, { status, tries: 1, nextAt: T, attemptLog: [] }))
      // `first` waits for its retry; `second` waits for `first` (and for `sameEvent`, which comes from the same event as `first`).
      expect(await claimIds(T, T + 1, all)).toEqual(sorted([sameEvent, elsewhere, otherEndpoint]))
      for (const d of [sameEvent, elsewhere, otherEndpoint]) await finish(d, T + 1, 'delivered')
      expect(await claimIds(T + 5_000, T + 5_001, all)).toEqual([first.id])
      await finish(first, T + 5_001, 'failed')
      // A failed delivery no longer holds the conversation back.
      expect(await claimIds(T + 5_000, T + 5_001, all)).toEqual([second.id])
      await remove(e, other)
    })

    it('never gives one delivery to two concurrent claims', async () => {
      const e = await withEndpoint()
      const all = Array.from({ length: 60 }, (_, i) => deliveryOf(e, { conversationId: `c-${i}`, seq: i + 1 }))
      await insert(...all)
      const claims = await Promise.all(
        Array.from({ length: 6 }, () => storage().transaction((tx) => tx.webhookDeliveries.claimDue(T, T + 60_000, 15))),
      )
      const ids = claims.flat().map((d) => d.id).filter((id) => all.some((d) => d.id === id))
      expect(new Set(ids).size).toBe(ids.length)
      expect(ids).toHaveLength(all.length)
      expect(await claimIds(T, T + 60_000, all)).toEqual([])
      await remove(e)
    })

    it('records an outcome and its attempt log only under the lease it was attempted with', async () => {
      const e = await withEndpoint()
      const d = deliveryOf(e)
      await insert(d)
      await claimIds(T, T + 60_000, [d])
      const first = { attempt: 1, at: T, durationMs: 12, status: 500, error: 'HTTP 500' }
      const outcome = { status: 'pending' as const, tries: 1, nextAt: T + 5_000, lastStatus: 500, lastError: 'HTTP 500', attemptLog: [first] }
      expect(await write((tx) => tx.webhookDeliveries.finishAttempt(e.accountId, d.id, T + 59_999, outcome))).toBe(false)
      const stranger = await newAccount()
      expect(await write((tx) => tx.webhookDeliveries.finishAttempt(stranger.id, d.id, T + 60_000, outcome))).toBe(false)
      expect(await write((tx) => tx.webhookDeliveries.finishAttempt(e.accountId, d.id, T + 60_000, outcome))).toBe(true)
      expect(await read().webhookDeliveries.get(e.accountId, d.id)).toEqual({
        ...d,
        attempts: 1,
        tries: 1,
        nextAt: T + 5_000,
        lastStatus: 500,
        lastError: 'HTTP 500',
        attemptLog: [first],
      })
      expect(await write((tx) => tx.webhookDeliveries.finishAttempt(e.accountId, d.id, T + 60_000, outcome))).toBe(false)

      await claimIds(T + 5_000, T + 65_000, [d])
      const second = { attempt: 2, at: T + 5_000, durationMs: 3, status: 204 }
      const delivered = { status: 'delivered' as const, tries: 2, nextAt: T + 5_000, lastStatus: 204, deliveredAt: T + 5_001, attemptLog: [first, second] }
      expect(await write((tx) => tx.webhookDeliveries.finishAttempt(e.accountId, d.id, T + 65_000, delivered))).toBe(true)
      const after = await read().webhookDeliveries.get(e.accountId, d.id)
      expect(after).toEqual({
        ...d,
        status: 'delivered',
        attempts: 2,
        tries: 2,
        nextAt: T + 5_000,
        lastStatus: 204,
        deliveredAt: T + 5_001,
        attemptLog: [first, second],
      })
      expect(after!.lastError).toBeUndefined()
      for (const entry of after!.attemptLog) for (const v of Object.values(entry)) expect(v).not.toBeNull()
      await remove(e)
    })

    it('lists deliveries newest first, by status, inside the account', async () => {
      const e = await withEndpoint()
      const other = await withEndpoint()
      const old = deliveryOf(e, { createdAt: T, status: 'failed' })
      const mid = deliveryOf(e, { createdAt: T + 1, status: 'delivered' })
      const recent = deliveryOf(e, { createdAt: T + 2 })
      await insert(old, mid, recent, deliveryOf(other))
      const list = (options: Parameters<Storage['read']['webhookDeliveries']['list']>[2], accountId = e.accountId) =>
        read().webhookDeliveries.list(accountId, e.id, options).then((ds) => ds.map((d) => d.id))
      expect(await list({ limit: 10 })).toEqual([recent.id, mid.id, old.id])
      expect(await list({ limit: 2 })).toEqual([recent.id, mid.id])
      expect(await list({ limit: 10, status: 'failed' })).toEqual([old.id])
      expect(await list({ limit: 10 }, other.accountId)).toEqual([])
      await remove(e, other)
    })

    it('replays a delivery: pending again, due at once, a fresh schedule, attempts kept', async () => {
      const e = await withEndpoint()
      const d = deliveryOf(e, { status: 'failed', attempts: 10, tries: 10, lastStatus: 500, nextAt: T })
      await insert(d)
      const stranger = await newAccount()
      expect(await write((tx) => tx.webhookDeliveries.replay(stranger.id, d.id, T + 50))).toBeUndefined()
      expect(await write((tx) => tx.webhookDeliveries.replay(e.accountId, generateId(), T + 50))).toBeUndefined()
      const replayed = { ...d, status: 'pending', tries: 0, nextAt: T + 50 }
      expect(await write((tx) => tx.webhookDeliveries.replay(e.accountId, d.id, T + 50))).toEqual(replayed)
      expect(await read().webhookDeliveries.get(e.accountId, d.id)).toEqual(replayed)
      expect(await claimIds(T + 50, T + 100, [d])).toEqual([d.id])
      await remove(e)
    })

    it('purges finished deliveries last due before a time, keeping pending ones', async () => {
      // Times far below every other test's.
      const e = await withEndpoint()
      const oldDone = deliveryOf(e, { nextAt: 1000, status: 'delivered' })
      const oldFailed = deliveryOf(e, { nextAt: 1500, status: 'failed' })
      const oldPending = deliveryOf(e, { nextAt: 1000, leasedUntil: T + 1e9 })
      const newDone = deliveryOf(e, { nextAt: 2000, status: 'delivered' })
      await insert(oldDone, oldFailed, oldPending, newDone)
      expect(await write((tx) => tx.webhookDeliveries.purgeFinishedBefore(2000))).toBe(2)
      const left = await read().webhookDeliveries.list(e.accountId, e.id, { limit: 10 })
      expect(sorted(left)).toEqual(sorted([oldPending, newDone]))
      await remove(e)
    })
  })
}
