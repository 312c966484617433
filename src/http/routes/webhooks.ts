import type { FastifyPluginAsync, FastifyReply, HTTPMethods } from 'fastify'
import type { AppContext } from '../../context.js'
import { AppError } from '../../domain/errors.js'
import type { Conversation } from '../../domain/model.js'
import { closeConversation } from '../../services/conversations.js'
import * as webhooks from '../../services/webhooks.js'
import type { App } from '../app.js'
import { sendError } from '../errors.js'
import { ErrorBody } from '../schemas.js'
import {
  ConversationIdParams,
  ConversationSchema,
  CreatedWebhookSchema,
  CreateWebhookBody,
  DeliveriesQuery,
  DeliveryDetailSchema,
  DeliveryIdParams,
  DeliveryListSchema,
  DeliverySchema,
  RotatedSecretSchema,
  UpdateWebhookBody,
  WebhookEndpointSchema,
  WebhookIdParams,
  WebhookListSchema,
} from '../webhook-schemas.js'

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 429: ErrorBody }
const apiKey = { apiKey: true }
const tags = ['Webhooks']

function conversationJson(c: Conversation) {
  return {
    conversationId: c.id,
    visitorId: c.visitorId,
    status: c.status,
    startPage: c.startPage,
    createdAt: c.createdAt,
    lastActivityAt: c.lastActivityAt,
  }
}

/**
 * Parley's own API under /parley/v1, beside Brevo's: webhook endpoints, their deliveries, and
 * closing a conversation. Handlers parse, call one service and shape the reply.
 */
