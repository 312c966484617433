import { Type, type Static } from 'typebox'
import { MAX_TEXT_LENGTH } from '../domain/message.js'

// @NOTE The realtime wire protocol, one source for both ends. The server validates every client
// frame with these schemas; web/ imports only the `Static` types (type-only imports vanish from
// the bundle, which keeps the widget small). Change a frame here and both sides stop compiling
// until they agree.

/** Bumped when a frame changes incompatibly; the widget sends it in the socket URL (`?v=`). */
export const PROTOCOL_VERSION = 1

/** Largest frame either side accepts, in bytes. A longest message (10,000 characters) fits. */
export const MAX_FRAME_BYTES = 64 * 1024

/**
 * The server visits every socket every `PARLEY_HEARTBEAT_SECONDS`, 30 by default. One that sent
 * nothing since the last visit gets a ping (a WebSocket ping frame), and is dropped at the next
 * visit if it did not answer; one that sent any frame needs no ping. Browsers answer pings by
 * themselves but cannot see them, so the widget sends `ping` frames of its own, more often than
 * the server visits: any frame from the server proves the socket alive to the widget, and the
 * widget's pings spare it the server's.
 */
export const WIDGET_PING_MS = 25_000

// Same rule as the REST schemas: no NUL, no unpaired surrogate (neither database can store them).
const STORABLE = '^[^\\u0000\\uD800-\\uDFFF]*$'
const Text = Type.String({ minLength: 1, maxLength: MAX_TEXT_LENGTH, pattern: STORABLE })
const ShortText = (maxLength: number) => Type.String({ maxLength, pattern: STORABLE })
/** The client's own id for a message it sends: a retry with the same id stores nothing new. */
const ClientId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })

export const PageVisit = Type.Object(
  { link: ShortText(2048), title: ShortText(512) },
  { additionalProperties: false },
)

// ---- visitor → server ------------------------------------------------------------------------

/**
 * The first frame on `/ws/visitor?widgetId=…`. Nothing else is accepted before it.
 * - `visitorToken`: what the last `welcome` gave this browser; absent for a new visitor.
 * - `visitorId` (+ `visitorIdSignature` when the account requires verified binding): the site binds
 *   the chat to its own user id (`BrevoConversationsSetup.visitorId`).
 * - `lastSeq`: resume after this seq instead of receiving the history again. Only honoured when the
 *   visitor is the one the token names; otherwise the server answers with a fresh history.
 */
export const VisitorHello = Type.Object(
  {
    type: Type.Literal('hello'),
    visitorToken: Type.Optional(ShortText(512)),
    visitorId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: STORABLE })),
    visitorIdSignature: Type.Optional(ShortText(256)),
    groupId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: STORABLE })),
    lastSeq: Type.Optional(Type.Integer({ minimum: 0 })),
    page: Type.Optional(PageVisit),
    language: Type.Optional(ShortText(64)),
  },
  { additionalProperties: false },
)

/** The visitor writes. Answered with `ack`; the message also arrives as `message.created`. */
export const VisitorMessageFrame = Type.Object(
  { type: Type.Literal('message'), clientId: ClientId, text: Text },
  { additionalProperties: false },
)

/** `BrevoConversations('sendAutoMessage', text)`: shown as an automatic message (`isTrigger`). */
export const AutoMessageFrame = Type.Object(
  { type: Type.Literal('autoMessage'), clientId: ClientId, text: Text },
  { additionalProperties: false },
)

export const VisitorTypingFrame = Type.Object(
  { type: Type.Literal('typing'), isTyping: Type.Boolean() },
  { additionalProperties: false },
)

/** `updateIntegrationData({email, firstName, …})` and the offline form's email. Merged. */
export const IntegrationDataFrame = Type.Object(
  {
    type: Type.Literal('integrationData'),
    data: Type.Record(
      Type.String({ minLength: 1, maxLength: 64, pattern: STORABLE }),
      Type.Union([ShortText(1024), Type.Number(), Type.Boolean(), Type.Null()]),
      { maxProperties: 50 },
    ),
  },
  { additionalProperties: false },
)

/** The visitor moved to another page of the site (single-page apps). */
export const PageFrame = Type.Object(
  { type: Type.Literal('page'), page: PageVisit },
  { additionalProperties: false },
)

export const PingFrame = Type.Object({ type: Type.Literal('ping') }, { additionalProperties: false })

export const VisitorClientFrame = Type.Union([
  VisitorHello,
  VisitorMessageFrame,
  AutoMessageFrame,
  VisitorTypingFrame,
  IntegrationDataFrame,
  PageFrame,
  PingFrame,
])
export type VisitorClientFrame = Static<typeof VisitorClientFrame>

// ---- server → visitor ------------------------------------------------------------------------

