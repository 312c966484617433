import type { FastifyPluginAsync, FastifyReply, HTTPMethods } from 'fastify'
import { Type } from 'typebox'
import type { AppContext } from '../../context.js'
import { AppError } from '../../domain/errors.js'
import { toConversationsMessage } from '../../domain/message.js'
import { markAgentOnline } from '../../services/agents.js'
import type { IdempotencyRequest } from '../../services/idempotency.js'
import * as messages from '../../services/messages.js'
import { setVisitorGroup } from '../../services/visitors.js'
import type { App } from '../app.js'
import { sendError } from '../errors.js'
import {
  AgentOnlinePingBody,
  ConversationsMessage,
  EditMessageBody,
  ErrorBody,
  MessageIdParams,
  PushMessageBody,
  SendAgentMessageBody,
  VisitorGroupBody,
  VisitorGroupResponse,
} from '../schemas.js'

const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      description:
        'Parley extension: a retry with the same key and body returns the first message instead of storing a duplicate. Keys are kept 24 hours.',
    }),
  ),
})

const errors = { 400: ErrorBody, 401: ErrorBody, 429: ErrorBody }
const withNotFound = { ...errors, 404: ErrorBody }
const NoContent = Type.Null({ description: 'No content' })
const tags = ['Conversations']
const apiKey = { apiKey: true }

/** The request's Idempotency-Key, if it sent one, for the service that creates the message. */
function idempotencyOf(
  request: { headers: { 'idempotency-key'?: string }; body: unknown },
  scope: string,
): IdempotencyRequest | undefined {
  const key = request.headers['idempotency-key']
  return key ? { key, scope, body: request.body } : undefined
}

/** Brevo answers the ping with 201 and deletes with 204, both with no body at all. */
function emptyReply(reply: { code(status: number): unknown }, status: 201 | 204): FastifyReply {
  return (reply.code(status) as FastifyReply).send()
}

