import type { StoredEvent } from '../domain/events.js'
import type { Logger } from '../logger.js'
import type { PubSub, Signal } from '../ports/pubsub.js'
import type { Repos } from '../ports/storage.js'
import type { AgentCard } from './protocol.js'

/** One socket as the hub sees it. */
export interface HubClient {
  /** Visitors receive their own conversation's events; agents (no visitorId) the whole account's. */
  readonly visitorId?: string
  event(event: StoredEvent): void
  signal(signal: Signal): void
  /** Who is online, after someone came online or went offline (visitors only). */
  presence?(agents: AgentCard[]): void
}

export interface HubOptions {
  pubsub: PubSub
  read: Repos
  logger: Logger
  /** The account's online agents as visitors see them. */
  agentCards(accountId: string): Promise<AgentCard[]>
}

/**
 * A client's place in the hub. Events reach it only after `ready(mark)`: until then they are
 * held, so the gateway can backfill from the database without a gap or a duplicate
 * (backfill → cutover → stream).
 */
export interface Membership {
  ready(mark: number): void
  leave(): void
}

// How long a seq gap may stay open before the hub reads the missing events from the database.
// Commits of concurrent transactions can be published slightly out of order; pub/sub across
// processes may lose a message outright.
const GAP_WAIT_MS = 100
const GAP_FILL_BATCH = 500

class Member implements Membership {
  lastSeq = -1
  held: StoredEvent[] | undefined = []

  constructor(
    readonly client: HubClient,
    private readonly onLeave: (member: Member) => void,
  ) {}

  deliver(event: StoredEvent): void {
    if (this.held) this.held.push(event)
    else if (event.seq > this.lastSeq) {
      this.lastSeq = event.seq
      this.client.event(event)
    }
  }

  ready(mark: number): void {
    const held = this.held ?? []
    this.held = undefined
    this.lastSeq = Math.max(this.lastSeq, mark)
    for (const event of held) this.deliver(event)
  }

  leave(): void {
    this.onLeave(this)
  }
}

/** Per account: its members and the ordering of its event stream. */
class AccountRoom {
  readonly agents = new Set<Member>()
  readonly visitors = new Map<string, Set<Member>>()
  /** The seq the room expects next; undefined until a gateway told it where the stream stood. */
  nextSeq: number | undefined
  readonly early = new Map<number, StoredEvent>()
  gapTimer: NodeJS.Timeout | undefined
  filling = false
  /** Bumped per presence change, so a slow lookup never overwrites a newer one. */
  presenceVersion = 0

  get empty(): boolean {
    return this.agents.size === 0 && this.visitors.size === 0
  }
}

/**
 * Routes committed events and live signals to this process's sockets, in seq order per account.
 * Only accounts with a connected socket cost anything.
 */
export class Hub {
  private readonly rooms = new Map<string, AccountRoom>()
  private readonly unsubscribe: Array<() => void>

  private readonly read: Repos
  private readonly logger: Logger

  constructor(private readonly options: HubOptions) {
    this.read = options.read
    this.logger = options.logger
    this.unsubscribe = [
      options.pubsub.subscribe((event) => this.receive(event)),
      options.pubsub.onSignal((signal) => this.relay(signal)),
    ]
  }

  get connections(): number {
    let n = 0
    for (const room of this.rooms.values()) {
      n += room.agents.size
      for (const members of room.visitors.values()) n += members.size
    }
    return n
  }

  join(accountId: string, client: HubClient): Membership {
    let room = this.rooms.get(accountId)
    if (!room) this.rooms.set(accountId, (room = new AccountRoom()))
    const member = new Member(client, (m) => this.remove(accountId, m))
    if (client.visitorId === undefined) room.agents.add(member)
    else {
      let members = room.visitors.get(client.visitorId)
      if (!members) room.visitors.set(client.visitorId, (members = new Set()))
      members.add(member)
    }
    return member
  }

  /**
   * Tells a new room where the account's stream stood (the seq a joining gateway read after
   * joining). Events at or below it are in that gateway's backfill.
   */
  position(accountId: string, lastSeq: number): void {
    const room = this.rooms.get(accountId)
    if (!room || room.nextSeq !== undefined) return
    room.nextSeq = lastSeq + 1
    this.drain(accountId, room)
  }

