import { InvalidParameterError, NotFoundError } from '../domain/errors.js'
import { generateTimeOrderedId } from '../domain/ids.js'
import type { BrowserFacts, Complete, Message, PageVisit } from '../domain/model.js'
import type { Tx } from '../ports/storage.js'
import { resolveAgent, type AgentIdentification } from './agents.js'
import { enterConversation } from './conversations.js'
import { ensureVisitor } from './visitors.js'
import { recordEvent, transact, type ServiceDeps } from './deps.js'
import { onceForKey, type IdempotencyRequest } from './idempotency.js'

export interface AgentMessageInput extends AgentIdentification {
  visitorId: string
  text: string
}

export interface VisitorMessageInput {
  visitorId: string
  text: string
  /** Where the visitor is and what browser they use, remembered on the visitor with the message. */
  page?: PageVisit
  browser?: BrowserFacts
  /** `BrevoConversationsSetup.groupId`: this page routes its chats to a group. */
  groupId?: string
}

export interface AutoMessageInput {
  visitorId: string
  text: string
}

export interface PushedMessageInput {
  visitorId: string
  text: string
  agentId?: string
  groupId?: string
}

async function storeNewMessage(
  deps: ServiceDeps,
  tx: Tx,
  accountId: string,
  fields: Omit<Message, 'id' | 'accountId' | 'conversationId' | 'createdAt'>,
): Promise<Message> {
  const now = deps.clock.now()
  // Pushed and automatic messages are the site talking; they neither start nor make a conversation.
  const speaks = !fields.isPushed && !fields.isTrigger
  const { conversation, starts } = await enterConversation(tx, accountId, fields.visitorId, speaks, now)
  const message: Complete<Message> = {
    id: generateTimeOrderedId(now),
    accountId,
    conversationId: conversation.id,
    visitorId: fields.visitorId,
    type: fields.type,
    text: fields.text,
    agentId: fields.agentId,
    agentName: fields.agentName,
    agentUserpic: fields.agentUserpic,
    groupId: fields.groupId,
    isPushed: fields.isPushed,
    isTrigger: fields.isTrigger,
    receivedFrom: fields.receivedFrom,
    file: fields.file,
    createdAt: now,
    editedAt: fields.editedAt,
    deletedAt: fields.deletedAt,
  }
  await tx.messages.insert(message)
  const moment = starts
    ? ({ kind: 'started', conversation, message } as const)
    : conversation.startedAt !== undefined
      ? ({ kind: 'continued', conversation, message } as const)
      : undefined
  await recordEvent(deps, tx, accountId, { type: 'message.created', conversationId: conversation.id, payload: { message } }, moment)
  return message
}

/** `POST /conversations/messages`: an agent writes to a visitor. */
export function sendAgentMessage(
  deps: ServiceDeps,
  accountId: string,
  input: AgentMessageInput,
  idempotency?: IdempotencyRequest,
): Promise<Message> {
  return transact(deps, (tx) =>
    onceForKey(deps, tx, accountId, idempotency, async () => {
      const agent = await resolveAgent(tx, accountId, input, deps.clock.now())
      return storeNewMessage(deps, tx, accountId, {
        visitorId: input.visitorId,
        type: 'agent',
        text: input.text,
        agentId: agent.id,
        agentName: agent.name,
        agentUserpic: agent.userpic,
        isPushed: false,
        isTrigger: false,
        receivedFrom: input.receivedFrom,
      })
    }),
  )
}

/**
 * A visitor writes. The REST API has no such endpoint: the widget's transport calls this, and
 * `GET /conversations/messages/{id}` then reads it with `type: "visitor"`. The visitor's page and
 * browser are stored here rather than on every page view: only visitors who chat cost a write.
 */
export function sendVisitorMessage(
  deps: ServiceDeps,
  accountId: string,
  input: VisitorMessageInput,
  idempotency?: IdempotencyRequest,
): Promise<Message> {
  return transact(deps, (tx) =>
    onceForKey(deps, tx, accountId, idempotency, async () => {
      const visitor = await ensureVisitor(tx, accountId, input.visitorId, deps.clock.now())
      const changes = { lastPage: input.page, browser: input.browser }
      if (input.page || input.browser) await tx.visitors.update(accountId, visitor.id, changes)
      // A group that no longer exists is ignored: the page's setup is not the visitor's fault.
      if (input.groupId !== undefined && input.groupId !== visitor.groupId && (await tx.groups.get(accountId, input.groupId))) {
        await tx.visitors.setGroup(accountId, visitor.id, input.groupId)
      }
      return storeNewMessage(deps, tx, accountId, {
        visitorId: input.visitorId,
        type: 'visitor',
        text: input.text,
        groupId: input.groupId,
        isPushed: false,
        isTrigger: false,
      })
    }),
  )
}

/**
 * `BrevoConversations('sendAutoMessage', text)`: the site greets or prompts the visitor. It reads
 * as the account speaking and is marked `isTrigger`; like pushed messages it starts no conversation
 * for webhooks.
 */