/** Brevo's Conversations endpoints. Handlers parse, call one service and shape the reply. */
export function conversationRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (instance) => {
    const app = instance as unknown as App
    const allowed = new Map<string, HTTPMethods[]>()
    const route = (method: HTTPMethods, url: string) => {
      allowed.set(url, [...(allowed.get(url) ?? []), method])
    }

    route('POST', '/messages')
    app.post(
      '/messages',
      {
        config: apiKey,
        schema: {
          tags,
          operationId: 'conversationsMessagesPost',
          summary: 'Send a message as an agent',
          description:
            'Send a message as an agent. The agent is given by `agentId`, or by all three of `agentEmail` + `agentName` + `receivedFrom`.',
          headers: IdempotencyHeaders,
          body: SendAgentMessageBody,
          response: { 200: ConversationsMessage, ...errors },
        },
      },
      async (request) => {
        const idempotency = idempotencyOf(request, 'POST /conversations/messages')
        return toConversationsMessage(await messages.sendAgentMessage(ctx, request.accountId, request.body, idempotency))
      },
    )

    route('GET', '/messages/:id')
    app.get(
      '/messages/:id',
      {
        config: apiKey,
        schema: {
          tags,
          operationId: 'conversationsMessagesIdGet',
          summary: 'Get a message',
          params: MessageIdParams,
          response: { 200: ConversationsMessage, ...withNotFound },
        },
      },
      async (request) => toConversationsMessage(await messages.getMessage(ctx, request.accountId, request.params.id)),
    )

    route('PUT', '/messages/:id')
    app.put(
      '/messages/:id',
      {
        config: apiKey,
        schema: {
          tags,
          operationId: 'conversationsMessagesIdPut',
          summary: 'Update a message sent by an agent',
          description: 'Only agents’ messages can be edited.',
          params: MessageIdParams,
          body: EditMessageBody,
          response: { 200: ConversationsMessage, ...withNotFound },
        },
      },
      async (request) =>
        toConversationsMessage(
          await messages.editAgentMessage(ctx, request.accountId, request.params.id, request.body.text),
        ),
    )

    route('DELETE', '/messages/:id')
    app.delete(
      '/messages/:id',
      {
        config: apiKey,
        schema: {
          tags,
          operationId: 'conversationsMessagesIdDelete',
          summary: 'Delete a message sent by an agent',
          description: 'Only agents’ messages can be deleted.',
          params: MessageIdParams,
          response: { 204: NoContent, ...withNotFound },
        },
      },
      async (request, reply) => {
        await messages.deleteAgentMessage(ctx, request.accountId, request.params.id)
        return emptyReply(reply, 204)
      },
    )

    route('POST', '/pushedMessages')
    app.post(
      '/pushedMessages',
      {
        config: apiKey,
        schema: {
          tags,
          operationId: 'conversationsPushedMessagesPost',
          summary: 'Send an automated message to a visitor',
          description:
            'Example of automated messages: order status, announce new features in your web app, etc.',
          headers: IdempotencyHeaders,
          body: PushMessageBody,
          response: { 200: ConversationsMessage, ...errors },
        },
      },
      async (request) => {
        const idempotency = idempotencyOf(request, 'POST /conversations/pushedMessages')
        return toConversationsMessage(await messages.pushMessage(ctx, request.accountId, request.body, idempotency))
      },
    )

    route('GET', '/pushedMessages/:id')
    app.get(
      '/pushedMessages/:id',
      {
        config: apiKey,
        schema: {
          tags,
          operationId: 'conversationsPushedMessagesIdGet',
          summary: 'Get an automated message',
          params: MessageIdParams,
          response: { 200: ConversationsMessage, ...withNotFound },
        },
      },
      async (request) =>
        toConversationsMessage(await messages.getPushedMessage(ctx, request.accountId, request.params.id)),
    )

    route('PUT', '/pushedMessages/:id')
    app.put(
      '/pushedMessages/:id',
      {
        config: apiKey,
        schema: {
          tags,
          operationId: 'conversationsPushedMessagesIdPut',
          summary: 'Update an automated message',
          params: MessageIdParams,
          body: EditMessageBody,
          response: { 200: ConversationsMessage, ...withNotFound },
        },
      },
      async (request) =>
        toConversationsMessage(
          await messages.editPushedMessage(ctx, request.accountId, request.params.id, request.body.text),
        ),
    )

    route('DELETE', '/pushedMessages/:id')
    app.delete(
      '/pushedMessages/:id',
      {
        config: apiKey,
        schema: {
          tags,
          operationId: 'conversationsPushedMessagesIdDelete',
          summary: 'Delete an automated message',
          params: MessageIdParams,
          response: { 204: NoContent, ...withNotFound },
        },
      },
      async (request, reply) => {
        await messages.deletePushedMessage(ctx, request.accountId, request.params.id)
        return emptyReply(reply, 204)
      },
    )

    route('POST', '/agentOnlinePing')
    app.post(
      '/agentOnlinePing',
      {
        config: apiKey,
        schema: {
          tags,
          operationId: 'conversationsAgentOnlinePingPost',
          summary: "Sets agent's status to online for 2-3 minutes",
          description:
            'We recommend pinging this endpoint every minute for as long as the agent has to be considered online.',
          body: AgentOnlinePingBody,
          response: { 201: NoContent, ...errors },
        },
      },
      async (request, reply) => {
        await markAgentOnline(ctx, request.accountId, request.body)
        return emptyReply(reply, 201)
      },
    )

    route('PUT', '/visitorGroup')
    app.put(
      '/visitorGroup',
      {
        config: apiKey,
        schema: {
          tags,
          operationId: 'conversationsVisitorGroupPut',
          summary: 'Set visitor group assignment',
          description:
            'Assigns a visitor to a specific agent group or removes them from their current group (`groupId: null`).',
          body: VisitorGroupBody,
          response: { 200: VisitorGroupResponse, ...withNotFound },
        },
      },
      async (request) => {
        const visitor = await setVisitorGroup(ctx, request.accountId, request.body.visitorId, request.body.groupId)
        return { visitorId: visitor.id, ...(visitor.groupId ? { groupId: visitor.groupId } : {}) }
      },
    )

    // A known path with another method is 405, not 404.
    const methods: HTTPMethods[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH']
    for (const [url, used] of allowed) {
      const others = methods.filter((m) => !used.includes(m) && !(m === 'GET' && used.includes('HEAD')))
      app.route({
        method: others,
        url,
        schema: { hide: true },
        handler: async (request, reply) => {
          reply.header('allow', used.join(', '))
          return sendError(reply, new AppError('method_not_allowed', `${request.method} is not allowed here; use ${used.join(', ')}`))
        },
      })
    }
  }
}
