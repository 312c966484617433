import { Conversation } from './conversation.js'
import {
  FINAL_CLOSE_CODES,
  WIDGET_PING_MS,
  type AgentCard,
  type ErrorFrame,
  type VisitorClientFrame,
  type VisitorServerFrame,
  type WelcomeFrame,
} from './protocol.js'
import type { Outgoing, Store } from './storage.js'

/** A socket that stays silent this long after our `ping` is dead. */
const SILENCE_MS = 10_000
/** From `new WebSocket` to `welcome`, on a slow network included. */
const CONNECT_MS = 15_000
const BACKOFF_MIN_MS = 500
const BACKOFF_MAX_MS = 10_000
/** Our typing state is re-sent this often while the visitor types, and cleared after this much idle. */
const TYPING_REPEAT_MS = 4_000
const TYPING_IDLE_MS = 3_000
/** An agent's typing indicator that nobody clears expires. */
const AGENT_TYPING_MS = 8_000
export const MAX_TEXT = 10_000

export interface Identity {
  visitorId?: string
  visitorIdSignature?: string
  groupId?: string
  language: string
}

export type IntegrationValue = string | number | boolean | null

export type Problem = 'refused' | 'unavailable'

/** Text the server can store: no NUL, no unpaired surrogate, at most `max` UTF-16 units. */
export function storable(text: string, max: number): string {
  let out = ''
  for (const ch of text) {
    const code = ch.charCodeAt(0)
    if (code === 0 || (ch.length === 1 && code >= 0xd800 && code <= 0xdfff)) continue
    if (out.length + ch.length > max) break
    out += ch
  }
  return out
}

function newClientId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'
  return Array.from(crypto.getRandomValues(new Uint8Array(20)), (b) => alphabet[b & 63]).join('')
}

/**
 * The visitor's side of `/ws/visitor`: one socket at a time, reconnected with backoff and jitter
 * after anything but a final refusal, resumed from the last applied `seq` within the page. Messages
 * the visitor sends wait in an outbox (kept in localStorage) until the server acknowledges them and
 * are re-sent with the same `clientId` after every reconnect, which the server stores only once.
 */
export class Session {
  readonly conversation = new Conversation()
  /** A `welcome` arrived on the current socket. */
  connected = false
  /** A `welcome` arrived on some socket of this page. */
  welcomed = false
  accountName = ''
  agents: AgentCard[] = []
  /** The agent typing right now ('' when unnamed); undefined when nobody is. */
  agentTyping: string | undefined
  problem: Problem | undefined
  /** Seconds to wait after `rate_limited`, while the notice shows. */
  slowDown = 0

  private ws: WebSocket | undefined
  /** This page's visitor, once welcomed: reconnects resume it, whatever another tab stored since. */
  private token: string | undefined
  /** The token the current socket's hello carried. */
  private sentToken: string | undefined
  private outbox: Outgoing[]
  /** Client ids this page has had in its outbox; the stored outbox's others are other tabs'. */
  private readonly known = new Set<string>()
  private integration: Record<string, IntegrationValue> | undefined
  /** The integration data sent last: the server does not acknowledge it, but may refuse it. */
  private integrationSent: Record<string, IntegrationValue> | undefined
  private attempt = 0
  private stopped = false
  private typingSentAt = 0
  private timers: Record<'retry' | 'ping' | 'silence' | 'idle' | 'agentTyping' | 'slowDown', ReturnType<typeof setTimeout> | undefined> = {
    retry: undefined,
    ping: undefined,
    silence: undefined,
    idle: undefined,
    agentTyping: undefined,
    slowDown: undefined,
  }

  constructor(
    private readonly url: string,
    private readonly identity: Identity,
    private readonly store: Store,
    private readonly changed: () => void,
  ) {
    let saved = store.read()
    // Nothing of a signed-in user (their token, unsent messages, e-mail) carries over to whoever
    // uses the browser after they sign out, or to the next user who signs in.
    if (saved.bound && saved.visitorId !== identity.visitorId) {
      store.save({ visitorToken: undefined, visitorId: undefined, bound: false, outbox: [], email: undefined, readUpTo: undefined, seq: undefined })
      saved = store.read()
    }
    this.outbox = saved.outbox ?? []
    for (const entry of this.outbox) this.known.add(entry.clientId)
    for (const entry of this.outbox) {
      if (entry.kind === 'message') this.conversation.addPending(entry.clientId, entry.text, entry.createdAt)
      if (entry.failed) this.conversation.setState(entry.clientId, 'failed')
    }
  }

  start(): void {
    addEventListener('online', this.wake)
    addEventListener('offline', this.probe)
    document.addEventListener('visibilitychange', this.wake)
    this.connect()
  }

  stop(): void {
    this.stopped = true
    removeEventListener('online', this.wake)
    removeEventListener('offline', this.probe)
    document.removeEventListener('visibilitychange', this.wake)
    this.disconnect(1000)
    for (const timer of Object.values(this.timers)) clearTimeout(timer)
  }

