import type { Kysely, Selectable } from 'kysely'
import type { EventType, NewEvent, StoredEvent } from '../../domain/events.js'
import { DuplicateError } from '../../domain/errors.js'
import type {
  Agent,
  AgentGroup,
  ApiKey,
  Conversation,
  Message,
  MessageFile,
  MessageType,
  Visitor,
  WidgetSettings,
} from '../../domain/model.js'
import type { Repos } from '../../ports/storage.js'
import { createPreparedQueries, type RunPrepared } from './prepared.js'
import type {
  AccountTable,
  ApiKeyTable,
  AgentTable,
  ConversationTable,
  Database,
  EventTable,
  MessageTable,
  VisitorTable,
} from './schema.js'

/** Recognises a unique-constraint violation from better-sqlite3 or pg. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
}

async function insertOrDuplicate(run: () => Promise<unknown>): Promise<void> {
  try {
    await run()
  } catch (err) {
    if (isUniqueViolation(err)) throw new DuplicateError(String((err as Error).message))
    throw err
  }
}

// Column values come back as null; the domain uses undefined for "absent".
function opt<T>(value: T | null): T | undefined {
  return value === null ? undefined : value
}

function json<T>(value: string | null): T | undefined {
  return value === null ? undefined : (JSON.parse(value) as T)
}

function toJson(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value)
}

function toVisitor(row: Selectable<VisitorTable>): Visitor {
  return {
    id: row.id,
    accountId: row.account_id,
    groupId: opt(row.group_id),
    attributes: json(row.attributes),
    browser: json(row.browser),
    lastPage: json(row.last_page),
    createdAt: Number(row.created_at),
  }
}

function toConversation(row: Selectable<ConversationTable>): Conversation {
  return {
    id: row.id,
    accountId: row.account_id,
    visitorId: row.visitor_id,
    status: row.status as 'open' | 'closed',
    startPage: json(row.start_page),
    createdAt: Number(row.created_at),
    lastActivityAt: Number(row.last_activity_at),
  }
}

function toWidgetSettings(row: Pick<Selectable<AccountTable>, 'token_secret' | 'identity_secret' | 'verified_binding' | 'allowed_origins'>): WidgetSettings {
  return {
    tokenSecret: row.token_secret ?? '',
    identitySecret: row.identity_secret ?? '',
    verifiedBinding: Number(row.verified_binding) === 1,
    allowedOrigins: JSON.parse(row.allowed_origins) as string[],
  }
}

function toEvent(r: Selectable<EventTable>): StoredEvent {
  return {
    accountId: r.account_id,
    seq: Number(r.seq),
    type: r.type as EventType,
    conversationId: opt(r.conversation_id),
    payload: JSON.parse(r.payload),
    createdAt: Number(r.created_at),
  } as StoredEvent
}

function toApiKey(row: Selectable<ApiKeyTable>): ApiKey {
  return {
    id: row.id,
    accountId: row.account_id,
    prefix: row.prefix,
    createdAt: Number(row.created_at),
    revokedAt: row.revoked_at === null ? undefined : Number(row.revoked_at),
  }
}

function toAgent(row: Selectable<AgentTable>): Agent {
  return {
    id: row.id,
    accountId: row.account_id,
    email: row.email,
    name: row.name,
    userpic: opt(row.userpic),
    isDummy: row.is_dummy === 1,
    createdAt: Number(row.created_at),
  }
}

function toMessage(row: Selectable<MessageTable>): Message {
  return {
    id: row.id,
    accountId: row.account_id,
    conversationId: row.conversation_id,
    visitorId: row.visitor_id,
    type: row.type as MessageType,
    text: row.text,
    agentId: opt(row.agent_id),
    agentName: opt(row.agent_name),
    agentUserpic: opt(row.agent_userpic),
    groupId: opt(row.group_id),
    isPushed: row.is_pushed === 1,
    isTrigger: row.is_trigger === 1,
    receivedFrom: opt(row.received_from),
    file: row.file === null ? undefined : (JSON.parse(row.file) as MessageFile),
    createdAt: Number(row.created_at),
    editedAt: row.edited_at === null ? undefined : Number(row.edited_at),
    deletedAt: row.deleted_at === null ? undefined : Number(row.deleted_at),
  }
}

function fromMessage(m: Message): MessageTable {
  return {
    id: m.id,
    account_id: m.accountId,
    conversation_id: m.conversationId,
    visitor_id: m.visitorId,
    type: m.type,
    text: m.text,
    agent_id: m.agentId ?? null,
    agent_name: m.agentName ?? null,
    agent_userpic: m.agentUserpic ?? null,
    group_id: m.groupId ?? null,
    is_pushed: m.isPushed ? 1 : 0,
    is_trigger: m.isTrigger ? 1 : 0,
    received_from: m.receivedFrom ?? null,
    file: m.file ? JSON.stringify(m.file) : null,
    created_at: m.createdAt,
    edited_at: m.editedAt ?? null,
    deleted_at: m.deletedAt ?? null,
  }
}

/**
 * The one Kysely implementation of the repositories, for SQLite and PostgreSQL alike. `prepared`
 * is the storage's cache of compiled hot-path queries (see prepared.ts).
 */
