/** Plain records as services see them. Times are epoch milliseconds. */

export interface Account {
  id: string
  name: string
  /** The public id a site puts in `BrevoConversationsID`. */
  widgetId: string
  createdAt: number
}

export interface ApiKey {
  id: string
  accountId: string
  /** First characters of the key, for telling keys apart in listings. */
  prefix: string
  createdAt: number
  revokedAt?: number
}

export interface Agent {
  id: string
  accountId: string
  email: string
  name: string
  userpic?: string
  /** Created implicitly from an email (REST message or ping), not by an administrator. */
  isDummy: boolean
  createdAt: number
}

export interface AgentGroup {
  id: string
  accountId: string
  name: string
  createdAt: number
}

/** A page of the site, as the widget reports it. */
export interface PageVisit {
  link: string
  title: string
}

/** What the visitor's browser told the widget; shown to agents and sent in webhooks. */
export interface BrowserFacts {
  userAgent?: string
  language?: string
  ip?: string
}

export interface Visitor {
  id: string
  accountId: string
  groupId?: string
  /** `updateIntegrationData({email, firstName, …})` from the site, merged over time. */
  attributes?: Record<string, unknown>
  browser?: BrowserFacts
  lastPage?: PageVisit
  createdAt: number
}

export type VisitorChanges = Partial<Pick<Visitor, 'attributes' | 'browser' | 'lastPage'>>

/**
 * An account's widget settings. `tokenSecret` signs visitor tokens and never leaves the server;
 * `identitySecret` is given to the site so it can sign the visitorId it binds.
 */
export interface WidgetSettings {
  tokenSecret: string
  identitySecret: string
  /** When on, binding a visitorId needs HMAC-SHA256(identitySecret, visitorId) in hex. */
  verifiedBinding: boolean
  /** Origins (`https://shop.example`) whose pages may open the widget; empty allows all. */
  allowedOrigins: string[]
}

/**
 * How far a conversation's stored activity may lag its latest message. Rewriting the activity on
 * every message dirtied three of the nine pages a message's commit writes (the conversation's row
 * and two entries of the idle index); a message now rewrites it only once it is this stale. Reads
 * take the latest message's time where it is later, and the idle sweep checks the messages
 * themselves, so nothing outside storage sees the lag.
 */
export const ACTIVITY_RESOLUTION_MS = 15_000

export interface Conversation {
  id: string
  accountId: string
  visitorId: string
  status: 'open' | 'closed'
  /** The page the visitor was on when the conversation began (webhooks' `conversationStartPage`). */
  startPage?: PageVisit
  createdAt: number
  /** When its latest message was written (as read; the stored column may lag, see ACTIVITY_RESOLUTION_MS). */
  lastActivityAt: number
  /**
   * When the current stretch of the conversation began: its creation, or the first message after
   * it was closed. A transcript holds the messages from here on.
   */
  openedAt: number
  /**
   * When a visitor's or an agent's message (not a pushed or automatic one) started that stretch:
   * webhooks' `conversationStarted`. Absent until then; kept once closed, for the transcript.
   */
  startedAt?: number
}

export type MessageType = 'agent' | 'visitor'

export interface MessageFile {
  name: string
  link: string
  mimeType?: string
  size: number
  isImage: boolean
  imageInfo?: { width: number; height: number; previewLink?: string }
}

export interface Message {
  id: string
  accountId: string
  conversationId: string
  visitorId: string
  type: MessageType
  text: string
  agentId?: string
  agentName?: string
  agentUserpic?: string
  groupId?: string
  isPushed: boolean
  isTrigger: boolean
  receivedFrom?: string
  file?: MessageFile
  createdAt: number
  editedAt?: number
  deletedAt?: number
}

/**
 * Every field of `T` named, the optional ones too (as possibly undefined). Objects written on the
 * path of every message are built as literals of this type, not spread from another object: on
 * Node 20 a spread there made V8 keep some 6% of what a write allocated alive through two
 * young-generation collections, into the old generation, where only a mark-compact frees it
 * (README, Benchmarks, "Late night of 2026-12-05"). The type keeps such a literal from silently
 * dropping a field added later.
 */
export type Complete<T> = { [K in keyof Required<T>]: T[K] }
