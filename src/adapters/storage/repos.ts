import { PostgresAdapter, sql, type ExpressionBuilder, type Insertable, type Kysely, type RawBuilder, type Selectable } from 'kysely'
import type { EventType, NewEvent, StoredEvent } from '../../domain/events.js'
import { DuplicateError } from '../../domain/errors.js'
import {
  ACTIVITY_RESOLUTION_MS,
  type Agent,
  type AgentGroup,
  type ApiKey,
  type Complete,
  type Conversation,
  type Message,
  type MessageFile,
  type MessageType,
  type Visitor,
  type WidgetSettings,
} from '../../domain/model.js'
import {
  BREVO_WEBHOOK_EVENTS,
  type DeliveryStatus,
  type StoredWebhookEndpoint,
  type WebhookAttempt,
  type WebhookDelivery,
  type WebhookEventName,
} from '../../domain/webhooks.js'
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
  WebhookDeliveryTable,
  WebhookEndpointTable,
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

/**
 * A LIMIT written into the SQL text rather than bound. SQLite's planner reads a bound LIMIT's value
 * when it compiles the statement, and so marks the statement stale whenever that parameter is bound
 * again: every run of a `LIMIT ?` statement compiled it anew (on the webhook claim, a complex
 * statement run ~150 times a second in a drain, 4-5% of the process's CPU). Each distinct limit is
 * its own SQL text, and so its own cached statement; callers use a handful.
 */
function limitOf(n: number): RawBuilder<number> {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`a LIMIT must be a whole number ≥ 0, got ${n}`)
  return sql.lit(n)
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

/** A conversation row, with its latest message's time where the query selected it (`latestMessageAt`). */
type ConversationRow = Selectable<ConversationTable> & { latest_message_at?: number | string | null }

function toConversation(row: ConversationRow): Conversation {
  return {
    id: row.id,
    accountId: row.account_id,
    visitorId: row.visitor_id,
    status: row.status as 'open' | 'closed',
    startPage: json(row.start_page),
    createdAt: Number(row.created_at),
    lastActivityAt: Math.max(Number(row.last_activity_at), Number(row.latest_message_at ?? 0)),
    openedAt: Number(row.opened_at),
    startedAt: row.started_at === null ? undefined : Number(row.started_at),
  }
}

/**
 * The time of the conversation's latest message, selected beside its row: the stored
 * `last_activity_at` lags it by up to ACTIVITY_RESOLUTION_MS (domain/model.ts).
 */
function latestMessageAt(eb: ExpressionBuilder<Database, 'conversation'>) {
  return eb
    .selectFrom('message')
    .select((m) => m.fn.max('message.created_at').as('at'))
    .whereRef('message.conversation_id', '=', 'conversation.id')
    .as('latest_message_at')
}

/**
 * No activity after `before`: the stored activity (which the idle index serves) is that old, and
 * no message was written since, the exact test the stored activity alone cannot give.
 */
function idleSince(eb: ExpressionBuilder<Database, 'conversation'>, before: number) {
  return eb.and([
    eb('last_activity_at', '<=', before),
    eb.not(
      eb.exists(
        eb
          .selectFrom('message')
          .select(eb.lit(1).as('one'))
          .whereRef('message.conversation_id', '=', 'conversation.id')
          .where('message.created_at', '>', before),
      ),
    ),
  ])
}

function toWebhookEndpoint(row: Selectable<WebhookEndpointTable>): StoredWebhookEndpoint {
  return {
    id: row.id,
    accountId: row.account_id,
    url: row.url,
    events: JSON.parse(row.events) as WebhookEventName[],
    description: opt(row.description),
    enabled: Number(row.enabled) === 1,
    disabledReason: opt(row.disabled_reason),
    secret: row.secret,
    previousSecret: opt(row.previous_secret),
    previousSecretExpiresAt: row.previous_secret_expires_at === null ? undefined : Number(row.previous_secret_expires_at),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  }
}

