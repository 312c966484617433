/** A message sent by this browser that the server has not acknowledged yet. */
export interface Outgoing {
  clientId: string
  kind: 'message' | 'autoMessage'
  text: string
  createdAt: number
  /** Refused by the server: waits for the visitor's retry instead of being re-sent on reconnect. */
  failed?: boolean
}

/** What survives a reload or a visit to another page of the site, per widget id. */
export interface Saved {
  visitorToken?: string
  visitorId?: string
  /** The token was issued for a site-given visitorId (a signed-in user). */
  bound?: boolean
  seq?: number
  /** Agent messages created up to this time were seen with the chat open. */
  readUpTo?: number
  outbox?: Outgoing[]
  email?: string
}

export interface Store {
  read(): Saved
  save(changes: Partial<Saved>): void
}

/**
 * localStorage under `parley:<widgetId>`. Every save re-reads first, so two tabs of the same
 * site do not undo each other's changes. Without storage (blocked, private mode quota) the widget
 * still works, as a new visitor on every page.
 */
export function openStore(widgetId: string): Store {
  const key = `parley:${widgetId}`
  let memory: Saved = {}
  function read(): Saved {
    try {
      const raw = localStorage.getItem(key)
      return raw ? (JSON.parse(raw) as Saved) : memory
    } catch {
      return memory
    }
  }
  return {
    read,
    save(changes) {
      memory = { ...read(), ...changes }
      try {
        localStorage.setItem(key, JSON.stringify(memory))
      } catch {
        // Storage is full or blocked: `memory` carries this page on.
      }
    },
  }
}
