import { NotFoundError } from '../domain/errors.js'
import type { Visitor } from '../domain/model.js'
import type { Tx } from '../ports/storage.js'
import { recordEvent, transact, type ServiceDeps } from './deps.js'

/**
 * The visitor row, created on first use. A caller-given id Parley has not seen is a new visitor
 * (Brevo's binding contract), as is a generated one on its first message.
 */
export async function ensureVisitor(tx: Tx, accountId: string, visitorId: string, now: number): Promise<Visitor> {
  const existing = await tx.visitors.get(accountId, visitorId)
  if (existing) return existing
  const visitor: Visitor = { id: visitorId, accountId, createdAt: now }
  await tx.visitors.insert(visitor)
  return visitor
}

/**
 * `updateIntegrationData({email, firstName, …})` from the site, and the e-mail a visitor leaves
 * when nobody is online. Keys merge into what was there; a null removes one.
 */
export function updateIntegrationData(
  deps: ServiceDeps,
  accountId: string,
  visitorId: string,
  data: Record<string, unknown>,
): Promise<Visitor> {
  return transact(deps, async (tx) => {
    const visitor = await ensureVisitor(tx, accountId, visitorId, deps.clock.now())
    const attributes: Record<string, unknown> = { ...visitor.attributes }
    for (const [key, value] of Object.entries(data)) {
      if (value === null) delete attributes[key]
      else attributes[key] = value
    }
    await tx.visitors.update(accountId, visitorId, { attributes })
    return { ...visitor, attributes }
  })
}

/** `PUT /conversations/visitorGroup`: route a visitor's chats to a group, or (null) to nobody in particular. */
export function setVisitorGroup(
  deps: ServiceDeps,
  accountId: string,
  visitorId: string,
  groupId: string | null,
): Promise<Visitor> {
  return transact(deps, async (tx) => {
    const visitor = await tx.visitors.get(accountId, visitorId)
    if (!visitor) throw new NotFoundError(`Visitor "${visitorId}" not found`)
    if (groupId !== null && !(await tx.groups.get(accountId, groupId))) {
      throw new NotFoundError(`Group "${groupId}" not found`)
    }
    const updated: Visitor = { ...visitor, groupId: groupId ?? undefined }
    await tx.visitors.setGroup(accountId, visitorId, updated.groupId)
    const conversation = await tx.conversations.getByVisitor(accountId, visitorId)
    await recordEvent(deps, tx, accountId, {
      type: 'visitor.group_changed',
      conversationId: conversation?.id,
      payload: { visitor: updated },
    })
    return updated
  })
}