  /** The visitor writes: shown at once as "sending", delivered whenever a socket is up. */
  say(text: string): void {
    const clean = storable(text.trim(), MAX_TEXT)
    if (!clean) return
    const entry: Outgoing = { clientId: newClientId(), kind: 'message', text: clean, createdAt: Date.now() }
    this.conversation.addPending(entry.clientId, clean, entry.createdAt)
    this.queue(entry)
    this.typing(false)
  }

  /** `sendAutoMessage(text)`: the server shows it as an automatic message, it is not echoed as pending. */
  sayAutomatically(text: string): void {
    const clean = storable(String(text).trim(), MAX_TEXT)
    if (clean) this.queue({ clientId: newClientId(), kind: 'autoMessage', text: clean, createdAt: Date.now() })
  }

  retry(clientId: string): void {
    const entry = this.outbox.find((e) => e.clientId === clientId)
    if (!entry) return
    entry.failed = false
    this.conversation.setState(clientId, 'sending')
    this.saveOutbox()
    this.transmit(entry)
    this.changed()
  }

  /** `updateIntegrationData` and the away form: merged, and held until a socket is up. */
  updateIntegrationData(data: Record<string, unknown>): void {
    const clean: Record<string, IntegrationValue> = { ...this.integration }
    for (const [key, value] of Object.entries(data).slice(0, 50)) {
      if (!key || key.length > 64) continue
      if (typeof value === 'string') clean[key] = storable(value, 1024)
      else if (typeof value === 'boolean' || value === null || (typeof value === 'number' && isFinite(value))) clean[key] = value
    }
    this.integration = clean
    this.flushIntegration()
  }

  /** The visitor typed (true) or sent/left the text (false). Throttled; cleared when idle. */
  typing(active: boolean): void {
    clearTimeout(this.timers.idle)
    const now = Date.now()
    if (active) {
      if (now - this.typingSentAt > TYPING_REPEAT_MS && this.send({ type: 'typing', isTyping: true })) this.typingSentAt = now
      this.timers.idle = setTimeout(() => this.typing(false), TYPING_IDLE_MS)
    } else if (this.typingSentAt) {
      this.typingSentAt = 0
      this.send({ type: 'typing', isTyping: false })
    }
  }

  private queue(entry: Outgoing): void {
    this.outbox.push(entry)
    this.saveOutbox()
    this.transmit(entry)
    this.changed()
  }

  private transmit(entry: Outgoing): void {
    if (this.connected) this.send({ type: entry.kind, clientId: entry.clientId, text: entry.text })
  }

  private flushIntegration(): void {
    if (this.integration && this.connected && this.send({ type: 'integrationData', data: this.integration })) {
      this.integrationSent = this.integration
      this.integration = undefined
    }
  }

  /** Writes this page's outbox beside the entries other tabs of the site keep there. */
  private saveOutbox(): void {
    for (const entry of this.outbox) this.known.add(entry.clientId)
    const others = (this.store.read().outbox ?? []).filter((entry) => !this.known.has(entry.clientId))
    this.store.save({ outbox: [...others, ...this.outbox] })
  }