export function webhookRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (instance) => {
    const app = instance as unknown as App
    const allowed = new Map<string, HTTPMethods[]>()
    const route = (method: HTTPMethods, url: string) => allowed.set(url, [...(allowed.get(url) ?? []), method])

    route('POST', '/webhooks')
    app.post(
      '/webhooks',
      {
        config: apiKey,
        schema: {
          tags,
          operationId: 'parleyWebhooksPost',
          summary: 'Register a webhook endpoint',
          description:
            'Parley POSTs the chosen events to the URL, signed with the Standard Webhooks scheme. The answer holds the signing secret, shown this once.',
          body: CreateWebhookBody,
          response: { 201: CreatedWebhookSchema, ...errors },
        },
      },
      async (request, reply) => {
        const { endpoint, secret } = await webhooks.createWebhook(ctx, request.accountId, request.body)
        return reply.code(201).send({ ...webhooks.endpointView(endpoint), secret })
      },
    )

    route('GET', '/webhooks')
    app.get(
      '/webhooks',
      {
        config: apiKey,
        schema: { tags, operationId: 'parleyWebhooksGet', summary: "List the account's webhook endpoints", response: { 200: WebhookListSchema, ...errors } },
      },
      async (request) => ({ webhooks: (await webhooks.listWebhooks(ctx, request.accountId)).map(webhooks.endpointView) }),
    )

    route('GET', '/webhooks/:id')
    app.get(
      '/webhooks/:id',
      {
        config: apiKey,
        schema: {
          tags,
          operationId: 'parleyWebhooksIdGet',
          summary: 'Get a webhook endpoint',
          params: WebhookIdParams,
          response: { 200: WebhookEndpointSchema, ...errors },
        },
      },
      async (request) => webhooks.endpointView(await webhooks.getWebhook(ctx, request.accountId, request.params.id)),
    )

    route('PATCH', '/webhooks/:id')
    app.patch(
      '/webhooks/:id',
      {
        config: apiKey,
        schema: {
          tags,
          operationId: 'parleyWebhooksIdPatch',
          summary: 'Change a webhook endpoint: URL, events, description, enabled',
          params: WebhookIdParams,
          body: UpdateWebhookBody,
          response: { 200: WebhookEndpointSchema, ...errors },
        },
      },
      async (request) => webhooks.endpointView(await webhooks.updateWebhook(ctx, request.accountId, request.params.id, request.body ?? {})),
    )

    route('DELETE', '/webhooks/:id')
    app.delete(
      '/webhooks/:id',
      {
        config: apiKey,
        schema: {
          tags,
          operationId: 'parleyWebhooksIdDelete',
          summary: 'Delete a webhook endpoint with its deliveries',
          params: WebhookIdParams,
          response: { 204: { type: 'null', description: 'No content' }, ...errors },
        },
      },
      async (request, reply) => {
        await webhooks.deleteWebhook(ctx, request.accountId, request.params.id)
        return (reply.code(204) as FastifyReply).send()
      },
    )

    route('POST', '/webhooks/:id/rotate-secret')
    app.post(
      '/webhooks/:id/rotate-secret',
      {
        config: apiKey,
        schema: {
          tags,
          operationId: 'parleyWebhooksIdRotateSecretPost',
          summary: 'Rotate the signing secret',
          description:
            'Returns a new secret, shown this once. For 24 hours every message is signed with both the new and the replaced secret, so receivers can switch without missing one.',
          params: WebhookIdParams,
          response: { 200: RotatedSecretSchema, ...errors },
        },
      },
      async (request) => {
        const { endpoint, secret } = await webhooks.rotateWebhookSecret(ctx, request.accountId, request.params.id)
        return { secret, previousSecretExpiresAt: endpoint.previousSecretExpiresAt! }
      },
    )

    route('GET', '/webhooks/:id/deliveries')
    app.get(
      '/webhooks/:id/deliveries',
      {
        config: apiKey,
        schema: {
          tags,
          operationId: 'parleyWebhooksIdDeliveriesGet',
          summary: "List an endpoint's recent deliveries with their attempts",
          description: 'Newest first. Delivered and failed deliveries are kept for PARLEY_WEBHOOK_RETENTION_DAYS (30).',
          params: WebhookIdParams,
          querystring: DeliveriesQuery,
          response: { 200: DeliveryListSchema, ...errors },
        },
      },
      async (request) => {
        const { limit, status } = request.query
        const deliveries = await webhooks.listDeliveries(ctx, request.accountId, request.params.id, {
          limit: limit === undefined ? 20 : Number(limit),
          status,
        })
        return { deliveries: deliveries.map(webhooks.deliveryView) }
      },
    )

    route('GET', '/webhook-deliveries/:deliveryId')
    app.get(
      '/webhook-deliveries/:deliveryId',
      {
        config: apiKey,
        schema: {
          tags,
          operationId: 'parleyWebhookDeliveriesIdGet',
          summary: 'Get a delivery with its body and attempts',
          params: DeliveryIdParams,
          response: { 200: DeliveryDetailSchema, ...errors },
        },
      },
      async (request) => {
        const delivery = await webhooks.getDelivery(ctx, request.accountId, request.params.deliveryId)
        return { ...webhooks.deliveryView(delivery), payload: JSON.parse(delivery.payload) as unknown }
      },
    )

    route('POST', '/webhook-deliveries/:deliveryId/replay')
    app.post(
      '/webhook-deliveries/:deliveryId/replay',
      {
        config: apiKey,
        schema: {
          tags,
          operationId: 'parleyWebhookDeliveriesIdReplayPost',
          summary: 'Send a delivery again',
          description:
            'The same body with the same webhook-id, due at once with a fresh retry schedule. Deliveries of one conversation still go out in order.',
          params: DeliveryIdParams,
          response: { 200: DeliverySchema, ...errors },
        },
      },
      async (request) => webhooks.deliveryView(await webhooks.replayDelivery(ctx, request.accountId, request.params.deliveryId)),
    )

    route('POST', '/conversations/:conversationId/close')
    app.post(
      '/conversations/:conversationId/close',
      {
        config: apiKey,
        schema: {
          tags: ['Conversations (Parley)'],
          operationId: 'parleyConversationsIdClosePost',
          summary: 'Close a conversation',
          description:
            "An agent ends the conversation: webhooks send its conversationTranscript. Closing a closed conversation changes nothing; the visitor's or an agent's next message opens it again.",
          params: ConversationIdParams,
          response: { 200: ConversationSchema, ...errors },
        },
      },
      async (request) => conversationJson(await closeConversation(ctx, request.accountId, request.params.conversationId)),
    )

    // A known path with another method is 405, not 404, as on Brevo's paths.
    const methods: HTTPMethods[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH']
    for (const [url, used] of allowed) {
      app.route({
        method: methods.filter((m) => !used.includes(m)),
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
