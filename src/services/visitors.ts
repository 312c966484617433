import { NotFoundError } from '../domain/errors.js'
import type { Visitor } from '../domain/model.js'
import { recordEvent, transact, type ServiceDeps } from './deps.js'

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
