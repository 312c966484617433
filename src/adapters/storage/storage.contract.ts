import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DuplicateError } from '../../domain/errors.js'
import type { NewEvent } from '../../domain/events.js'
import { generateId } from '../../domain/ids.js'
import { ACTIVITY_RESOLUTION_MS, type Account, type Agent, type Conversation, type Message } from '../../domain/model.js'
import type { IdempotencyRecord, Storage, Tx } from '../../ports/storage.js'
import { describeWebhookStorage } from './webhooks.contract.js'

// Beyond 32 bits on purpose: bigint columns must come back as plain numbers (pg hands int8 over as text).
const T = 1_700_000_000_000

/** Absent values are `undefined` in the domain, never `null`. */
function expectNoNulls(value: unknown, path = 'value'): void {
  expect(value, path).not.toBeNull()
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) expectNoNulls(v, `${path}.${k}`)
  }
}

/**
 * The behaviour every Storage adapter owes the services. `makeStorage` returns a fresh, empty,
 * not yet migrated database; the suite shares it between its tests, which keep apart by account.
 */
export function runStorageContract(
  name: string,
  makeStorage: () => Promise<{ storage: Storage; cleanup(): Promise<void> }>,
): void {
  describe(`storage contract: ${name}`, () => {
    let storage: Storage
    let cleanup: (() => Promise<void>) | undefined

    beforeAll(async () => {
      const made = await makeStorage()
      storage = made.storage
      cleanup = made.cleanup
      await storage.migrate()
    })
    afterAll(async () => {
      await cleanup?.()
    })

    const write = <T>(fn: (tx: Tx) => Promise<T>) => storage.transaction(fn)

    async function newAccount(name = 'Acme', createdAt = T): Promise<Account> {
      const account: Account = { id: generateId(), name, widgetId: generateId(), createdAt }
      await write((tx) => tx.accounts.insert(account))
      return account
    }

    async function newConversation(accountId: string, visitorId = generateId(32), fields: Partial<Conversation> = {}): Promise<Conversation> {
      const conversation: Conversation = {
        id: generateId(),
        accountId,
        visitorId,
        status: 'open',
        createdAt: T,
        lastActivityAt: T,
        openedAt: T,
        ...fields,
      }
      await write(async (tx) => {
        await tx.visitors.insert({ id: visitorId, accountId, createdAt: T })
        await tx.conversations.insert(conversation)
      })
      return conversation
    }

    function agentMessage(c: Conversation, extra: Partial<Message> = {}): Message {
      return {
        id: generateId(),
        accountId: c.accountId,
        conversationId: c.id,
        visitorId: c.visitorId,
        type: 'agent',
        text: 'Hello! How can I help you?',
        isPushed: false,
        isTrigger: false,
        createdAt: T + 1,
        ...extra,
      }
    }

    function agentOf(accountId: string, email: string, extra: Partial<Agent> = {}): Agent {
      return { id: generateId(), accountId, email, name: email.split('@')[0], isDummy: false, createdAt: T, ...extra }
    }

    function onlineEvent(agentId: string): NewEvent {
      return { type: 'agent.online', payload: { agentId, until: T + 150_000 } }
    }

    describe('accounts', () => {
      it('reads an account back by id, by widget id and in the list', async () => {
        const a = await newAccount('First', T)
        const b = await newAccount('Second', T + 1)
        expect(await storage.read.accounts.get(a.id)).toEqual(a)
        expect(await storage.read.accounts.getByWidgetId(b.widgetId)).toEqual(b)
        const ids = (await storage.read.accounts.list()).map((x) => x.id)
        expect(ids.indexOf(a.id)).toBeGreaterThanOrEqual(0)
        expect(ids.indexOf(a.id)).toBeLessThan(ids.indexOf(b.id))
        expect(typeof (await storage.read.accounts.get(a.id))!.createdAt).toBe('number')
      })

      it('answers undefined for an unknown id or widget id', async () => {
        expect(await storage.read.accounts.get(generateId())).toBeUndefined()
        expect(await storage.read.accounts.getByWidgetId(generateId())).toBeUndefined()
      })

      it('refuses a second account with the same widget id', async () => {
        const a = await newAccount()
        await expect(
          write((tx) => tx.accounts.insert({ ...a, id: generateId() })),
        ).rejects.toBeInstanceOf(DuplicateError)
      })
    })

    describe('api keys', () => {
      it('finds a live key by hash without exposing the hash, and lists the account keys', async () => {
        const account = await newAccount()
        const key = { id: generateId(), accountId: account.id, prefix: 'xkeysib-abcdef01', createdAt: T }
        const hash = generateId(64)
        await write((tx) => tx.apiKeys.insert({ ...key, hash }))
        const found = await storage.read.apiKeys.findActiveByHash(hash)
        expect(found).toEqual(key)
        expect(found!.revokedAt).toBeUndefined()
        expectNoNulls(found)
        expect(await storage.read.apiKeys.list(account.id)).toEqual([key])
        expect(await storage.read.apiKeys.findActiveByHash(generateId(64))).toBeUndefined()
      })

      it('revokes a key once, only from its own account', async () => {
        const account = await newAccount()
        const other = await newAccount()
        const key = { id: generateId(), accountId: account.id, prefix: 'xkeysib-0', createdAt: T }
        const hash = generateId(64)
        await write((tx) => tx.apiKeys.insert({ ...key, hash }))

        expect(await write((tx) => tx.apiKeys.revoke(other.id, key.id, T + 5))).toBe(false)
        expect(await storage.read.apiKeys.findActiveByHash(hash)).toEqual(key)
        expect(await storage.read.apiKeys.list(other.id)).toEqual([])

        expect(await write((tx) => tx.apiKeys.revoke(account.id, key.id, T + 10))).toBe(true)
        expect(await write((tx) => tx.apiKeys.revoke(account.id, key.id, T + 20))).toBe(false)
        expect(await storage.read.apiKeys.findActiveByHash(hash)).toBeUndefined()
        expect(await storage.read.apiKeys.list(account.id)).toEqual([{ ...key, revokedAt: T + 10 }])
      })

      it('refuses two keys with the same hash', async () => {
        const account = await newAccount()
        const hash = generateId(64)
        const key = { id: generateId(), accountId: account.id, prefix: 'p', createdAt: T, hash }
        await write((tx) => tx.apiKeys.insert(key))
        await expect(write((tx) => tx.apiKeys.insert({ ...key, id: generateId() }))).rejects.toBeInstanceOf(
          DuplicateError,
        )
      })
    })

    describe('agents', () => {
      it('reads agents back by id, by email and in creation order, with absent fields undefined', async () => {
        const account = await newAccount()
        const liz: Agent = {
          id: generateId(),
          accountId: account.id,
          email: 'liz@example.com',
          name: 'Liz',
          userpic: 'https://example.com/liz.png',
          isDummy: false,
          createdAt: T,
        }
        const bot = agentOf(account.id, 'bot@example.com', { name: 'Bot', isDummy: true, createdAt: T + 1 })
        await write(async (tx) => {
          await tx.agents.insert({ ...bot })
          await tx.agents.insert({ ...liz, passwordHash: 'scrypt$salt$hash' })
        })
        expect(await storage.read.agents.get(account.id, liz.id)).toEqual(liz)
        const dummy = await storage.read.agents.get(account.id, bot.id)
        expect(dummy).toEqual(bot)
        expect(dummy!.userpic).toBeUndefined()
        expectNoNulls(dummy)
        expect(await storage.read.agents.getByEmail(account.id, 'bot@example.com')).toEqual(bot)
        expect(await storage.read.agents.list(account.id)).toEqual([liz, bot])
      })

      it('keeps agents inside their account', async () => {
        const account = await newAccount()
        const other = await newAccount()
        const agent = agentOf(account.id, 'a@example.com')
        await write((tx) => tx.agents.insert(agent))
        expect(await storage.read.agents.get(other.id, agent.id)).toBeUndefined()
        expect(await storage.read.agents.getByEmail(other.id, agent.email)).toBeUndefined()
        expect(await storage.read.agents.list(other.id)).toEqual([])
      })

      it('refuses the same email twice in one account but allows it in another', async () => {
        const account = await newAccount()
        const other = await newAccount()
        const agent = agentOf(account.id, 'same@example.com')
        await write((tx) => tx.agents.insert(agent))
        await expect(write((tx) => tx.agents.insert({ ...agent, id: generateId() }))).rejects.toBeInstanceOf(
          DuplicateError,
        )
        await write((tx) => tx.agents.insert({ ...agent, id: generateId(), accountId: other.id }))
        expect(await storage.read.agents.list(account.id)).toEqual([agent])
        expect(await storage.read.agents.list(other.id)).toHaveLength(1)
      })
    })

    describe('groups', () => {
      it('stores groups and their members, inside the account', async () => {
        const account = await newAccount()
        const other = await newAccount()
        const group = { id: generateId(), accountId: account.id, name: 'Sales', createdAt: T }
        const later = { id: generateId(), accountId: account.id, name: 'Support', createdAt: T + 1 }
        const agent = agentOf(account.id, 'g@example.com')
        await write(async (tx) => {
          await tx.groups.insert(later)
          await tx.groups.insert(group)
          await tx.agents.insert(agent)
          await tx.groups.addMember(account.id, group.id, agent.id)
        })
        expect(await storage.read.groups.get(account.id, group.id)).toEqual(group)
        expect(await storage.read.groups.list(account.id)).toEqual([group, later])
        expect(await storage.read.groups.members(account.id, group.id)).toEqual([agent.id])
        expect(await storage.read.groups.members(account.id, later.id)).toEqual([])

        expect(await storage.read.groups.get(other.id, group.id)).toBeUndefined()
        expect(await storage.read.groups.list(other.id)).toEqual([])
        expect(await storage.read.groups.members(other.id, group.id)).toEqual([])
      })

      it('refuses the same member twice', async () => {
        const account = await newAccount()
        const group = { id: generateId(), accountId: account.id, name: 'Sales', createdAt: T }
        const agent = agentOf(account.id, 'm@example.com')
        await write(async (tx) => {
          await tx.groups.insert(group)
          await tx.agents.insert(agent)
          await tx.groups.addMember(account.id, group.id, agent.id)
        })
        await expect(write((tx) => tx.groups.addMember(account.id, group.id, agent.id))).rejects.toBeInstanceOf(
          DuplicateError,
        )
      })
    })

    describe('visitors', () => {
      it('stores a visitor, sets and clears its group, inside the account', async () => {
        const account = await newAccount()
        const other = await newAccount()
        const visitor = { id: generateId(32), accountId: account.id, createdAt: T }
        await write((tx) => tx.visitors.insert(visitor))
        const read = await storage.read.visitors.get(account.id, visitor.id)
        expect(read).toEqual(visitor)
        expect(read!.groupId).toBeUndefined()
        expectNoNulls(read)

        await write((tx) => tx.visitors.setGroup(account.id, visitor.id, 'group-1'))
        expect(await storage.read.visitors.get(account.id, visitor.id)).toEqual({ ...visitor, groupId: 'group-1' })
        await write((tx) => tx.visitors.setGroup(other.id, visitor.id, 'group-2'))
        expect((await storage.read.visitors.get(account.id, visitor.id))!.groupId).toBe('group-1')
        await write((tx) => tx.visitors.setGroup(account.id, visitor.id, undefined))
        const cleared = await storage.read.visitors.get(account.id, visitor.id)
        expect(cleared!.groupId).toBeUndefined()
        expectNoNulls(cleared)

        expect(await storage.read.visitors.get(other.id, visitor.id)).toBeUndefined()
      })

      it('refuses the same visitor id twice in one account but allows it in another', async () => {
        const account = await newAccount()
        const other = await newAccount()
        const visitor = { id: 'user-42', accountId: account.id, groupId: 'g', createdAt: T }
        await write((tx) => tx.visitors.insert(visitor))
        await expect(write((tx) => tx.visitors.insert(visitor))).rejects.toBeInstanceOf(DuplicateError)
        await write((tx) => tx.visitors.insert({ ...visitor, accountId: other.id }))
        expect(await storage.read.visitors.get(other.id, 'user-42')).toEqual({ ...visitor, accountId: other.id })
      })
    })

    describe('conversations', () => {
      it('finds the conversation by visitor and by id, and touches it, inside the account', async () => {
        const account = await newAccount()
        const other = await newAccount()
        const visitorId = generateId(32)
        const conversation: Conversation = {
          id: generateId(),
          accountId: account.id,
          visitorId,
          status: 'closed',
          startPage: { link: 'https://shop.example/cart', title: 'Cart' },
          createdAt: T,
          lastActivityAt: T,
          openedAt: T + 1,
          startedAt: T + 2,
        }
        await write(async (tx) => {
          await tx.visitors.insert({ id: visitorId, accountId: account.id, createdAt: T })
          await tx.conversations.insert(conversation)
        })
        expect(await storage.read.conversations.getByVisitor(account.id, visitorId)).toEqual(conversation)
        expect(await storage.read.conversations.get(account.id, conversation.id)).toEqual(conversation)
        expect(await storage.read.conversations.getByVisitor(other.id, visitorId)).toBeUndefined()
        expect(await storage.read.conversations.get(other.id, conversation.id)).toBeUndefined()

        expect(await write((tx) => tx.conversations.touchByVisitor(other.id, visitorId, T + 99))).toBeUndefined()
        expect(await storage.read.conversations.getByVisitor(account.id, visitorId)).toEqual(conversation)

        // The touch answers with the conversation as it now is; it leaves the status alone. The
        // stored activity is rewritten only once it is ACTIVITY_RESOLUTION_MS stale, and reads
        // take the latest message's time where that is later.
        const touched = await write((tx) => tx.conversations.touchByVisitor(account.id, visitorId, T + 100))
        expect(touched).toEqual({ ...conversation, lastActivityAt: T + 100 })
        expect(await storage.read.conversations.get(account.id, conversation.id)).toEqual(conversation)
        await write((tx) => tx.messages.insert(agentMessage(conversation, { createdAt: T + 100 })))
        expect(await storage.read.conversations.get(account.id, conversation.id)).toEqual(touched)
        expect(await storage.read.conversations.getByVisitor(account.id, visitorId)).toEqual(touched)

        const later = T + ACTIVITY_RESOLUTION_MS
        expect(await write((tx) => tx.conversations.touchByVisitor(account.id, visitorId, later))).toEqual({
          ...conversation,
          lastActivityAt: later,
        })
        expect(await storage.read.conversations.get(account.id, conversation.id)).toEqual({ ...conversation, lastActivityAt: later })
        // A clock behind the stored activity never moves it back.
        expect(await write((tx) => tx.conversations.touchByVisitor(account.id, visitorId, T))).toEqual({
          ...conversation,
          lastActivityAt: later,
        })
      })

      it('updates only the named fields, and null clears startedAt', async () => {
        const account = await newAccount()
        const c = await newConversation(account.id)
        expect(c.startedAt).toBeUndefined()
        expectNoNulls(await storage.read.conversations.get(account.id, c.id))
        await write((tx) => tx.conversations.update(account.id, c.id, { startedAt: T + 5, startPage: { link: 'https://a.example/', title: 'A' } }))
        expect(await storage.read.conversations.get(account.id, c.id)).toEqual({
          ...c,
          startedAt: T + 5,
          startPage: { link: 'https://a.example/', title: 'A' },
        })
        await write((tx) => tx.conversations.update(account.id, c.id, { status: 'closed', openedAt: T + 9, startedAt: null }))
        const cleared = await storage.read.conversations.get(account.id, c.id)
        expect(cleared).toEqual({ ...c, status: 'closed', openedAt: T + 9, startPage: { link: 'https://a.example/', title: 'A' } })
        expectNoNulls(cleared)
        const other = await newAccount()
        await write((tx) => tx.conversations.update(other.id, c.id, { status: 'open' }))
        expect((await storage.read.conversations.get(account.id, c.id))!.status).toBe('closed')
      })

      it('closes an open conversation once, and only an idle one when asked to', async () => {
        const account = await newAccount()
        const other = await newAccount()
        const c = await newConversation(account.id)
        await write((tx) => tx.conversations.update(account.id, c.id, { startedAt: T + 1 }))
        expect(await write((tx) => tx.conversations.close(other.id, c.id))).toBeUndefined()
        // Active after T - 1: not idle since then.
        expect(await write((tx) => tx.conversations.close(account.id, c.id, T - 1))).toBeUndefined()
        expect((await storage.read.conversations.get(account.id, c.id))!.status).toBe('open')
        const closed = await write((tx) => tx.conversations.close(account.id, c.id, T))
        expect(closed).toEqual({ ...c, status: 'closed', startedAt: T + 1 })
        expect(await write((tx) => tx.conversations.close(account.id, c.id))).toBeUndefined()
        expect(await storage.read.conversations.get(account.id, c.id)).toEqual(closed)
      })

      it('judges idleness by the messages, not only the stored activity, which may lag them', async () => {
        const account = await newAccount()
        const c = await newConversation(account.id)
        await write((tx) => tx.messages.insert(agentMessage(c, { createdAt: T + 10 })))
        expect(await write((tx) => tx.conversations.close(account.id, c.id, T + 9))).toBeUndefined()
        expect(await write((tx) => tx.conversations.close(account.id, c.id, T + 10))).toEqual({
          ...c,
          status: 'closed',
          lastActivityAt: T + 10,
        })
      })

      it('lists open conversations idle since a time, of every account, longest idle first', async () => {
        // Times far below every other test's, so the listing holds only these among the old ones.
        const a = await newAccount()
        const b = await newAccount()
        const make = async (accountId: string, lastActivityAt: number, status: 'open' | 'closed' = 'open') =>
          (await newConversation(accountId, undefined, { lastActivityAt, status })).id
        const second = await make(a.id, 2000)
        const first = await make(b.id, 1000)
        await make(a.id, 1500, 'closed')
        await make(b.id, 3000)
        // Stored as idle, but a message came after `before`: the stored activity lagged it.
        const lagging = await newConversation(a.id, undefined, { lastActivityAt: 1200 })
        await write((tx) => tx.messages.insert(agentMessage(lagging, { createdAt: 2001 })))
        const idle = await storage.read.conversations.listIdle(2000, 100)
        expect(idle.filter((c) => [first, second].includes(c.id))).toEqual([
          { accountId: b.id, id: first },
          { accountId: a.id, id: second },
        ])
        expect(idle).toHaveLength(2)
        expect(await storage.read.conversations.listIdle(2000, 1)).toEqual([{ accountId: b.id, id: first }])
      })

      it('refuses a second conversation for the same visitor', async () => {
        const account = await newAccount()
        const c = await newConversation(account.id)
        await expect(write((tx) => tx.conversations.insert({ ...c, id: generateId() }))).rejects.toBeInstanceOf(
          DuplicateError,
        )
      })
    })

    describe('messages', () => {
      it('reads back a message with every field, and one with none of the optional ones', async () => {
        const account = await newAccount()
        const c = await newConversation(account.id)
        const full = agentMessage(c, {
          agentId: generateId(),
          agentName: 'Liz',
          agentUserpic: 'https://example.com/liz.png',
          groupId: generateId(),
          isPushed: true,
          isTrigger: true,
          receivedFrom: 'SuperAwesomeHelpdesk',
          file: {
            name: 'cat.png',
            link: 'https://example.com/cat.png',
            mimeType: 'image/png',
            size: 1234,
            isImage: true,
            imageInfo: { width: 640, height: 480, previewLink: 'https://example.com/cat-small.png' },
          },
          editedAt: T + 2,
          deletedAt: T + 3,
        })
        const bare: Message = { ...agentMessage(c), type: 'visitor', text: 'Hi' }
        await write(async (tx) => {
          await tx.messages.insert(full)
          await tx.messages.insert(bare)
        })
        expect(await storage.read.messages.get(account.id, full.id)).toEqual(full)
        const read = await storage.read.messages.get(account.id, bare.id)
        expect(read).toEqual(bare)
        const optional = ['agentId', 'agentName', 'agentUserpic', 'groupId', 'receivedFrom', 'file', 'editedAt', 'deletedAt'] as const
        for (const field of optional) expect(read![field], field).toBeUndefined()
        expectNoNulls(read)
        expect(typeof read!.createdAt).toBe('number')
      })

      it('edits and deletes only the named fields, keeping deleted messages readable', async () => {
        const account = await newAccount()
        const c = await newConversation(account.id)
        const m = agentMessage(c, { agentName: 'Liz', receivedFrom: 'crm' })
        await write((tx) => tx.messages.insert(m))
        await write((tx) => tx.messages.update(account.id, m.id, { text: 'Edited', editedAt: T + 10 }))
        expect(await storage.read.messages.get(account.id, m.id)).toEqual({ ...m, text: 'Edited', editedAt: T + 10 })
        await write((tx) => tx.messages.update(account.id, m.id, { deletedAt: T + 20 }))
        expect(await storage.read.messages.get(account.id, m.id)).toEqual({
          ...m,
          text: 'Edited',
          editedAt: T + 10,
          deletedAt: T + 20,
        })
      })

      it('keeps messages inside their account: get, update and count', async () => {
        const account = await newAccount()
        const other = await newAccount()
        const c = await newConversation(account.id)
        const m = agentMessage(c)
        await write(async (tx) => {
          await tx.messages.insert(m)
          await tx.messages.insert(agentMessage(c))
        })
        expect(await storage.read.messages.get(other.id, m.id)).toBeUndefined()
        await write((tx) => tx.messages.update(other.id, m.id, { text: 'hijacked', deletedAt: T + 1 }))
        expect(await storage.read.messages.get(account.id, m.id)).toEqual(m)
        expect(await storage.read.messages.count(account.id)).toBe(2)
        expect(await storage.read.messages.count(other.id)).toBe(0)
      })

      it('refuses a second message with the same id', async () => {
        const account = await newAccount()
        const c = await newConversation(account.id)
        const m = agentMessage(c)
        await write((tx) => tx.messages.insert(m))
        await expect(write((tx) => tx.messages.insert({ ...m, text: 'again' }))).rejects.toBeInstanceOf(DuplicateError)
      })

      it('lists the live messages of a conversation since a time, oldest first, the latest `limit`', async () => {
        const account = await newAccount()
        const c = await newConversation(account.id)
        const other = await newConversation(account.id)
        const at = (n: number, extra: Partial<Message> = {}) => agentMessage(c, { createdAt: T + n, text: `m${n}`, ...extra })
        await write(async (tx) => {
          for (const m of [at(1), at(2), at(3, { deletedAt: T + 4 }), at(4), at(5)]) await tx.messages.insert(m)
          await tx.messages.insert(agentMessage(other, { createdAt: T + 3 }))
        })
        const texts = async (since: number, limit: number) =>
          (await storage.read.messages.listLiveSince(account.id, c.id, since, limit)).map((m) => m.text)
        expect(await texts(T + 2, 100)).toEqual(['m2', 'm4', 'm5'])
        expect(await texts(T + 2, 2)).toEqual(['m4', 'm5'])
        expect(await texts(T + 6, 100)).toEqual([])
        expect(await storage.read.messages.listLiveSince((await newAccount()).id, c.id, 0, 100)).toEqual([])
      })
    })

    describe('events', () => {
      it('numbers events per account from 1, independently between accounts', async () => {
        const a = await newAccount()
        const b = await newAccount()
        const seqs = async (accountId: string) =>
          (await write((tx) => tx.events.append(accountId, onlineEvent('x'), T))).seq
        expect(await seqs(a.id)).toBe(1)
        expect(await seqs(a.id)).toBe(2)
        expect(await seqs(b.id)).toBe(1)
        expect(await seqs(a.id)).toBe(3)
        expect(await seqs(b.id)).toBe(2)
      })

      it('returns the stored event from append and the same from listAfter', async () => {
        const account = await newAccount()
        const c = await newConversation(account.id)
        const message = agentMessage(c, { agentName: 'Liz' })
        const created = await write((tx) =>
          tx.events.append(account.id, { type: 'message.created', conversationId: c.id, payload: { message } }, T + 7),
        )
        const online = await write((tx) => tx.events.append(account.id, onlineEvent('agent-1'), T + 8))
        expect(created).toEqual({
          type: 'message.created',
          conversationId: c.id,
          payload: { message },
          accountId: account.id,
          seq: 1,
          createdAt: T + 7,
        })
        const listed = await storage.read.events.listAfter(account.id, 0, 100)
        expect(listed).toEqual([created, online])
        expect(listed[1].conversationId).toBeUndefined()
        expectNoNulls(listed)
        expect(typeof listed[0].seq).toBe('number')
        expect(typeof listed[0].createdAt).toBe('number')
      })

      it('pages through events in order and keeps them inside the account', async () => {
        const account = await newAccount()
        const other = await newAccount()
        for (let i = 0; i < 5; i++) await write((tx) => tx.events.append(account.id, onlineEvent(`agent-${i}`), T + i))
        const page = async (after: number) =>
          (await storage.read.events.listAfter(account.id, after, 2)).map((e) => e.seq)
        expect(await page(0)).toEqual([1, 2])
        expect(await page(2)).toEqual([3, 4])
        expect(await page(4)).toEqual([5])
        expect(await page(5)).toEqual([])
        const all = await storage.read.events.listAfter(account.id, 0, 10)
        expect(all.map((e) => (e.payload as { agentId: string }).agentId)).toEqual([
          'agent-0',
          'agent-1',
          'agent-2',
          'agent-3',
          'agent-4',
        ])
        expect(await storage.read.events.listAfter(other.id, 0, 10)).toEqual([])
      })
    })

    describeWebhookStorage(() => storage, () => newAccount())

    describe('idempotency keys', () => {
      const record = (accountId: string, extra: Partial<IdempotencyRecord> = {}): IdempotencyRecord => ({
        accountId,
        key: 'key-1',
        scope: 'POST /conversations/messages',
        requestHash: 'hash-1',
        response: '{"id":"m1"}',
        createdAt: T,
        ...extra,
      })

      it('reads a key back by account, scope and key', async () => {
        const account = await newAccount()
        const other = await newAccount()
        const r = record(account.id)
        await write((tx) => tx.idempotency.put(r, false))
        expect(await storage.read.idempotency.get(account.id, r.scope, r.key)).toEqual(r)
        expect(await storage.read.idempotency.get(other.id, r.scope, r.key)).toBeUndefined()
        expect(await storage.read.idempotency.get(account.id, 'another scope', r.key)).toBeUndefined()
        expect(await storage.read.idempotency.get(account.id, r.scope, 'key-2')).toBeUndefined()
      })

      it('refuses the same key twice unless asked to replace it', async () => {
        const account = await newAccount()
        const r = record(account.id)
        await write((tx) => tx.idempotency.put(r, false))
        await expect(write((tx) => tx.idempotency.put({ ...r, requestHash: 'other' }, false))).rejects.toBeInstanceOf(
          DuplicateError,
        )
        expect(await storage.read.idempotency.get(account.id, r.scope, r.key)).toEqual(r)
        const replacement = { ...r, requestHash: 'hash-2', response: '{"id":"m2"}', createdAt: T + 1 }
        await write((tx) => tx.idempotency.put(replacement, true))
        expect(await storage.read.idempotency.get(account.id, r.scope, r.key)).toEqual(replacement)
        // The same key under another scope or account is another key.
        const other = await newAccount()
        await write((tx) => tx.idempotency.put({ ...r, scope: 'other scope' }, false))
        await write((tx) => tx.idempotency.put({ ...r, accountId: other.id }, false))
        expect(await storage.read.idempotency.get(other.id, r.scope, r.key)).toEqual({ ...r, accountId: other.id })
        expect(await storage.read.idempotency.get(account.id, r.scope, r.key)).toEqual(replacement)
      })

      it('purges keys created before a time and says how many', async () => {
        // Times far below every other test's, so the purge touches only these rows.
        const account = await newAccount()
        await write(async (tx) => {
          await tx.idempotency.put(record(account.id, { key: 'old-1', createdAt: 1000 }), false)
          await tx.idempotency.put(record(account.id, { key: 'old-2', createdAt: 1999 }), false)
          await tx.idempotency.put(record(account.id, { key: 'edge', createdAt: 2000 }), false)
        })
        expect(await write((tx) => tx.idempotency.purgeBefore(2000))).toBe(2)
        expect(await storage.read.idempotency.get(account.id, record(account.id).scope, 'old-1')).toBeUndefined()
        expect(await storage.read.idempotency.get(account.id, record(account.id).scope, 'edge')).toBeDefined()
        expect(await write((tx) => tx.idempotency.purgeBefore(2000))).toBe(0)
      })
    })

    describe('transactions', () => {
      it('resolves with the value of fn and sees its own writes', async () => {
        const account = await newAccount()
        const agent = agentOf(account.id, 'own@example.com')
        const value = await write(async (tx) => {
          await tx.agents.insert(agent)
          return (await tx.agents.getByEmail(account.id, agent.email))?.id
        })
        expect(value).toBe(agent.id)
      })

      it('commits a non-durable transaction like any other, hooks and all, and rolls it back alike', async () => {
        const account = await newAccount()
        const agent = agentOf(account.id, 'eventual@example.com')
        let hooked = false
        await storage.transaction(
          async (tx) => {
            await tx.agents.insert(agent)
            tx.onCommit(() => (hooked = true))
          },
          { durable: false },
        )
        expect(hooked).toBe(true)
        expect((await storage.read.agents.getByEmail(account.id, agent.email))?.id).toBe(agent.id)

        const other = agentOf(account.id, 'never@example.com')
        const failing = storage.transaction(
          async (tx) => {
            await tx.agents.insert(other)
            throw new Error('changed my mind')
          },
          { durable: false },
        )
        await expect(failing).rejects.toThrow('changed my mind')
        expect(await storage.read.agents.getByEmail(account.id, other.email)).toBeUndefined()
      })

      it('rolls back everything a failing transaction wrote and runs none of its hooks', async () => {
        const account = await newAccount()
        const failing = new Error('boom')
        const newId = generateId()
        const agent = agentOf(account.id, 'gone@example.com')
        let hookRan = false
        await expect(
          write(async (tx) => {
            tx.onCommit(() => (hookRan = true))
            await tx.accounts.insert({ id: newId, name: 'Ghost', widgetId: generateId(), createdAt: T })
            await tx.agents.insert(agent)
            await tx.events.append(account.id, onlineEvent(agent.id), T)
            throw failing
          }),
        ).rejects.toBe(failing)
        expect(hookRan).toBe(false)
        expect(await storage.read.accounts.get(newId)).toBeUndefined()
        expect(await storage.read.agents.get(account.id, agent.id)).toBeUndefined()
        expect(await storage.read.events.listAfter(account.id, 0, 10)).toEqual([])
        // The sequence did not move either: the next event is still number 1.
        expect((await write((tx) => tx.events.append(account.id, onlineEvent('x'), T))).seq).toBe(1)
      })

      it('rolls back a transaction that hit a unique violation', async () => {
        const account = await newAccount()
        const agent = agentOf(account.id, 'dup@example.com')
        await write((tx) => tx.agents.insert(agent))
        const visitorId = generateId(32)
        await expect(
          write(async (tx) => {
            await tx.visitors.insert({ id: visitorId, accountId: account.id, createdAt: T })
            await tx.agents.insert({ ...agent, id: generateId() })
          }),
        ).rejects.toBeInstanceOf(DuplicateError)
        expect(await storage.read.visitors.get(account.id, visitorId)).toBeUndefined()
      })

      it('runs onCommit hooks in order once the transaction has committed', async () => {
        const account = await newAccount()
        const agentId = generateId()
        const calls: string[] = []
        let fnFinished = false
        let seenByHook: Promise<Agent | undefined> | undefined
        await write(async (tx) => {
          tx.onCommit(() => {
            calls.push(fnFinished ? 'first after fn' : 'first during fn')
            seenByHook = storage.read.agents.get(account.id, agentId)
          })
          tx.onCommit(() => calls.push('second'))
          await tx.agents.insert(agentOf(account.id, 'h@example.com', { id: agentId }))
          await new Promise((r) => setTimeout(r, 5))
          fnFinished = true
        })
        expect(calls).toEqual(['first after fn', 'second'])
        expect(await seenByHook).toMatchObject({ id: agentId })
      })

      it('reports a committed transaction as committed even when a hook throws', async () => {
        const account = await newAccount()
        let laterHookRan = false
        const value = await write(async (tx) => {
          tx.onCommit(() => {
            throw new Error('publish failed')
          })
          tx.onCommit(() => (laterHookRan = true))
          return (await tx.events.append(account.id, onlineEvent('x'), T)).seq
        })
        expect(value).toBe(1)
        expect(laterHookRan).toBe(true)
        expect(await storage.read.events.listAfter(account.id, 0, 10)).toHaveLength(1)
      })

      it('commits 200 concurrent transactions, each with its own gapless seq', async () => {
        const account = await newAccount()
        const n = 200
        let hooks = 0
        const results = await Promise.all(
          Array.from({ length: n }, (_, i) =>
            write(async (tx) => {
              await tx.agents.insert(agentOf(account.id, `c${i}@example.com`, { id: `c-${i}` }))
              tx.onCommit(() => hooks++)
              return (await tx.events.append(account.id, onlineEvent(`c-${i}`), T)).seq
            }),
          ),
        )
        expect([...results].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i + 1))
        expect(hooks).toBe(n)
        expect(await storage.read.agents.list(account.id)).toHaveLength(n)
        const events = await storage.read.events.listAfter(account.id, 0, n + 10)
        expect(events.map((e) => e.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1))
        // Each event is the one its own transaction appended.
        const bySeq = new Map(events.map((e) => [e.seq, (e.payload as { agentId: string }).agentId]))
        results.forEach((seq, i) => expect(bySeq.get(seq)).toBe(`c-${i}`))
      })

      it('rolls back only the failing ones among concurrent transactions', async () => {
        const a = await newAccount()
        const b = await newAccount()
        const n = 200
        const fails = (i: number) => i % 3 === 1
        const committedHooks = new Set<number>()
        const outcomes = await Promise.allSettled(
          Array.from({ length: n }, (_, i) =>
            write(async (tx) => {
              // Two accounts interleaved: each keeps its own gapless sequence.
              const accountId = i % 2 === 0 ? a.id : b.id
              tx.onCommit(() => committedHooks.add(i))
              await tx.agents.insert(agentOf(accountId, `p${i}@example.com`, { id: `p-${i}` }))
              const { seq } = await tx.events.append(accountId, onlineEvent(`p-${i}`), T)
              if (fails(i)) throw new Error(`unit ${i} fails`)
              return seq
            }),
          ),
        )
        outcomes.forEach((outcome, i) => {
          expect(outcome.status, `unit ${i}`).toBe(fails(i) ? 'rejected' : 'fulfilled')
          if (outcome.status === 'rejected') expect((outcome.reason as Error).message).toBe(`unit ${i} fails`)
        })
        const expectedIds = Array.from({ length: n }, (_, i) => i).filter((i) => !fails(i))
        expect([...committedHooks].sort((x, y) => x - y)).toEqual(expectedIds)

        for (const [account, parity] of [[a, 0], [b, 1]] as const) {
          const kept = expectedIds.filter((i) => i % 2 === parity).map((i) => `p-${i}`)
          expect((await storage.read.agents.list(account.id)).map((x) => x.id).sort()).toEqual([...kept].sort())
          const events = await storage.read.events.listAfter(account.id, 0, n + 10)
          expect(events.map((e) => e.seq)).toEqual(kept.map((_, k) => k + 1))
          expect(events.map((e) => (e.payload as { agentId: string }).agentId).sort()).toEqual([...kept].sort())
          // The account's position is the last seq kept, not one a rolled-back unit took.
          expect(await storage.read.accounts.lastSeq(account.id)).toBe(kept.length)
        }
      })

      it('lets exactly one of many concurrent inserts of the same key win', async () => {
        const account = await newAccount()
        const outcomes = await Promise.allSettled(
          Array.from({ length: 20 }, () =>
            write((tx) => tx.visitors.insert({ id: 'contested', accountId: account.id, createdAt: T })),
          ),
        )
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1)
        for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(DuplicateError)
      })
    })

    it('answers a ping', async () => {
      await expect(storage.ping()).resolves.toBeUndefined()
    })

    it('migrates again without changing anything', async () => {
      const account = await newAccount()
      await storage.migrate()
      await storage.migrate()
      expect(await storage.read.accounts.get(account.id)).toEqual(account)
      await write((tx) => tx.events.append(account.id, onlineEvent('x'), T))
    })
  })
}