/** A message as the widget shows it: no agent e-mail, no internal ids beyond the message's own. */
export interface WidgetMessage {
  /** The id the REST API uses (`GET /v3/conversations/messages/{id}`). */
  id: string
  type: 'agent' | 'visitor'
  text: string
  createdAt: number
  editedAt?: number
  agentName?: string
  agentUserpic?: string
  isPushed?: boolean
  isTrigger?: boolean
  file?: { name: string; link: string; mimeType?: string; size: number; isImage: boolean }
}

export interface AgentCard {
  id: string
  name: string
  userpic?: string
}

export interface WelcomeFrame {
  type: 'welcome'
  visitorId: string
  /** Keep it (localStorage) and send it in the next `hello`. */
  visitorToken: string
  conversationId: string | null
  accountName: string
  /** Agents online now; empty means nobody can answer live (ask for an e-mail). */
  agents: AgentCard[]
  /**
   * true: the server honoured `lastSeq` and replays what was missed as ordinary frames next.
   * false: `messages` is the whole recent history; drop what was shown before.
   */
  resumed: boolean
  messages: WidgetMessage[]
  /**
   * The client's position once this frame is applied: frames that follow carry higher seqs (a
   * resumed replay first, then live ones). Send the last seq applied as `lastSeq` on reconnect.
   */
  seq: number
}

/** A change in the visitor's conversation. Apply in order; `seq` only grows. */
export interface MessageEventFrame {
  type: 'message.created' | 'message.updated' | 'message.deleted'
  seq: number
  message: WidgetMessage
}

export interface ConversationClosedFrame {
  type: 'conversation.closed'
  seq: number
}

export interface PresenceFrame {
  type: 'presence'
  agents: AgentCard[]
}

export interface AgentTypingFrame {
  type: 'typing'
  isTyping: boolean
  agentName?: string
}

/** The server stored the message the client sent with `clientId`. */
export interface AckFrame {
  type: 'ack'
  clientId: string
  message: WidgetMessage
}

/**
 * A refused frame. `code` values: `invalid_frame` (not JSON or not a known frame), `hello_required`,
 * `binding_refused` (verified binding on and the signature is missing or wrong; the socket closes),
 * `unknown_widget`, `rate_limited` (see `retryAfterMs`), `invalid_parameter`, `internal_error`.
 * `clientId` names the message frame that failed, when one did.
 */
export interface ErrorFrame {
  type: 'error'
  code: string
  message: string
  clientId?: string
  retryAfterMs?: number
}

export interface PongFrame {
  type: 'pong'
}

export type VisitorServerFrame =
  | WelcomeFrame
  | MessageEventFrame
  | ConversationClosedFrame
  | PresenceFrame
  | AgentTypingFrame
  | AckFrame
  | ErrorFrame
  | PongFrame

/** Close codes the server uses; the widget does not reconnect after 4401/4403/4404. */
export const CloseCode = {
  /** Verified binding refused. */
  bindingRefused: 4401,
  /** The page's origin is not on the account's allow-list. */
  originRefused: 4403,
  /** No account has this widget id. */
  unknownWidget: 4404,
  /** Too many frames; reconnecting later is fine. */
  tooManyFrames: 4429,
  /** No `hello` within one heartbeat of opening. */
  protocolError: 4400,
} as const

// ---- agent ↔ server (`/ws/agent`, for integrations and the inbox) --------------------------------

/** First frame on `/ws/agent`, unless the upgrade request carried an `api-key` header. */
export const AgentHello = Type.Object(
  {
    type: Type.Literal('hello'),
    apiKey: Type.Optional(ShortText(256)),
    /** Resume after this account seq; absent: only live events. */
    lastSeq: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
)

/** The agent is typing to a visitor; the visitor's widget shows it. */
export const AgentTypingClientFrame = Type.Object(
  {
    type: Type.Literal('typing'),
    visitorId: Type.String({ minLength: 1, maxLength: 128, pattern: STORABLE }),
    isTyping: Type.Boolean(),
    agentId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: STORABLE })),
  },
  { additionalProperties: false },
)

export const AgentClientFrame = Type.Union([AgentHello, AgentTypingClientFrame, PingFrame])
export type AgentClientFrame = Static<typeof AgentClientFrame>

export interface AgentWelcomeFrame {
  type: 'welcome'
  accountId: string
  seq: number
}

/** One stored event of the account, exactly as webhooks and the event log hold it. */
export interface AgentEventFrame {
  type: 'event'
  seq: number
  event: string
  conversationId?: string
  createdAt: number
  payload: unknown
}

export interface VisitorTypingServerFrame {
  type: 'typing'
  visitorId: string
  isTyping: boolean
}

export type AgentServerFrame = AgentWelcomeFrame | AgentEventFrame | VisitorTypingServerFrame | ErrorFrame | PongFrame