export function createRepos(db: Kysely<Database>, prepared: RunPrepared = createPreparedQueries()): Repos {
  return {
    accounts: {
      async insert(a) {
        await insertOrDuplicate(() =>
          db
            .insertInto('account')
            .values({
              id: a.id,
              name: a.name,
              widget_id: a.widgetId,
              last_seq: 0,
              verified_binding: 0,
              allowed_origins: '[]',
              created_at: a.createdAt,
            })
            .execute(),
        )
      },
      async get(id) {
        const row = await db.selectFrom('account').selectAll().where('id', '=', id).executeTakeFirst()
        return row && { id: row.id, name: row.name, widgetId: row.widget_id, createdAt: Number(row.created_at) }
      },
      async getByWidgetId(widgetId) {
        const row = await db.selectFrom('account').selectAll().where('widget_id', '=', widgetId).executeTakeFirst()
        return row && { id: row.id, name: row.name, widgetId: row.widget_id, createdAt: Number(row.created_at) }
      },
      async list() {
        const rows = await db.selectFrom('account').selectAll().orderBy('created_at').orderBy('id').execute()
        return rows.map((row) => ({
          id: row.id,
          name: row.name,
          widgetId: row.widget_id,
          createdAt: Number(row.created_at),
        }))
      },
      async getWidgetSettings(accountId) {
        const row = await db
          .selectFrom('account')
          .select(['token_secret', 'identity_secret', 'verified_binding', 'allowed_origins'])
          .where('id', '=', accountId)
          .executeTakeFirst()
        return row && toWidgetSettings(row)
      },
      async updateWidgetSettings(accountId, changes) {
        const set: Partial<AccountTable> = {}
        if (changes.tokenSecret !== undefined) set.token_secret = changes.tokenSecret
        if (changes.identitySecret !== undefined) set.identity_secret = changes.identitySecret
        if (changes.verifiedBinding !== undefined) set.verified_binding = changes.verifiedBinding ? 1 : 0
        if (changes.allowedOrigins !== undefined) set.allowed_origins = JSON.stringify(changes.allowedOrigins)
        if (Object.keys(set).length === 0) return
        await db.updateTable('account').set(set).where('id', '=', accountId).execute()
      },
      async lastSeq(accountId) {
        const row = await db.selectFrom('account').select('last_seq').where('id', '=', accountId).executeTakeFirst()
        return row ? Number(row.last_seq) : 0
      },
    },
    apiKeys: {
      async insert(k) {
        await insertOrDuplicate(() =>
          db
            .insertInto('api_key')
            .values({
              id: k.id,
              account_id: k.accountId,
              hash: k.hash,
              prefix: k.prefix,
              created_at: k.createdAt,
              revoked_at: null,
            })
            .execute(),
        )
      },
      async findActiveByHash(hash) {
        const { rows } = await prepared(
          db,
          'apiKeys.findActiveByHash',
          (q, p: { hash: string }) => q.selectFrom('api_key').selectAll().where('hash', '=', p.hash).where('revoked_at', 'is', null),
          { hash },
        )
        return rows[0] && toApiKey(rows[0])
      },
      async list(accountId) {
        const rows = await db
          .selectFrom('api_key')
          .selectAll()
          .where('account_id', '=', accountId)
          .orderBy('created_at')
          .orderBy('id')
          .execute()
        return rows.map(toApiKey)
      },
      async revoke(accountId, id, at) {
        const result = await db
          .updateTable('api_key')
          .set({ revoked_at: at })
          .where('account_id', '=', accountId)
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst()
        return Number(result.numUpdatedRows) > 0
      },
    },
    agents: {
      async insert(a) {
        await insertOrDuplicate(() =>
          db
            .insertInto('agent')
            .values({
              id: a.id,
              account_id: a.accountId,
              email: a.email,
              name: a.name,
              userpic: a.userpic ?? null,
              password_hash: a.passwordHash ?? null,
              is_dummy: a.isDummy ? 1 : 0,
              created_at: a.createdAt,
            })
            .execute(),
        )
      },
      async get(accountId, id) {
        const { rows } = await prepared(
          db,
          'agents.get',
          (q, p: { accountId: string; id: string }) =>
            q.selectFrom('agent').selectAll().where('account_id', '=', p.accountId).where('id', '=', p.id),
          { accountId, id },
        )
        return rows[0] && toAgent(rows[0])
      },
      async getByEmail(accountId, email) {
        const row = await db
          .selectFrom('agent')
          .selectAll()
          .where('account_id', '=', accountId)
          .where('email', '=', email)
          .executeTakeFirst()
        return row && toAgent(row)
      },
      async list(accountId) {
        const rows = await db
          .selectFrom('agent')
          .selectAll()
          .where('account_id', '=', accountId)
          .orderBy('created_at')
          .orderBy('id')
          .execute()
        return rows.map(toAgent)
      },
    },
    groups: {
      async insert(g) {
        await insertOrDuplicate(() =>
          db
            .insertInto('agent_group')
            .values({ id: g.id, account_id: g.accountId, name: g.name, created_at: g.createdAt })
            .execute(),
        )
      },
      async get(accountId, id) {
        const row = await db
          .selectFrom('agent_group')
          .selectAll()
          .where('account_id', '=', accountId)
          .where('id', '=', id)
          .executeTakeFirst()
        return row && toGroup(row)
      },
      async list(accountId) {
        const rows = await db
          .selectFrom('agent_group')
          .selectAll()
          .where('account_id', '=', accountId)
          .orderBy('created_at')
          .orderBy('id')
          .execute()
        return rows.map(toGroup)
      },
      async addMember(accountId, groupId, agentId) {
        await insertOrDuplicate(() =>
          db
            .insertInto('group_member')
            .values({ account_id: accountId, group_id: groupId, agent_id: agentId })
            .execute(),
        )
      },
      async members(accountId, groupId) {
        const rows = await db
          .selectFrom('group_member')
          .select('agent_id')
          .where('account_id', '=', accountId)
          .where('group_id', '=', groupId)
          .orderBy('agent_id')
          .execute()
        return rows.map((r) => r.agent_id)
      },
    },
    visitors: {
      async insert(v) {
        await insertOrDuplicate(() =>
          db
            .insertInto('visitor')
            .values({ account_id: v.accountId, id: v.id, group_id: v.groupId ?? null, created_at: v.createdAt })
            .execute(),
        )
      },
      async get(accountId, id) {
        const row = await db
          .selectFrom('visitor')
          .selectAll()
          .where('account_id', '=', accountId)
          .where('id', '=', id)
          .executeTakeFirst()
        return row && toVisitor(row)
      },
      async setGroup(accountId, id, groupId) {
        await db
          .updateTable('visitor')
          .set({ group_id: groupId ?? null })
          .where('account_id', '=', accountId)
          .where('id', '=', id)
          .execute()
      },
      async update(accountId, id, changes) {
        const set: Partial<VisitorTable> = {}
        if (changes.attributes !== undefined) set.attributes = toJson(changes.attributes)
        if (changes.browser !== undefined) set.browser = toJson(changes.browser)
        if (changes.lastPage !== undefined) set.last_page = toJson(changes.lastPage)
        if (Object.keys(set).length === 0) return
        await db.updateTable('visitor').set(set).where('account_id', '=', accountId).where('id', '=', id).execute()
      },
    },
    conversations: {
      async insert(c) {
        await insertOrDuplicate(() =>
          db
            .insertInto('conversation')
            .values({
              id: c.id,
              account_id: c.accountId,
              visitor_id: c.visitorId,
              status: c.status,
              start_page: toJson(c.startPage),
              created_at: c.createdAt,
              last_activity_at: c.lastActivityAt,
            })
            .execute(),
        )
      },
      async getByVisitor(accountId, visitorId) {
        const { rows } = await prepared(
          db,
          'conversations.getByVisitor',
          (q, p: { accountId: string; visitorId: string }) =>
            q.selectFrom('conversation').selectAll().where('account_id', '=', p.accountId).where('visitor_id', '=', p.visitorId),
          { accountId, visitorId },
        )
        return rows[0] && toConversation(rows[0])
      },
      async touch(accountId, id, at) {
        await prepared(
          db,
          'conversations.touch',
          (q, p: { accountId: string; id: string; at: number }) =>
            q
              .updateTable('conversation')
              .set({ last_activity_at: p.at, status: 'open' })
              .where('account_id', '=', p.accountId)
              .where('id', '=', p.id),
          { accountId, id, at },
        )
      },
    },
    messages: {
      async insert(m) {
        const row = fromMessage(m)
        await insertOrDuplicate(() =>
          prepared(db, 'messages.insert', (q, p: MessageTable) => q.insertInto('message').values({ ...p }), row),
        )
      },
      async get(accountId, id) {
        const { rows } = await prepared(
          db,
          'messages.get',
          (q, p: { accountId: string; id: string }) =>
            q.selectFrom('message').selectAll().where('id', '=', p.id).where('account_id', '=', p.accountId),
          { accountId, id },
        )
        return rows[0] && toMessage(rows[0])
      },
      async update(accountId, id, changes) {
        const set: Partial<MessageTable> = {}
        if (changes.text !== undefined) set.text = changes.text
        if (changes.editedAt !== undefined) set.edited_at = changes.editedAt
        if (changes.deletedAt !== undefined) set.deleted_at = changes.deletedAt
        if (Object.keys(set).length === 0) return
        await db.updateTable('message').set(set).where('account_id', '=', accountId).where('id', '=', id).execute()
      },
      async count(accountId) {
        const row = await db
          .selectFrom('message')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('account_id', '=', accountId)
          .executeTakeFirstOrThrow()
        return Number(row.n)
      },
      async listLive(accountId, conversationId, limit) {
        const rows = await db
          .selectFrom('message')
          .selectAll()
          .where('conversation_id', '=', conversationId)
          .where('account_id', '=', accountId)
          .where('deleted_at', 'is', null)
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .limit(limit)
          .execute()
        return rows.reverse().map(toMessage)
      },
    },
    events: {
      async append(accountId, event: NewEvent, at) {
        // The account row is the sequence: the update locks it (PostgreSQL) or runs inside the
        // single writer (SQLite), so seq order is commit order within an account.
        const { rows } = await prepared(
          db,
          'events.nextSeq',
          (q, p: { accountId: string }) =>
            q
              .updateTable('account')
              .set((eb) => ({ last_seq: eb('last_seq', '+', 1) }))
              .where('id', '=', p.accountId)
              .returning('last_seq'),
          { accountId },
        )
        if (!rows[0]) throw new Error(`no account ${accountId}`)
        const seq = Number(rows[0].last_seq)
        const row = {
          account_id: accountId,
          seq,
          conversation_id: event.conversationId ?? null,
          type: event.type,
          payload: JSON.stringify(event.payload),
          created_at: at,
        }
        await prepared(db, 'events.insert', (q, p: typeof row) => q.insertInto('event').values({ ...p }), row)
        return { ...event, accountId, seq, createdAt: at } as StoredEvent
      },
      async listAfter(accountId, afterSeq, limit) {
        const rows = await db
          .selectFrom('event')
          .selectAll()
          .where('account_id', '=', accountId)
          .where('seq', '>', afterSeq)
          .orderBy('seq')
          .limit(limit)
          .execute()
        return rows.map(toEvent)
      },
      async listConversationAfter(accountId, conversationId, afterSeq, limit) {
        const rows = await db
          .selectFrom('event')
          .selectAll()
          .where('account_id', '=', accountId)
          .where('conversation_id', '=', conversationId)
          .where('seq', '>', afterSeq)
          .orderBy('seq')
          .limit(limit)
          .execute()
        return rows.map(toEvent)
      },
    },
    idempotency: {
      async get(accountId, scope, key) {
        const row = await db
          .selectFrom('idempotency_key')
          .selectAll()
          .where('account_id', '=', accountId)
          .where('scope', '=', scope)
          .where('key', '=', key)
          .executeTakeFirst()
        return (
          row && {
            accountId: row.account_id,
            scope: row.scope,
            key: row.key,
            requestHash: row.request_hash,
            response: row.response,
            createdAt: Number(row.created_at),
          }
        )
      },
      async put(r, replace) {
        if (replace) {
          await db
            .deleteFrom('idempotency_key')
            .where('account_id', '=', r.accountId)
            .where('scope', '=', r.scope)
            .where('key', '=', r.key)
            .execute()
        }
        await insertOrDuplicate(() =>
          db
            .insertInto('idempotency_key')
            .values({
              account_id: r.accountId,
              scope: r.scope,
              key: r.key,
              request_hash: r.requestHash,
              response: r.response,
              created_at: r.createdAt,
            })
            .execute(),
        )
      },
      async purgeBefore(at) {
        const result = await db.deleteFrom('idempotency_key').where('created_at', '<', at).executeTakeFirst()
        return Number(result.numDeletedRows)
      },
    },
  }
}

function toGroup(row: { id: string; account_id: string; name: string; created_at: number }): AgentGroup {
  return { id: row.id, accountId: row.account_id, name: row.name, createdAt: Number(row.created_at) }
}
