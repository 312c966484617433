import type { WebSocket } from 'ws'
import type { StoredEvent } from '../domain/events.js'
import type { BrowserFacts, PageVisit } from '../domain/model.js'
import type { Logger } from '../logger.js'
import type { Signal } from '../ports/pubsub.js'
import { onlineAgentCards } from '../services/agents.js'
import type { ServiceDeps } from '../services/deps.js'
import { isKeyStored } from '../services/idempotency.js'
import { sendAutoMessage, sendVisitorMessage } from '../services/messages.js'
import { updateIntegrationData } from '../services/visitors.js'
import {
  BindingRefusedError,
  findWidgetAccount,
  identifyVisitor,
  originAllowed,
  type VisitorIdentity,
  type WidgetAccount,
} from '../services/widget.js'
import { NotFoundError } from '../domain/errors.js'
import { Connection } from './connection.js'
import { createFrameParser } from './frames.js'
import type { Hub, Membership } from './hub.js'
import {
  AutoMessageFrame,
  CloseCode,
  IntegrationDataFrame,
  PageFrame,
  PingFrame,
  VisitorHello,
  VisitorMessageFrame,
  VisitorTypingFrame,
  type AgentCard,
  type VisitorClientFrame,
  type VisitorServerFrame,
  type WelcomeFrame,
} from './protocol.js'
import { TokenBucket } from './token-bucket.js'
import { toWidgetMessage } from './widget-message.js'

const parseFrame = createFrameParser<VisitorClientFrame>([
  VisitorHello,
  VisitorMessageFrame,
  AutoMessageFrame,
  VisitorTypingFrame,
  IntegrationDataFrame,
  PageFrame,
  PingFrame,
])

/** How many recent messages a new page receives. */
export const HISTORY_LIMIT = 200
/** Beyond this many missed events a reconnecting widget gets the history afresh instead. */
export const REPLAY_LIMIT = 1000
/** A visitor typing is announced at most this often (stopping is always announced). */
const TYPING_EVERY_MS = 2_000
const MESSAGE_BURST = 10

/** What the visitor gateway shares between its sockets. */
export interface VisitorGatewayShared {
  deps: ServiceDeps
  hub: Hub
  logger: Logger
  visitorMessagesPerMinute: number
  /** Per visitor (all their tabs), so opening tabs does not multiply the limit. */
  buckets: Map<string, TokenBucket>
}

export interface VisitorRequestFacts {
  widgetId: string
  origin?: string
  browser: BrowserFacts
}

/** One widget's socket: `/ws/visitor`. */
export class VisitorConnection extends Connection {
  visitorId: string | undefined
  /** Empty until the widget id named an account. */
  private accountId = ''
  /**
   * The account and its widget settings, needed until the hello is answered. Dropped then: each
   * socket read its own copy, and an idle socket should cost as little as possible.
   */
  private widget: WidgetAccount | undefined
  private membership: Membership | undefined
  private page: PageVisit | undefined
  private groupId: string | undefined
  private lastTypingAt = 0
  private gone = false

  constructor(
    socket: WebSocket,
    private readonly shared: VisitorGatewayShared,
    private readonly facts: VisitorRequestFacts,
  ) {
    super(socket, shared.logger)
    this.enqueue(() => this.open())
  }

  get ready(): boolean {
    return this.visitorId !== undefined
  }

  /** Which account: refused before any frame is read when the widget id or the page's origin is wrong. */
  private async open(): Promise<void> {
    try {
      this.widget = await findWidgetAccount(this.shared.deps, this.facts.widgetId)
      this.accountId = this.widget.account.id
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err
      this.sendError('unknown_widget', `No account has the widget id "${this.facts.widgetId}"`)
      this.close(CloseCode.unknownWidget, 'unknown widget id')
      return
    }
    if (!originAllowed(this.widget.settings, this.facts.origin)) {
      this.sendError('origin_refused', `This chat is not enabled for pages of ${this.facts.origin ?? 'an unknown origin'}`)
      this.close(CloseCode.originRefused, 'origin not allowed')
    }
  }

