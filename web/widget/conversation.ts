import type { MessageEventFrame, WidgetMessage } from './protocol.js'

/**
 * A message as the widget lists it. A visitor message the server has not stored yet has no `id`
 * (the REST id comes with its `ack`) and carries the `clientId` it is (re)sent under.
 */
export interface ShownMessage extends Omit<WidgetMessage, 'id'> {
  id?: string
  clientId?: string
  /** Only on visitor messages not stored yet. */
  state?: 'sending' | 'failed'
}

/**
 * The visitor's conversation as the widget shows it. Every change arrives at most once, in
 * order: events at or below the last applied `seq` are ignored, messages are matched by id (an
 * event for a message already listed updates it in place), and the list keeps the order in which
 * messages were created. Messages the server has not stored yet stay at the bottom.
 */
export class Conversation {
  seq = 0
  items: ShownMessage[] = []

  /** A fresh history from `welcome`; messages still waiting for their `ack` stay at the end. */
  reset(messages: WidgetMessage[], seq: number): void {
    this.items = [...messages, ...this.items.filter((m) => m.state)]
    this.seq = seq
  }

  /** Applies one event; false when it was already applied or changes nothing shown. */
  apply(frame: MessageEventFrame): boolean {
    if (frame.seq <= this.seq) return false
    this.seq = frame.seq
    const { message } = frame
    const at = this.indexOf(message.id)
    if (frame.type === 'message.deleted') {
      if (at < 0) return false
      this.items.splice(at, 1)
      return true
    }
    if (at >= 0) {
      this.items[at] = { ...message, clientId: this.items[at].clientId }
      return true
    }
    // An edit of a message older than the history we were given has nowhere to go.
    if (frame.type === 'message.updated') return false
    // The visitor's own message may be announced before its ack: it takes the waiting entry's place.
    const mine = message.type === 'visitor' ? this.items.findIndex((m) => m.state === 'sending' && m.text === message.text) : -1
    if (mine >= 0) this.items[mine] = { ...message, clientId: this.items[mine].clientId }
    else this.insert(message)
    return true
  }

  /** A visitor message shown at once, before the server has it. */
  addPending(clientId: string, text: string, createdAt: number): void {
    this.items.push({ clientId, type: 'visitor', text, createdAt, state: 'sending' })
  }

  /** The server stored the message sent as `clientId`. */
  ack(clientId: string, message: WidgetMessage): void {
    const waiting = this.items.findIndex((m) => m.clientId === clientId)
    const entry = this.items[waiting]
    if (entry?.id !== undefined && entry.id !== message.id) {
      // Another message with the same text (from another tab) was taken for this one: it keeps
      // its place, and this one comes in as a message of its own.
      entry.clientId = undefined
      return this.ack(clientId, message)
    }
    const stored = this.indexOf(message.id)
    if (waiting >= 0 && stored >= 0 && waiting !== stored) this.items.splice(waiting, 1)
    else if (waiting >= 0) this.items[waiting] = { ...message, clientId }
    else if (stored < 0) this.insert(message)
  }

  setState(clientId: string, state: 'sending' | 'failed'): void {
    const item = this.items.find((m) => m.clientId === clientId && m.state)
    if (item) item.state = state
  }


  /** Stored messages go above the ones not sent yet, which stay at the bottom until they are. */
  private insert(message: WidgetMessage): void {
    const unsent = this.items.findIndex((m) => m.state)
    this.items.splice(unsent < 0 ? this.items.length : unsent, 0, message)
  }

  private indexOf(id: string): number {
    return this.items.findIndex((m) => m.id === id)
  }
}
