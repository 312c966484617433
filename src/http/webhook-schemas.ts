import { Type } from 'typebox'
import { WEBHOOK_EVENTS } from '../domain/webhooks.js'
import { MAX_WEBHOOK_DESCRIPTION_LENGTH, MAX_WEBHOOK_URL_LENGTH } from '../services/webhooks.js'
import { MAX_ID_LENGTH } from './schemas.js'

// @NOTE Parley's own API, outside Brevo's path space: these schemas validate, shape the replies
// and document /parley/v1 in the same OpenAPI document. Strings that reach a query refuse NUL and
// unpaired surrogates, as in schemas.ts.
const STORABLE = '^[^\\u0000\\uD800-\\uDFFF]*$'

const id = (description: string) => Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH, pattern: STORABLE, description })
const Time = (description: string) => Type.Integer({ minimum: 0, description: `${description} (milliseconds since the epoch)` })

export const WebhookIdParams = Type.Object({ id: id('ID of the webhook endpoint') })
export const DeliveryIdParams = Type.Object({ deliveryId: id('ID of the delivery: the `webhook-id` header it is sent with') })
export const ConversationIdParams = Type.Object({
  conversationId: id('ID of the conversation, as webhooks give it (`conversationId`)'),
})

const WebhookEvent = Type.Enum([...WEBHOOK_EVENTS], {
  description:
    "Brevo's conversationStarted, conversationFragment and conversationTranscript, or Parley's message.created, message.updated, message.deleted, agent.online, agent.offline and conversation.closed",
})
const Events = Type.Array(WebhookEvent, { minItems: 1, maxItems: 32, description: 'The events to send to this endpoint' })
const Url = Type.String({
  minLength: 1,
  maxLength: MAX_WEBHOOK_URL_LENGTH,
  pattern: STORABLE,
  description:
    'Where Parley POSTs the events: an http or https URL. Private, loopback and link-local addresses are refused unless PARLEY_WEBHOOKS_ALLOW_PRIVATE_TARGETS=true.',
  examples: ['https://crm.example.com/parley-webhooks'],
})
const Description = Type.String({ maxLength: MAX_WEBHOOK_DESCRIPTION_LENGTH, pattern: STORABLE, description: 'A note for people' })
const Secret = Type.String({
  description: 'The signing secret (Standard Webhooks, `whsec_<base64>`). Shown only when created or rotated.',
  examples: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
})

export const CreateWebhookBody = Type.Object({ url: Url, events: Events, description: Type.Optional(Description) })

export const UpdateWebhookBody = Type.Object({
  url: Type.Optional(Url),
  events: Type.Optional(Events),
  description: Type.Optional(Type.String({ ...Description, description: 'A note for people; an empty string removes it' })),
  enabled: Type.Optional(
    Type.Boolean({ description: 'false holds deliveries (none are dropped); true sends what waited and clears disabledReason' }),
  ),
})

const endpointFields = {
  id: Type.String({ description: 'ID of the webhook endpoint' }),
  url: Type.String(),
  events: Type.Array(WebhookEvent),
  description: Type.Optional(Type.String()),
  enabled: Type.Boolean({ description: 'Only enabled endpoints are sent events' }),
  disabledReason: Type.Optional(Type.String({ description: 'Why the endpoint is disabled, e.g. the receiver answered 410 Gone' })),
  previousSecretExpiresAt: Type.Optional(Time('Until then the secret replaced by the last rotation signs too')),
  createdAt: Time('When the endpoint was created'),
  updatedAt: Time('When it last changed'),
}

export const WebhookEndpointSchema = Type.Object(endpointFields, { title: 'WebhookEndpoint' })
export const CreatedWebhookSchema = Type.Object({ ...endpointFields, secret: Secret }, { title: 'CreatedWebhookEndpoint' })
export const WebhookListSchema = Type.Object({ webhooks: Type.Array(WebhookEndpointSchema) })
export const RotatedSecretSchema = Type.Object({
  secret: Secret,
  previousSecretExpiresAt: Time('Until then the replaced secret signs too, beside this one'),
})

const DeliveryStatus = Type.Enum(['pending', 'delivered', 'failed'], {
  description: 'pending: waiting for its next attempt; delivered: a 2xx came back; failed: attempts ran out, or a 410',
})

const AttemptSchema = Type.Object(
  {
    attempt: Type.Integer({ minimum: 1, description: '1 for the first attempt of the delivery' }),
    at: Time('When the attempt started'),
    durationMs: Type.Integer({ minimum: 0 }),
    status: Type.Optional(Type.Integer({ description: "The receiver's HTTP status; absent when none came back" })),
    error: Type.Optional(Type.String({ description: 'What went wrong: a status and the start of the body, or the network error' })),
  },
  { title: 'WebhookAttempt' },
)

const deliveryFields = {
  id: Type.String({ description: 'ID of the delivery, sent as the `webhook-id` header on every attempt' }),
  endpointId: Type.String(),
  event: WebhookEvent,
  conversationId: Type.Optional(Type.String()),
  status: DeliveryStatus,
  attemptCount: Type.Integer({ minimum: 0 }),
  nextAttemptAt: Type.Optional(Time('When the next attempt is due (pending deliveries)')),
  lastStatus: Type.Optional(Type.Integer()),
  lastError: Type.Optional(Type.String()),
  createdAt: Time('When the event happened'),
  deliveredAt: Type.Optional(Time('When a 2xx came back')),
  attempts: Type.Array(AttemptSchema),
}

export const DeliverySchema = Type.Object(deliveryFields, { title: 'WebhookDelivery' })
export const DeliveryDetailSchema = Type.Object(
  { ...deliveryFields, payload: Type.Unknown({ description: 'The JSON body sent' }) },
  { title: 'WebhookDeliveryWithPayload' },
)
export const DeliveryListSchema = Type.Object({ deliveries: Type.Array(DeliverySchema) })
export const DeliveriesQuery = Type.Object({
  limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$', description: 'How many, 1 to 100 (20)' })),
  status: Type.Optional(DeliveryStatus),
})

export const ConversationSchema = Type.Object(
  {
    conversationId: Type.String(),
    visitorId: Type.String(),
    status: Type.Enum(['open', 'closed']),
    startPage: Type.Optional(Type.Object({ link: Type.String(), title: Type.String() })),
    createdAt: Time('When the conversation was created'),
    lastActivityAt: Time('Its last message'),
  },
  { title: 'ParleyConversation' },
)
