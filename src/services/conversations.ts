import { NotFoundError } from '../domain/errors.js'
import { generateId } from '../domain/ids.js'
import type { Complete, Conversation } from '../domain/model.js'
import type { ConversationChanges, Tx } from '../ports/storage.js'
import { recordEvent, transact, type ServiceDeps } from './deps.js'
import { ensureVisitor } from './visitors.js'

/**
 * The visitor's conversation as a new message finds it, its activity recorded. One continuous
 * conversation per visitor: a visitor id Parley has not seen yet creates the visitor and its
 * conversation (Brevo lets the caller pick the id to bind an existing user, whose history is then
 * there when they open the widget). A closed conversation opens again.
 *
 * `speaks` is true for a visitor's or agent's own message; pushed and automatic messages do not
 * start a conversation. `starts` says whether this message started it (webhooks'
 * `conversationStarted`).
 */
export async function enterConversation(
  tx: Tx,
  accountId: string,
  visitorId: string,
  speaks: boolean,
  now: number,
): Promise<{ conversation: Conversation; starts: boolean }> {
  const touched = await tx.conversations.touchByVisitor(accountId, visitorId, now)
  if (!touched) {
    const visitor = await ensureVisitor(tx, accountId, visitorId, now)
    const conversation: Conversation = {
      id: generateId(),
      accountId,
      visitorId,
      status: 'open',
      startPage: visitor.lastPage,
      createdAt: now,
      lastActivityAt: now,
      openedAt: now,
      startedAt: speaks ? now : undefined,
    }
    await tx.conversations.insert(conversation)
    return { conversation, starts: speaks }
  }
  const reopens = touched.status === 'closed'
  const starts = speaks && (reopens || touched.startedAt === undefined)
  if (!reopens && !starts) return { conversation: touched, starts: false }

  const changes: ConversationChanges = { status: 'open' }
  if (reopens) Object.assign(changes, { openedAt: now, startedAt: null })
  if (starts) {
    changes.startedAt = now
    // Where the visitor is now is where this conversation began.
    const visitor = await tx.visitors.get(accountId, visitorId)
    if (visitor?.lastPage) changes.startPage = visitor.lastPage
  }
  await tx.conversations.update(accountId, touched.id, changes)
  const conversation: Complete<Conversation> = {
    id: touched.id,
    accountId: touched.accountId,
    visitorId: touched.visitorId,
    status: 'open',
    startPage: changes.startPage ?? touched.startPage,
    createdAt: touched.createdAt,
    lastActivityAt: touched.lastActivityAt,
    openedAt: changes.openedAt ?? touched.openedAt,
    startedAt: changes.startedAt === null ? undefined : (changes.startedAt ?? touched.startedAt),
  }
  return { conversation, starts }
}

async function close(deps: ServiceDeps, tx: Tx, accountId: string, id: string, reason: 'agent' | 'idle', idleBefore?: number) {
  const closed = await tx.conversations.close(accountId, id, idleBefore)
  if (!closed) return undefined
  await recordEvent(
    deps,
    tx,
    accountId,
    { type: 'conversation.closed', conversationId: id, payload: { conversationId: id, visitorId: closed.visitorId, reason } },
    { kind: 'closed', conversation: closed },
  )
  return closed
}

/**
 * An agent ends the conversation: webhooks get its transcript. Closing a closed conversation
 * changes nothing. The visitor's or an agent's next message opens it again.
 */
export function closeConversation(deps: ServiceDeps, accountId: string, conversationId: string): Promise<Conversation> {
  return transact(deps, async (tx) => {
    const closed = await close(deps, tx, accountId, conversationId, 'agent')
    if (closed) return closed
    const existing = await tx.conversations.get(accountId, conversationId)
    if (!existing) throw new NotFoundError(`Conversation "${conversationId}" not found`)
    return existing
  })
}

const SWEEP_BATCH = 100

/**
 * Closes every open conversation without a message for `conversationIdleMs`. Run periodically by
 * every process: the close re-checks the conversation is still open and idle, so of several
 * sweepers, and against a message arriving meanwhile, exactly one outcome wins. Returns how many
 * it closed.
 */
export async function sweepIdleConversations(deps: ServiceDeps): Promise<number> {
  const idleBefore = deps.clock.now() - deps.settings.conversationIdleMs
  let total = 0
  for (;;) {
    const idle = await deps.storage.read.conversations.listIdle(idleBefore, SWEEP_BATCH)
    // Concurrent transactions share commits (SQLite group commit).
    const closed = await Promise.all(
      idle.map((c) => transact(deps, async (tx) => (await close(deps, tx, c.accountId, c.id, 'idle', idleBefore)) !== undefined)),
    )
    total += closed.filter(Boolean).length
    // A full batch of which none closed would come back unchanged: stop rather than spin.
    if (idle.length < SWEEP_BATCH || !closed.some(Boolean)) return total
  }
}