  protected async handle(raw: string): Promise<void> {
    if (!this.accountId || this.gone) return
    const parsed = parseFrame(raw)
    if (!parsed.ok) return this.sendError('invalid_frame', parsed.message)
    const frame = parsed.frame
    if (frame.type === 'ping') return this.send({ type: 'pong' })
    if (frame.type === 'hello') return this.hello(frame)
    if (!this.ready) return this.sendError('hello_required', 'Send a hello frame first')
    switch (frame.type) {
      case 'message':
      case 'autoMessage':
        return this.message(frame)
      case 'typing':
        return this.typing(frame.isTyping)
      case 'integrationData':
        if (!this.admit()) return
        await updateIntegrationData(this.shared.deps, this.accountId, this.visitorId!, frame.data)
        return
      case 'page':
        this.page = frame.page
        return
    }
  }

  private async hello(frame: Extract<VisitorClientFrame, { type: 'hello' }>): Promise<void> {
    if (this.ready) return this.sendError('invalid_frame', 'hello was already sent on this socket')
    let identity: VisitorIdentity
    try {
      identity = identifyVisitor(this.widget!, frame)
    } catch (err) {
      if (!(err instanceof BindingRefusedError)) throw err
      this.sendError('binding_refused', err.message)
      this.close(CloseCode.bindingRefused, 'binding refused')
      return
    }
    this.page = frame.page
    this.groupId = frame.groupId
    if (frame.language) this.facts.browser.language = frame.language
    this.visitorId = identity.visitorId
    // Join first, then read: whatever commits after the read reaches this socket through the hub.
    this.membership = this.shared.hub.join(this.accountId, this)
    try {
      await this.welcome(frame, identity)
    } catch (err) {
      // Not half-joined: a held membership would collect events forever.
      this.membership.leave()
      this.membership = undefined
      this.visitorId = undefined
      throw err
    }
    this.widget = undefined
  }

  private async welcome(frame: Extract<VisitorClientFrame, { type: 'hello' }>, identity: VisitorIdentity): Promise<void> {
    const { deps, hub } = this.shared
    const accountId = this.accountId
    const position = await deps.storage.read.accounts.lastSeq(accountId)
    hub.position(accountId, position)
    const [conversation, agents] = await Promise.all([
      deps.storage.read.conversations.getByVisitor(accountId, identity.visitorId),
      onlineAgentCards(deps, accountId),
    ])
    const welcome: WelcomeFrame = {
      type: 'welcome',
      visitorId: identity.visitorId,
      visitorToken: identity.visitorToken,
      conversationId: conversation?.id ?? null,
      accountName: this.widget!.account.name,
      agents,
      resumed: false,
      messages: [],
      seq: position,
    }
    let replay: StoredEvent[] = []
    const lastSeq = frame.lastSeq
    const canResume = identity.continued && lastSeq !== undefined && lastSeq <= position
    if (canResume && conversation) {
      replay = await deps.storage.read.events.listConversationAfter(accountId, conversation.id, lastSeq, REPLAY_LIMIT + 1)
    }
    if (canResume && replay.length <= REPLAY_LIMIT) {
      welcome.resumed = true
      welcome.seq = lastSeq
    } else {
      replay = []
      if (conversation) {
        const messages = await deps.storage.read.messages.listLive(accountId, conversation.id, HISTORY_LIMIT)
        welcome.messages = messages.map(toWidgetMessage)
      }
    }
    if (this.gone) return
    this.send(welcome)
    for (const event of replay) this.event(event)
    this.membership!.ready(Math.max(position, replay.at(-1)?.seq ?? 0))
  }