  close(): void {
    for (const off of this.unsubscribe) off()
    for (const room of this.rooms.values()) clearTimeout(room.gapTimer)
    this.rooms.clear()
  }

  private remove(accountId: string, member: Member): void {
    const room = this.rooms.get(accountId)
    if (!room) return
    const visitorId = member.client.visitorId
    if (visitorId === undefined) room.agents.delete(member)
    else {
      const members = room.visitors.get(visitorId)
      members?.delete(member)
      if (members?.size === 0) room.visitors.delete(visitorId)
    }
    if (room.empty) {
      clearTimeout(room.gapTimer)
      this.rooms.delete(accountId)
    }
  }

  private receive(event: StoredEvent): void {
    const room = this.rooms.get(event.accountId)
    if (!room) return
    if (room.nextSeq !== undefined && event.seq < room.nextSeq) return
    room.early.set(event.seq, event)
    this.drain(event.accountId, room)
  }

  /** Dispatches held events while they are consecutive; a gap waits, then is read from the database. */
  private drain(accountId: string, room: AccountRoom): void {
    if (room.nextSeq === undefined) return
    for (const seq of room.early.keys()) if (seq < room.nextSeq) room.early.delete(seq)
    let event: StoredEvent | undefined
    while ((event = room.early.get(room.nextSeq))) {
      room.early.delete(room.nextSeq)
      room.nextSeq++
      this.dispatch(room, event)
    }
    if (room.early.size > 0 && !room.gapTimer && !room.filling) {
      room.gapTimer = setTimeout(() => this.fillGap(accountId, room), GAP_WAIT_MS)
    }
  }

  private fillGap(accountId: string, room: AccountRoom): void {
    room.gapTimer = undefined
    if (room.early.size === 0 || room.nextSeq === undefined || this.rooms.get(accountId) !== room) return
    room.filling = true
    this.read.events
      .listAfter(accountId, room.nextSeq - 1, GAP_FILL_BATCH)
      .then((events) => {
        for (const event of events) if (event.seq >= room.nextSeq!) room.early.set(event.seq, event)
      })
      .catch((err) => this.logger.warn({ err, accountId }, 'could not fill an event gap; retrying'))
      .finally(() => {
        room.filling = false
        this.drain(accountId, room)
      })
  }

  private dispatch(room: AccountRoom, event: StoredEvent): void {
    for (const member of room.agents) member.deliver(event)
    const visitorId = visitorOf(event)
    if (visitorId !== undefined) {
      const members = room.visitors.get(visitorId)
      if (members) for (const member of members) member.deliver(event)
    } else if ((event.type === 'agent.online' || event.type === 'agent.offline') && room.visitors.size > 0) {
      this.announcePresence(event.accountId, room)
    }
  }

  /** One lookup per change, however many visitors watch. */
  private announcePresence(accountId: string, room: AccountRoom): void {
    const version = ++room.presenceVersion
    this.options
      .agentCards(accountId)
      .then((cards) => {
        if (version !== room.presenceVersion) return
        for (const members of room.visitors.values()) {
          for (const member of members) if (!member.held) member.client.presence?.(cards)
        }
      })
      .catch((err) => this.logger.warn({ err, accountId }, 'could not read who is online'))
  }

  private relay(signal: Signal): void {
    const room = this.rooms.get(signal.accountId)
    if (!room) return
    if (signal.from === 'visitor') {
      for (const member of room.agents) if (!member.held) member.client.signal(signal)
    } else {
      const members = room.visitors.get(signal.visitorId)
      if (members) for (const member of members) if (!member.held) member.client.signal(signal)
    }
  }
}

/** The visitor whose conversation an event belongs to, for the events a visitor sees. */
function visitorOf(event: StoredEvent): string | undefined {
  switch (event.type) {
    case 'message.created':
    case 'message.updated':
    case 'message.deleted':
      return (event as StoredEvent<'message.created'>).payload.message.visitorId
    case 'conversation.closed':
      return (event as StoredEvent<'conversation.closed'>).payload.visitorId
    default:
      return undefined
  }
}
