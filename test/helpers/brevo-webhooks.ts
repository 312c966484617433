import { Type, type TSchema } from 'typebox'
import { Value } from 'typebox/value'

// Brevo's webhook payloads, written from spec/brevo-conversations-api.md section 5 and not from
// Parley's code: every field the spec lists, all others refused, no null anywhere (a field without
// a value is left out).

const Str = Type.String()
const Int = Type.Integer({ minimum: 0 })
const strict = { additionalProperties: false }
const Page = Type.Object({ link: Str, title: Str }, strict)

const File = Type.Object({
  name: Type.Optional(Str),
  link: Type.Optional(Str),
  mimeType: Type.Optional(Str),
  size: Type.Optional(Int),
  isImage: Type.Optional(Type.Boolean()),
  isSticker: Type.Optional(Type.Boolean()),
  isAllowedFileType: Type.Optional(Type.Boolean()),
  imageInfo: Type.Optional(Type.Object({ width: Type.Optional(Int), height: Type.Optional(Int), previewLink: Type.Optional(Str) })),
})

/** `{type, id, text, html, createdAt, agentId?, agentName?, agentUserpic?, isPushed?, isTrigger?, isMissed?, receivedFrom?, file?}` */
export const WebhookMessage = Type.Object(
  {
    type: Type.Union([Type.Literal('agent'), Type.Literal('visitor')]),
    id: Str,
    text: Str,
    html: Str,
    createdAt: Int,
    agentId: Type.Optional(Str),
    agentName: Type.Optional(Str),
    agentUserpic: Type.Optional(Str),
    isPushed: Type.Optional(Type.Boolean()),
    isTrigger: Type.Optional(Type.Boolean()),
    isMissed: Type.Optional(Type.Boolean()),
    receivedFrom: Type.Optional(Str),
    file: Type.Optional(File),
  },
  strict,
)

/** `{id, name, email, userpic?}` */
export const WebhookAgent = Type.Object({ id: Str, name: Str, email: Str, userpic: Type.Optional(Str) }, strict)

/** The visitor: every field the spec names, each optional but the id. */
export const WebhookVisitor = Type.Object(
  {
    id: Str,
    threadId: Type.Optional(Str),
    threadLink: Type.Optional(Str),
    source: Type.Optional(Str),
    groupId: Type.Optional(Str),
    ip: Type.Optional(Str),
    browserLanguage: Type.Optional(Str),
    conversationLanguage: Type.Optional(Str),
    browser: Type.Optional(Str),
    os: Type.Optional(Str),
    userAgent: Type.Optional(Str),
    country: Type.Optional(Str),
    city: Type.Optional(Str),
    lastVisit: Type.Optional(
      Type.Object(
        {
          startedAt: Type.Optional(Int),
          finishedAt: Type.Optional(Int),
          hostName: Type.Optional(Str),
          viewedPages: Type.Optional(Type.Array(Page)),
        },
        strict,
      ),
    ),
    displayedName: Type.Optional(Str),
    integrationAttributes: Type.Optional(Type.Record(Str, Type.Unknown())),
    attributes: Type.Optional(Type.Record(Str, Type.Unknown())),
    notes: Type.Optional(Str),
    marketingConsent: Type.Optional(Type.Boolean()),
    termsOfServiceConsent: Type.Optional(Type.Boolean()),
  },
  strict,
)

export const ConversationStarted = Type.Object(
  {
    eventName: Type.Literal('conversationStarted'),
    conversationId: Str,
    message: WebhookMessage,
    agent: Type.Optional(WebhookAgent),
    visitor: WebhookVisitor,
    conversationStartPage: Type.Optional(Page),
    isNoAvailableAgent: Type.Boolean(),
  },
  strict,
)

export const ConversationFragment = Type.Object(
  {
    eventName: Type.Literal('conversationFragment'),
    conversationId: Str,
    messages: Type.Array(WebhookMessage, { minItems: 1 }),
    agents: Type.Array(WebhookAgent),
    visitor: WebhookVisitor,
    isNoAvailableAgent: Type.Optional(Type.Boolean()),
  },
  strict,
)

export const ConversationTranscript = Type.Object(
  {
    eventName: Type.Literal('conversationTranscript'),
    conversationId: Str,
    conversationStartPage: Type.Optional(Page),
    messages: Type.Array(WebhookMessage, { minItems: 1 }),
    missedMessagesCount: Int,
    agents: Type.Array(WebhookAgent),
    visitor: WebhookVisitor,
  },
  strict,
)

/** Fails with every schema violation listed when `value` does not match. */
export function expectShape(schema: TSchema, value: unknown): void {
  if (Value.Check(schema, value)) return
  const problems = [...Value.Errors(schema, value)].map((e) => `${e.instancePath || '/'}: ${e.message}`)
  throw new Error(`payload does not match ${String((schema as { title?: string }).title ?? 'the schema')}:\n${problems.join('\n')}\n${JSON.stringify(value, null, 2)}`)
}