  private send(frame: VisitorClientFrame): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false
    this.ws.send(JSON.stringify(frame))
    return true
  }

  private connect(): void {
    clearTimeout(this.timers.retry)
    if (this.stopped || this.ws) return
    let ws: WebSocket
    try {
      ws = new WebSocket(this.url)
    } catch {
      return this.dropped(1006)
    }
    this.ws = ws
    ws.onopen = () => this.send(this.hello())
    ws.onmessage = (event) => this.receive(event.data)
    ws.onclose = (event) => {
      if (this.ws === ws) this.dropped(event.code)
    }
    this.timers.ping = setInterval(this.probe, WIDGET_PING_MS)
    this.timers.silence = setTimeout(() => this.dropped(1006), CONNECT_MS)
  }

  private hello(): VisitorClientFrame {
    this.sentToken = this.token ?? this.store.read().visitorToken
    const { visitorId, visitorIdSignature, groupId, language } = this.identity
    return {
      type: 'hello',
      visitorToken: this.sentToken,
      visitorId,
      visitorIdSignature,
      groupId,
      // Within the page the list is still on screen, so only what it missed is needed.
      lastSeq: this.welcomed ? this.conversation.seq : undefined,
      page: { link: storable(location.href, 2048), title: storable(document.title, 512) },
      language: storable(language, 64),
    }
  }

  /** Is the socket still alive? Any frame within SILENCE_MS says yes. */
  private probe = (): void => {
    if (this.timers.silence || !this.send({ type: 'ping' })) return
    this.timers.silence = setTimeout(() => this.dropped(1006), SILENCE_MS)
  }

  /** Back online or back in view (a phone waking up): reconnect now, or check the socket we have. */
  private wake = (): void => {
    if (document.visibilityState === 'hidden' || this.stopped) return
    this.attempt = 0
    if (this.ws) this.probe()
    else this.connect()
  }

  private disconnect(code: number): void {
    const ws = this.ws
    this.ws = undefined
    this.connected = false
    this.agentTyping = undefined
    clearInterval(this.timers.ping)
    clearTimeout(this.timers.silence)
    this.timers.silence = undefined
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null
      if (ws.readyState < WebSocket.CLOSING) ws.close(code)
    }
  }

  private dropped(code: number): void {
    this.disconnect(1000)
    if (FINAL_CLOSE_CODES.includes(code)) {
      this.problem ??= code === 4401 ? 'refused' : 'unavailable'
      this.stopped = true
    } else if (!this.stopped) {
      const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt++)
      this.timers.retry = setTimeout(() => this.connect(), ceiling / 2 + (Math.random() * ceiling) / 2)
    }
    this.changed()
  }

  private receive(data: unknown): void {
    let frame: VisitorServerFrame
    try {
      frame = JSON.parse(String(data))
    } catch {
      return
    }
    clearTimeout(this.timers.silence)
    this.timers.silence = undefined
    switch (frame.type) {
      case 'welcome':
        this.welcome(frame)
        break
      case 'message.created':
      case 'message.updated':
      case 'message.deleted':
        if (this.conversation.apply(frame) && frame.type === 'message.created' && frame.message.type === 'agent') {
          this.agentTyping = undefined
        }
        this.store.save({ seq: this.conversation.seq })
        break
      case 'conversation.closed':
        this.conversation.seq = Math.max(this.conversation.seq, frame.seq)
        break
      case 'presence':
        this.agents = frame.agents
        break
      case 'typing':
        clearTimeout(this.timers.agentTyping)
        this.agentTyping = frame.isTyping ? (frame.agentName ?? '') : undefined
        if (frame.isTyping) this.timers.agentTyping = setTimeout(() => this.typingStopped(), AGENT_TYPING_MS)
        break
      case 'ack':
        this.conversation.ack(frame.clientId, frame.message)
        this.outbox = this.outbox.filter((e) => e.clientId !== frame.clientId)
        this.saveOutbox()
        break
      case 'error':
        this.refused(frame)
        break
      default:
        return
    }
    this.changed()
  }

  private welcome(frame: WelcomeFrame): void {
    this.connected = true
    this.welcomed = true
    this.attempt = 0
    this.problem = undefined
    this.accountName = frame.accountName
    this.agents = frame.agents
    if (!frame.resumed) this.conversation.reset(frame.messages, frame.seq)
    this.token = frame.visitorToken
    // Two tabs on a first visit each become a visitor; the first to store its token stays the
    // site's visitor (the other tab goes on as its own until it is reloaded). A bound visitor's
    // token always replaces what was there.
    const stored = this.store.read().visitorToken
    if (stored === undefined || stored === this.sentToken || this.identity.visitorId !== undefined) {
      this.store.save({
        visitorToken: frame.visitorToken,
        visitorId: frame.visitorId,
        bound: this.identity.visitorId !== undefined,
        seq: this.conversation.seq,
      })
    }
    for (const entry of this.outbox) if (!entry.failed) this.transmit(entry)
    this.flushIntegration()
  }

  private typingStopped(): void {
    this.agentTyping = undefined
    this.changed()
  }

  private refused(frame: ErrorFrame): void {
    if (frame.code === 'binding_refused') this.problem = 'refused'
    if (frame.code === 'unknown_widget') this.problem = 'unavailable'
    if (!this.connected && this.problem === undefined) {
      // Refused before the welcome. A hello the server cannot read (the page's setup is wrong,
      // say a visitorId over 128 characters) would be refused again: say so and stop. Anything
      // else (a server error) is a failed connection: back off and try again.
      if (frame.code === 'invalid_frame') {
        console.warn(`Parley chat: ${frame.message}`)
        this.problem = 'unavailable'
        this.stopped = true
        this.disconnect(1000)
      } else {
        this.dropped(1006)
      }
      return
    }
    const limited = frame.code === 'rate_limited'
    const pauseMs = Math.max(1000, frame.retryAfterMs ?? 1000)
    const entry = frame.clientId ? this.outbox.find((e) => e.clientId === frame.clientId) : undefined
    if (!entry) {
      // Only integration data goes out without a clientId and can be refused for speed: merging is
      // idempotent, so it is simply sent again after the pause.
      if (limited && this.integrationSent) {
        this.integration = { ...this.integrationSent, ...this.integration }
        this.integrationSent = undefined
        setTimeout(() => this.flushIntegration(), pauseMs)
      }
      return
    }
    if (entry.kind === 'autoMessage') {
      // Nobody sees it waiting, so nobody could retry it: try once more after the pause, or give up.
      this.outbox = this.outbox.filter((e) => e !== entry)
      if (limited) setTimeout(() => this.queue(entry), pauseMs)
    } else {
      // Not stored: the text stays on screen, marked, until the visitor retries it.
      entry.failed = true
      this.conversation.setState(entry.clientId, 'failed')
      if (limited) this.pause(Math.ceil(pauseMs / 1000))
    }
    this.saveOutbox()
  }

  /** "You're sending messages too quickly — try again in N s", for N seconds. */
  private pause(seconds: number): void {
    this.slowDown = seconds
    clearTimeout(this.timers.slowDown)
    this.timers.slowDown = setTimeout(() => {
      this.slowDown = 0
      this.changed()
    }, seconds * 1000)
  }
}
