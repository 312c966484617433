import type { WebSocket } from 'ws'
import { UnauthorizedError } from '../domain/errors.js'
import type { StoredEvent } from '../domain/events.js'
import type { Logger } from '../logger.js'
import type { Signal } from '../ports/pubsub.js'
import { authenticateKey } from '../services/accounts.js'
import type { ServiceDeps } from '../services/deps.js'
import { Connection } from './connection.js'
import { createFrameParser } from './frames.js'
import type { Hub, Membership } from './hub.js'
import {
  AgentHello,
  AgentTypingClientFrame,
  CloseCode,
  PingFrame,
  type AgentClientFrame,
  type AgentEventFrame,
  type AgentServerFrame,
} from './protocol.js'

const parseFrame = createFrameParser<AgentClientFrame>([AgentHello, AgentTypingClientFrame, PingFrame])

/** Events replayed per database read while an agent socket catches up. */
const REPLAY_PAGE = 500

export interface AgentGatewayShared {
  deps: ServiceDeps
  hub: Hub
  logger: Logger
}

/**
 * `/ws/agent`: an integration's or the inbox's live feed of every event of the account, with the
 * same resume-by-seq as the widget, plus typing in both directions. Authenticated by the
 * `api-key` header of the upgrade request or by `apiKey` in the hello.
 */
export class AgentConnection extends Connection {
  private accountId: string | undefined
  private membership: Membership | undefined
  private gone = false

  constructor(
    socket: WebSocket,
    private readonly shared: AgentGatewayShared,
    private readonly headerKey: string | undefined,
  ) {
    super(socket, shared.logger)
  }

  get ready(): boolean {
    return this.accountId !== undefined
  }

  protected async handle(raw: string): Promise<void> {
    if (this.gone) return
    const parsed = parseFrame(raw)
    if (!parsed.ok) return this.sendError('invalid_frame', parsed.message)
    const frame = parsed.frame
    if (frame.type === 'ping') return this.send({ type: 'pong' })
    if (frame.type === 'hello') return this.hello(frame)
    if (!this.ready) return this.sendError('hello_required', 'Send a hello frame first')
    let agentName: string | undefined
    if (frame.agentId !== undefined) {
      agentName = (await this.shared.deps.storage.read.agents.get(this.accountId!, frame.agentId))?.name
    }
    const signal: Signal = {
      kind: 'typing',
      accountId: this.accountId!,
      visitorId: frame.visitorId,
      from: 'agent',
      isTyping: frame.isTyping,
      ...(agentName ? { agentName } : {}),
    }
    await this.shared.deps.pubsub.signal(signal)
  }

  private async hello(frame: Extract<AgentClientFrame, { type: 'hello' }>): Promise<void> {
    if (this.ready) return this.sendError('invalid_frame', 'hello was already sent on this socket')
    const { deps, hub } = this.shared
    let accountId: string
    try {
      accountId = (await authenticateKey(deps, frame.apiKey ?? this.headerKey)).accountId
    } catch (err) {
      if (!(err instanceof UnauthorizedError)) throw err
      this.sendError('unauthorized', err.message)
      this.close(CloseCode.bindingRefused, 'unauthorized')
      return
    }
    this.accountId = accountId
    const membership = (this.membership = hub.join(accountId, this))
    try {
      const position = await deps.storage.read.accounts.lastSeq(accountId)
      hub.position(accountId, position)
      let mark = position
      if (frame.lastSeq !== undefined && frame.lastSeq < position) {
        this.send({ type: 'welcome', accountId, seq: frame.lastSeq } satisfies AgentServerFrame)
        // Page through the missed events; the hub holds live ones until the end.
        for (let after = frame.lastSeq; after < position && !this.gone; ) {
          const page = await deps.storage.read.events.listAfter(accountId, after, REPLAY_PAGE)
          if (page.length === 0) break
          for (const event of page) this.event(event)
          after = page.at(-1)!.seq
          mark = Math.max(mark, after)
        }
      } else {
        this.send({ type: 'welcome', accountId, seq: position } satisfies AgentServerFrame)
      }
      membership.ready(mark)
    } catch (err) {
      membership.leave()
      this.membership = undefined
      this.accountId = undefined
      throw err
    }
  }

  // ---- HubClient ----

  event(event: StoredEvent): void {
    const frame: AgentEventFrame = {
      type: 'event',
      seq: event.seq,
      event: event.type,
      createdAt: event.createdAt,
      payload: event.payload,
    }
    if (event.conversationId !== undefined) frame.conversationId = event.conversationId
    this.send(frame)
  }

  signal(signal: Signal): void {
    this.send({ type: 'typing', visitorId: signal.visitorId, isTyping: signal.isTyping } satisfies AgentServerFrame)
  }

  protected closed(): void {
    this.gone = true
    this.membership?.leave()
  }
}