function toWebhookDelivery(row: Selectable<WebhookDeliveryTable>): WebhookDelivery {
  return {
    id: row.id,
    accountId: row.account_id,
    endpointId: row.endpoint_id,
    conversationId: opt(row.conversation_id),
    seq: Number(row.seq),
    event: row.event as WebhookEventName,
    payload: row.payload,
    status: row.status as DeliveryStatus,
    attempts: Number(row.attempts),
    tries: Number(row.tries),
    nextAt: Number(row.next_at),
    leasedUntil: row.leased_until === null ? undefined : Number(row.leased_until),
    lastStatus: row.last_status === null ? undefined : Number(row.last_status),
    lastError: opt(row.last_error),
    createdAt: Number(row.created_at),
    deliveredAt: row.delivered_at === null ? undefined : Number(row.delivered_at),
    attemptLog: JSON.parse(row.attempt_log) as WebhookAttempt[],
  }
}

function affected(result: { numAffectedRows?: bigint; numUpdatedRows?: bigint; numDeletedRows?: bigint }): number {
  return Number(result.numAffectedRows ?? result.numUpdatedRows ?? result.numDeletedRows ?? 0)
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
 * Where `events.append` takes an account's next seq. Without one, the account row is the sequence:
 * one `UPDATE … RETURNING` per event, which locks the row until commit (PostgreSQL) or runs inside
 * the single writer (SQLite), so seq order is commit order within an account. SQLite's group
 * commit hands seqs out for its whole batch instead (see sqlite.ts).
 */
export interface EventSequence {
  next(accountId: string): number
  /** The last seq handed out in this transaction, if any. */
  last(accountId: string): number | undefined
}

/**
 * The one Kysely implementation of the repositories, for SQLite and PostgreSQL alike. `prepared`
 * is the storage's cache of compiled hot-path queries (see prepared.ts); `sequence`, when given,
 * hands out event seqs (see EventSequence).
 */
export function createRepos(db: Kysely<Database>, prepared: RunPrepared = createPreparedQueries(), sequence?: EventSequence): Repos {
  async function nextSeq(accountId: string): Promise<number> {
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
    return Number(rows[0].last_seq)
  }

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
        const handedOut = sequence?.last(accountId)
        if (handedOut !== undefined) return handedOut
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
        // On the path of a message to a visitor Parley has not seen yet: prepared.
        await insertOrDuplicate(() =>
          prepared(
            db,
            'visitors.insert',
            (q, p: { accountId: string; id: string; groupId: string | null; createdAt: number }) =>
              q.insertInto('visitor').values({ account_id: p.accountId, id: p.id, group_id: p.groupId, created_at: p.createdAt }),
            { accountId: v.accountId, id: v.id, groupId: v.groupId ?? null, createdAt: v.createdAt },
          ),
        )
      },
      async get(accountId, id) {
        const { rows } = await prepared(
          db,
          'visitors.get',
          (q, p: { accountId: string; id: string }) =>
            q.selectFrom('visitor').selectAll().where('account_id', '=', p.accountId).where('id', '=', p.id),
          { accountId, id },
        )
        return rows[0] && toVisitor(rows[0])
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
          prepared(
            db,
            'conversations.insert',
            (q, p: Insertable<ConversationTable>) => q.insertInto('conversation').values(p),
            {
              id: c.id,
              account_id: c.accountId,
              visitor_id: c.visitorId,
              status: c.status,
              start_page: toJson(c.startPage),
              created_at: c.createdAt,
              last_activity_at: c.lastActivityAt,
              opened_at: c.openedAt,
              started_at: c.startedAt ?? null,
            },
          ),
        )
      },
      async get(accountId, id) {
        const row = await db
          .selectFrom('conversation')
          .selectAll()
          .select(latestMessageAt)
          .where('account_id', '=', accountId)
          .where('id', '=', id)
          .executeTakeFirst()
        return row && toConversation(row)
      },
      async getByVisitor(accountId, visitorId) {
        const { rows } = await prepared(
          db,
          'conversations.getByVisitor',
          (q, p: { accountId: string; visitorId: string }) =>
            q
              .selectFrom('conversation')
              .selectAll()
              .select(latestMessageAt)
              .where('account_id', '=', p.accountId)
              .where('visitor_id', '=', p.visitorId),
          { accountId, visitorId },
        )
        return rows[0] && toConversation(rows[0])
      },
      async touchByVisitor(accountId, visitorId, at) {
        // On the path of every message: a read, and a write only when the stored activity is stale.
        const { rows } = await prepared(
          db,
          'conversations.lockByVisitor',
          (q, p: { accountId: string; visitorId: string }) =>
            q
              .selectFrom('conversation')
              .selectAll()
              .where('account_id', '=', p.accountId)
              .where('visitor_id', '=', p.visitorId)
              .$if(q.getExecutor().adapter instanceof PostgresAdapter, (sub) => sub.forUpdate()),
          { accountId, visitorId },
        )
        const row = rows[0]
        if (!row) return undefined
        const stored = Number(row.last_activity_at)
        if (at - stored >= ACTIVITY_RESOLUTION_MS) {
          await prepared(
            db,
            'conversations.touch',
            (q, p: { accountId: string; id: string; at: number }) =>
              q.updateTable('conversation').set({ last_activity_at: p.at }).where('account_id', '=', p.accountId).where('id', '=', p.id),
            { accountId, id: row.id, at },
          )
        }
        // The message being written is the latest activity, whatever was stored. (Set, not
        // spread into the row: see `Complete` in domain/model.ts.)
        const conversation = toConversation(row)
        conversation.lastActivityAt = Math.max(conversation.lastActivityAt, at)
        return conversation
      },
      async update(accountId, id, changes) {
        const set: Partial<ConversationTable> = {}
        if (changes.status !== undefined) set.status = changes.status
        if (changes.openedAt !== undefined) set.opened_at = changes.openedAt
        if (changes.startPage !== undefined) set.start_page = toJson(changes.startPage)
        if (changes.startedAt !== undefined) set.started_at = changes.startedAt
        if (Object.keys(set).length === 0) return
        await db.updateTable('conversation').set(set).where('account_id', '=', accountId).where('id', '=', id).execute()
      },
      async close(accountId, id, idleBefore) {
        const row = await db
          .updateTable('conversation')
          .set({ status: 'closed' })
          .where('account_id', '=', accountId)
          .where('id', '=', id)
          .where('status', '=', 'open')
          .$if(idleBefore !== undefined, (q) => q.where((eb) => idleSince(eb, idleBefore!)))
          .returningAll()
          .returning(latestMessageAt)
          .executeTakeFirst()
        return row && toConversation(row)
      },
      async listIdle(before, limit) {
        const rows = await db
          .selectFrom('conversation')
          .select(['account_id', 'id'])
          .where('status', '=', 'open')
          .where((eb) => idleSince(eb, before))
          .orderBy('last_activity_at')
          .limit(limitOf(limit))
          .execute()
        return rows.map((r) => ({ accountId: r.account_id, id: r.id }))
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
          .limit(limitOf(limit))
          .execute()
        return rows.reverse().map(toMessage)
      },
      async listLiveSince(accountId, conversationId, since, limit) {
        const rows = await db
          .selectFrom('message')
          .selectAll()
          .where('conversation_id', '=', conversationId)
          .where('account_id', '=', accountId)
          .where('deleted_at', 'is', null)
          .where('created_at', '>=', since)
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .limit(limitOf(limit))
          .execute()
        return rows.reverse().map(toMessage)
      },
    },
    events: {
      async append(accountId, event: NewEvent, at) {
        const seq = sequence ? sequence.next(accountId) : await nextSeq(accountId)
        const row = {
          account_id: accountId,
          seq,
          conversation_id: event.conversationId ?? null,
          type: event.type,
          payload: JSON.stringify(event.payload),
          created_at: at,
        }
        await prepared(db, 'events.insert', (q, p: typeof row) => q.insertInto('event').values({ ...p }), row)
        // Named, not spread: see `Complete` in domain/model.ts.
        const stored: Complete<StoredEvent> = { type: event.type, conversationId: event.conversationId, payload: event.payload, accountId, seq, createdAt: at }
        return stored as StoredEvent
      },
      async listAfter(accountId, afterSeq, limit) {
        const rows = await db
          .selectFrom('event')
          .selectAll()
          .where('account_id', '=', accountId)
          .where('seq', '>', afterSeq)
          .orderBy('seq')
          .limit(limitOf(limit))
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
          .limit(limitOf(limit))
          .execute()
        return rows.map(toEvent)
      },
    },
    webhookEndpoints: {
      async insert(e) {
        await insertOrDuplicate(() =>
          db
            .insertInto('webhook_endpoint')
            .values({
              id: e.id,
              account_id: e.accountId,
              url: e.url,
              events: JSON.stringify(e.events),
              description: e.description ?? null,
              enabled: e.enabled ? 1 : 0,
              disabled_reason: e.disabledReason ?? null,
              secret: e.secret,
              previous_secret: e.previousSecret ?? null,
              previous_secret_expires_at: e.previousSecretExpiresAt ?? null,
              created_at: e.createdAt,
              updated_at: e.updatedAt,
            })
            .execute(),
        )
      },
      async get(accountId, id) {
        // Once per batch of claimed deliveries: prepared.
        const { rows } = await prepared(
          db,
          'webhookEndpoints.get',
          (q, p: { accountId: string; id: string }) =>
            q.selectFrom('webhook_endpoint').selectAll().where('account_id', '=', p.accountId).where('id', '=', p.id),
          { accountId, id },
        )
        return rows[0] && toWebhookEndpoint(rows[0])
      },
      async list(accountId) {
        const rows = await db
          .selectFrom('webhook_endpoint')
          .selectAll()
          .where('account_id', '=', accountId)
          .orderBy('created_at')
          .orderBy('id')
          .execute()
        return rows.map(toWebhookEndpoint)
      },
      async listEnabled(accountId) {
        // @NOTE On PostgreSQL the rows are locked FOR KEY SHARE (the lock each delivery's foreign
        // key takes anyway, taken earlier): an endpoint deleted concurrently is either gone from
        // this list or waits for this transaction, never deleted between this read and the
        // deliveries inserted for it, which would fail the message with a foreign-key error.
        const { rows } = await prepared(
          db,
          'webhookEndpoints.listEnabled',
          (q, p: { accountId: string }) =>
            q
              .selectFrom('webhook_endpoint')
              .select(['id', 'events'])
              .where('account_id', '=', p.accountId)
              .where('enabled', '=', 1)
              .$if(q.getExecutor().adapter instanceof PostgresAdapter, (sub) => sub.forKeyShare()),
          { accountId },
        )
        return rows.map((r) => ({ id: r.id, events: JSON.parse(r.events) as WebhookEventName[] }))
      },
      async update(accountId, id, changes) {
        const set: Partial<WebhookEndpointTable> = {}
        if (changes.url !== undefined) set.url = changes.url
        if (changes.events !== undefined) set.events = JSON.stringify(changes.events)
        if (changes.enabled !== undefined) set.enabled = changes.enabled ? 1 : 0
        if (changes.secret !== undefined) set.secret = changes.secret
        if (changes.updatedAt !== undefined) set.updated_at = changes.updatedAt
        if (changes.description !== undefined) set.description = changes.description
        if (changes.disabledReason !== undefined) set.disabled_reason = changes.disabledReason
        if (changes.previousSecret !== undefined) set.previous_secret = changes.previousSecret
        if (changes.previousSecretExpiresAt !== undefined) set.previous_secret_expires_at = changes.previousSecretExpiresAt
        // An empty change still answers whether the endpoint exists.
        if (Object.keys(set).length === 0) return (await this.get(accountId, id)) !== undefined
        const result = await db
          .updateTable('webhook_endpoint')
          .set(set)
          .where('account_id', '=', accountId)
          .where('id', '=', id)
          .executeTakeFirst()
        return Number(result.numUpdatedRows) > 0
      },
      async delete(accountId, id) {
        // Attempts and deliveries go with it (ON DELETE CASCADE).
        const result = await db
          .deleteFrom('webhook_endpoint')
          .where('account_id', '=', accountId)
          .where('id', '=', id)
          .executeTakeFirst()
        return Number(result.numDeletedRows) > 0
      },
    },
    webhookDeliveries: {
      async insert(d) {
        const row: WebhookDeliveryTable = {
          id: d.id,
          account_id: d.accountId,
          endpoint_id: d.endpointId,
          conversation_id: d.conversationId ?? null,
          seq: d.seq,
          event: d.event,
          payload: d.payload,
          status: d.status,
          attempts: d.attempts,
          tries: d.tries,
          next_at: d.nextAt,
          leased_until: d.leasedUntil ?? null,
          last_status: d.lastStatus ?? null,
          last_error: d.lastError ?? null,
          created_at: d.createdAt,
          delivered_at: d.deliveredAt ?? null,
          attempt_log: JSON.stringify(d.attemptLog),
        }
        await insertOrDuplicate(() =>
          prepared(db, 'webhookDeliveries.insert', (q, p: WebhookDeliveryTable) => q.insertInto('webhook_delivery').values({ ...p }), row),
        )
      },
      async get(accountId, id) {
        const row = await db
          .selectFrom('webhook_delivery')
          .selectAll()
          .where('account_id', '=', accountId)
          .where('id', '=', id)
          .executeTakeFirst()
        return row && toWebhookDelivery(row)
      },
      async lastPendingOfConversation(accountId, endpointId, conversationId) {
        const { rows } = await prepared(
          db,
          'webhookDeliveries.lastPendingOfConversation',
          (q, p: { accountId: string; endpointId: string; conversationId: string }) =>
            q
              .selectFrom('webhook_delivery')
              .selectAll()
              .where('endpoint_id', '=', p.endpointId)
              .where('conversation_id', '=', p.conversationId)
              .where('status', '=', 'pending')
              .where('account_id', '=', p.accountId)
              .where('event', 'in', [...BREVO_WEBHOOK_EVENTS])
              .orderBy('seq', 'desc')
              .limit(limitOf(1)),
          { accountId, endpointId, conversationId },
        )
        return rows[0] && toWebhookDelivery(rows[0])
      },
      async hasPendingBefore(accountId, endpointId, conversationId, seq) {
        const { rows } = await prepared(
          db,
          'webhookDeliveries.hasPendingBefore',
          (q, p: { accountId: string; endpointId: string; conversationId: string; seq: number }) =>
            q
              .selectFrom('webhook_delivery')
              .select('id')
              .where('endpoint_id', '=', p.endpointId)
              .where('conversation_id', '=', p.conversationId)
              .where('seq', '<', p.seq)
              .where('status', '=', 'pending')
              .where('account_id', '=', p.accountId)
              .limit(limitOf(1)),
          { accountId, endpointId, conversationId, seq },
        )
        return rows.length > 0
      },
      async replaceUnclaimedPayload(accountId, id, payload) {
        const result = await prepared(
          db,
          'webhookDeliveries.replaceUnclaimedPayload',
          (q, p: { accountId: string; id: string; payload: string }) =>
            q
              .updateTable('webhook_delivery')
              .set({ payload: p.payload })
              .where('id', '=', p.id)
              .where('account_id', '=', p.accountId)
              .where('status', '=', 'pending')
              .where('attempts', '=', 0)
              .where('leased_until', 'is', null),
          { accountId, id, payload },
        )
        return affected(result) > 0
      },
      async claimDue(now, leaseUntil, limit) {
        // @NOTE In PostgreSQL several processes claim at once: SKIP LOCKED lets each take rows the
        // others are not taking, and a row another claim just leased fails the re-checked
        // condition. SQLite has one writer, so the statement alone is atomic there. Built once
        // per storage (prepared.ts), and so once per dialect.
        const { rows } = await prepared(
          db,
          `webhookDeliveries.claimDue.${limit}`,
          (q, p: { now: number; leaseUntil: number }) => {
            const due = q
              .selectFrom('webhook_delivery as d')
              .select('d.id')
              .where('d.status', '=', 'pending')
              .where('d.next_at', '<=', p.now)
              .where((eb) => eb.or([eb('d.leased_until', 'is', null), eb('d.leased_until', '<=', p.now)]))
              .where((eb) =>
                eb.exists(
                  eb
                    .selectFrom('webhook_endpoint as e')
                    .select(eb.lit(1).as('one'))
                    .whereRef('e.id', '=', 'd.endpoint_id')
                    .where('e.enabled', '=', 1),
                ),
              )
              .where((eb) =>
                eb.not(
                  eb.exists(
                    eb
                      .selectFrom('webhook_delivery as earlier')
                      .select(eb.lit(1).as('one'))
                      .whereRef('earlier.endpoint_id', '=', 'd.endpoint_id')
                      .whereRef('earlier.conversation_id', '=', 'd.conversation_id')
                      .where('earlier.status', '=', 'pending')
                      .whereRef('earlier.seq', '<', 'd.seq'),
                  ),
                ),
              )
              // Index order alone (status, next_at), so the scan stops at `limit`: sorting by
              // anything more would judge every due row first. Order within a conversation is
              // the NOT EXISTS's.
              .orderBy('d.next_at')
              .limit(limitOf(limit))
              .$if(q.getExecutor().adapter instanceof PostgresAdapter, (sub) => sub.forUpdate().skipLocked())
            return q.updateTable('webhook_delivery').set({ leased_until: p.leaseUntil }).where('id', 'in', due).returningAll()
          },
          { now, leaseUntil },
        )
        return rows.map(toWebhookDelivery)
      },
      async finishAttempt(accountId, id, leasedUntil, o) {
        // Once per attempt: compiled once (prepared.ts).
        const params = {
          accountId,
          id,
          leasedUntil,
          status: o.status,
          tries: o.tries,
          nextAt: o.nextAt,
          lastStatus: o.lastStatus ?? null,
          lastError: o.lastError ?? null,
          deliveredAt: o.deliveredAt ?? null,
          attemptLog: JSON.stringify(o.attemptLog),
        }
        const result = await prepared(
          db,
          'webhookDeliveries.finishAttempt',
          (q, p: typeof params) =>
            q
              .updateTable('webhook_delivery')
              .set((eb) => ({
                status: p.status,
                attempts: eb('attempts', '+', 1),
                tries: p.tries,
                next_at: p.nextAt,
                leased_until: null,
                last_status: p.lastStatus,
                last_error: p.lastError,
                delivered_at: p.deliveredAt,
                attempt_log: p.attemptLog,
              }))
              .where('id', '=', p.id)
              .where('account_id', '=', p.accountId)
              .where('leased_until', '=', p.leasedUntil),
          params,
        )
        return affected(result) > 0
      },
      async list(accountId, endpointId, { limit, status }) {
        const rows = await db
          .selectFrom('webhook_delivery')
          .selectAll()
          .where('account_id', '=', accountId)
          .where('endpoint_id', '=', endpointId)
          .$if(status !== undefined, (q) => q.where('status', '=', status!))
          .orderBy('created_at', 'desc')
          .orderBy('seq', 'desc')
          .orderBy('id', 'desc')
          .limit(limitOf(limit))
          .execute()
        return rows.map(toWebhookDelivery)
      },
      async replay(accountId, id, at) {
        // Not while an attempt holds the lease: its outcome, recorded under that lease, would
        // undo the replay. An expired lease (a worker that died) is cleared.
        const row = await db
          .updateTable('webhook_delivery')
          .set({ status: 'pending', tries: 0, next_at: at, leased_until: null })
          .where('account_id', '=', accountId)
          .where('id', '=', id)
          .where((eb) => eb.or([eb('leased_until', 'is', null), eb('leased_until', '<=', at)]))
          .returningAll()
          .executeTakeFirst()
        return row && toWebhookDelivery(row)
      },
      async purgeFinishedBefore(at) {
        // By (status, next_at): a finished delivery keeps the time it was last due.
        const result = await db
          .deleteFrom('webhook_delivery')
          .where('status', 'in', ['delivered', 'failed'])
          .where('next_at', '<', at)
          .executeTakeFirst()
        return Number(result.numDeletedRows)
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