export function sendAutoMessage(
  deps: ServiceDeps,
  accountId: string,
  input: AutoMessageInput,
  idempotency?: IdempotencyRequest,
): Promise<Message> {
  return transact(deps, (tx) =>
    onceForKey(deps, tx, accountId, idempotency, async () => {
      const account = await tx.accounts.get(accountId)
      if (!account) throw new NotFoundError('Account not found')
      return storeNewMessage(deps, tx, accountId, {
        visitorId: input.visitorId,
        type: 'agent',
        text: input.text,
        agentName: account.name,
        isPushed: false,
        isTrigger: true,
      })
    }),
  )
}

/** `POST /conversations/pushedMessages`: an automated message (order status, announcements). */
export function pushMessage(
  deps: ServiceDeps,
  accountId: string,
  input: PushedMessageInput,
  idempotency?: IdempotencyRequest,
): Promise<Message> {
  return transact(deps, (tx) =>
    onceForKey(deps, tx, accountId, idempotency, async () => {
      const agent = input.agentId === undefined ? undefined : await tx.agents.get(accountId, input.agentId)
      if (input.agentId !== undefined && !agent) {
        throw new InvalidParameterError(`agentId "${input.agentId}" is not an agent of this account`)
      }
      if (input.groupId !== undefined && !(await tx.groups.get(accountId, input.groupId))) {
        throw new InvalidParameterError(`groupId "${input.groupId}" is not a group of this account`)
      }
      // Without an agent the message speaks for the account as a whole.
      const agentName = agent?.name ?? (await tx.accounts.get(accountId))!.name
      return storeNewMessage(deps, tx, accountId, {
        visitorId: input.visitorId,
        type: 'agent',
        text: input.text,
        agentId: agent?.id,
        agentName,
        agentUserpic: agent?.userpic,
        groupId: input.groupId,
        isPushed: true,
        isTrigger: false,
      })
    }),
  )
}

function live(message: Message | undefined): Message {
  if (!message || message.deletedAt !== undefined) throw new NotFoundError('Message not found')
  return message
}

/** Any message of the account, as `GET /conversations/messages/{id}` shows it. */
export async function getMessage(deps: ServiceDeps, accountId: string, id: string): Promise<Message> {
  return live(await deps.storage.read.messages.get(accountId, id))
}

/** Only pushed messages exist for `/conversations/pushedMessages/{id}`. */
export async function getPushedMessage(deps: ServiceDeps, accountId: string, id: string): Promise<Message> {
  const message = live(await deps.storage.read.messages.get(accountId, id))
  if (!message.isPushed) throw new NotFoundError('Pushed message not found')
  return message
}

async function requireAgentMessage(tx: Tx, accountId: string, id: string, action: 'edited' | 'deleted'): Promise<Message> {
  const message = live(await tx.messages.get(accountId, id))
  if (message.type !== 'agent') throw new InvalidParameterError(`Only agents' messages can be ${action}`)
  if (message.isPushed) {
    throw new InvalidParameterError(`This is a pushed message: it is ${action} through /conversations/pushedMessages/${id}`)
  }
  return message
}

async function requirePushedMessage(tx: Tx, accountId: string, id: string): Promise<Message> {
  const message = live(await tx.messages.get(accountId, id))
  if (!message.isPushed) throw new NotFoundError('Pushed message not found')
  return message
}

async function applyEdit(deps: ServiceDeps, tx: Tx, message: Message, text: string): Promise<Message> {
  const editedAt = deps.clock.now()
  await tx.messages.update(message.accountId, message.id, { text, editedAt })
  const edited = { ...message, text, editedAt }
  await recordEvent(deps, tx, message.accountId, {
    type: 'message.updated',
    conversationId: message.conversationId,
    payload: { message: edited },
  })
  return edited
}

async function applyDelete(deps: ServiceDeps, tx: Tx, message: Message): Promise<void> {
  // The row stays as an audit record; every endpoint treats it as gone.
  const deletedAt = deps.clock.now()
  await tx.messages.update(message.accountId, message.id, { deletedAt })
  await recordEvent(deps, tx, message.accountId, {
    type: 'message.deleted',
    conversationId: message.conversationId,
    payload: { message: { ...message, deletedAt } },
  })
}

export function editAgentMessage(deps: ServiceDeps, accountId: string, id: string, text: string): Promise<Message> {
  return transact(deps, async (tx) => applyEdit(deps, tx, await requireAgentMessage(tx, accountId, id, 'edited'), text))
}

export function deleteAgentMessage(deps: ServiceDeps, accountId: string, id: string): Promise<void> {
  return transact(deps, async (tx) => applyDelete(deps, tx, await requireAgentMessage(tx, accountId, id, 'deleted')))
}

export function editPushedMessage(deps: ServiceDeps, accountId: string, id: string, text: string): Promise<Message> {
  return transact(deps, async (tx) => applyEdit(deps, tx, await requirePushedMessage(tx, accountId, id), text))
}

export function deletePushedMessage(deps: ServiceDeps, accountId: string, id: string): Promise<void> {
  return transact(deps, async (tx) => applyDelete(deps, tx, await requirePushedMessage(tx, accountId, id)))
}
