import { generateId } from '../domain/ids.js'
import type { Conversation } from '../domain/model.js'
import type { Tx } from '../ports/storage.js'
import { ensureVisitor } from './visitors.js'

/**
 * One continuous conversation per visitor. A visitor id Parley has not seen yet creates the
 * visitor and its conversation: Brevo lets the caller pick the id to bind an existing user, whose
 * history is then there when they open the widget.
 */
export async function ensureConversation(tx: Tx, accountId: string, visitorId: string, now: number): Promise<Conversation> {
  const existing = await tx.conversations.getByVisitor(accountId, visitorId)
  if (existing) return existing
  const visitor = await ensureVisitor(tx, accountId, visitorId, now)
  const conversation: Conversation = {
    id: generateId(),
    accountId,
    visitorId,
    status: 'open',
    startPage: visitor.lastPage,
    createdAt: now,
    lastActivityAt: now,
  }
  await tx.conversations.insert(conversation)
  return conversation
}