  private async message(frame: Extract<VisitorClientFrame, { type: 'message' | 'autoMessage' }>): Promise<void> {
    const { deps } = this.shared
    const visitorId = this.visitorId!
    // The clientId is the idempotency key: a message re-sent after a reconnect is stored once.
    const idempotency = { key: frame.clientId, scope: `widget ${frame.type} ${visitorId}`, body: { text: frame.text } }
    // A re-send of a message already stored (its ack was lost with the connection) stores nothing,
    // so it costs nothing: otherwise a burst re-sent after a reconnect is refused, and the widget
    // marks messages "not sent" that the agent already has.
    const resent = await isKeyStored(deps, this.accountId, idempotency.scope, idempotency.key)
    const retryAfterMs = resent ? 0 : this.throttle()
    if (retryAfterMs > 0) {
      const seconds = Math.ceil(retryAfterMs / 1000)
      return this.sendError('rate_limited', `You're sending messages too quickly. Try again in ${seconds} s.`, {
        clientId: frame.clientId,
        retryAfterMs,
      })
    }
    try {
      const message =
        frame.type === 'message'
          ? await sendVisitorMessage(
              deps,
              this.accountId,
              { visitorId, text: frame.text, page: this.page, browser: this.facts.browser, groupId: this.groupId },
              idempotency,
            )
          : await sendAutoMessage(deps, this.accountId, { visitorId, text: frame.text }, idempotency)
      this.send({ type: 'ack', clientId: frame.clientId, message: toWidgetMessage(message) })
    } catch (err) {
      this.fail(err, frame.clientId)
    }
  }

  private typing(isTyping: boolean): void {
    const now = Date.now()
    if (isTyping && now - this.lastTypingAt < TYPING_EVERY_MS) return
    this.lastTypingAt = isTyping ? now : 0
    const signal: Signal = { kind: 'typing', accountId: this.accountId, visitorId: this.visitorId!, from: 'visitor', isTyping }
    this.shared.deps.pubsub.signal(signal).catch((err) => this.logger.debug({ err }, 'typing signal lost'))
  }

  /** The visitor's message bucket: 0 when the message may go, else how long to wait. */
  private throttle(): number {
    const key = `${this.accountId} ${this.visitorId}`
    const now = this.shared.deps.clock.now()
    let bucket = this.shared.buckets.get(key)
    if (!bucket) {
      const perMinute = this.shared.visitorMessagesPerMinute
      this.shared.buckets.set(key, (bucket = new TokenBucket(Math.min(MESSAGE_BURST, perMinute), perMinute, now)))
    }
    return bucket.take(now)
  }

  private admit(): boolean {
    const retryAfterMs = this.throttle()
    if (retryAfterMs > 0) this.sendError('rate_limited', 'Too many updates; try again shortly', { retryAfterMs })
    return retryAfterMs === 0
  }

  // ---- HubClient ----

  event(event: StoredEvent): void {
    let frame: VisitorServerFrame
    switch (event.type) {
      case 'message.created':
      case 'message.updated':
      case 'message.deleted':
        frame = { type: event.type, seq: event.seq, message: toWidgetMessage((event as StoredEvent<'message.created'>).payload.message) }
        break
      case 'conversation.closed':
        frame = { type: 'conversation.closed', seq: event.seq }
        break
      default:
        return
    }
    this.send(frame)
  }

  signal(signal: Signal): void {
    this.send({ type: 'typing', isTyping: signal.isTyping, ...(signal.agentName ? { agentName: signal.agentName } : {}) })
  }

  presence(agents: AgentCard[]): void {
    this.send({ type: 'presence', agents })
  }

  protected closed(): void {
    this.gone = true
    this.membership?.leave()
    if (this.visitorId && this.accountId) {
      const key = `${this.accountId} ${this.visitorId}`
      // A bucket that refilled holds nothing worth keeping; a draining one outlives the socket so
      // reconnecting does not reset the limit.
      if (this.shared.buckets.get(key)?.idle(this.shared.deps.clock.now())) this.shared.buckets.delete(key)
    }
  }
}
