import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Saved, Store } from '../web/widget/storage.js'

// The widget's Session with its browser around it faked: WebSocket, document, location and
// localStorage. For what two tabs, a sign-out or a refused hello do to it, which a single page in
// Chromium cannot show. The browser suites cover the rest against a real server.

class FakeSocket {
  static readonly OPEN = 1
  static readonly CLOSING = 2
  static all: FakeSocket[] = []
  readyState = 0
  sent: Array<Record<string, unknown>> = []
  onopen: (() => void) | null = null
  onmessage: ((event: { data: string }) => void) | null = null
  onclose: ((event: { code: number }) => void) | null = null
  constructor(readonly url: string) {
    FakeSocket.all.push(this)
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data))
  }
  close(): void {
    this.readyState = 3
  }
  open(): void {
    this.readyState = FakeSocket.OPEN
    this.onopen?.()
  }
  receive(frame: object): void {
    this.onmessage?.({ data: JSON.stringify(frame) })
  }
  drop(): void {
    this.readyState = 3
    this.onclose?.({ code: 1006 })
  }
}

/** One localStorage entry shared by the tabs of a test, copied on every read like the real one. */
function sharedStore(initial: Saved = {}): Store & { raw: () => Saved } {
  let value = JSON.stringify(initial)
  return {
    read: () => JSON.parse(value) as Saved,
    save: (changes) => {
      value = JSON.stringify({ ...(JSON.parse(value) as Saved), ...changes })
    },
    raw: () => JSON.parse(value) as Saved,
  }
}

function welcome(visitorId: string, visitorToken: string, extra: object = {}) {
  return { type: 'welcome', visitorId, visitorToken, conversationId: `c-${visitorId}`, accountName: 'Shop', agents: [], resumed: false, messages: [], seq: 10, ...extra }
}

let Session: typeof import('../web/widget/session.js').Session

beforeAll(async () => {
  const g = globalThis as Record<string, unknown>
  g.WebSocket = FakeSocket
  g.addEventListener = () => {}
  g.removeEventListener = () => {}
  g.document = { addEventListener() {}, removeEventListener() {}, visibilityState: 'visible', title: 'Shop' }
  g.location = { href: 'https://shop.example/' }
  ;({ Session } = await import('../web/widget/session.js'))
})

const sessions: Array<{ stop(): void }> = []
afterEach(() => {
  for (const session of sessions.splice(0)) session.stop()
  FakeSocket.all = []
  vi.useRealTimers()
})

function open(store: Store, identity: { visitorId?: string } = {}) {
  const session = new Session('ws://parley.test/ws/visitor', { language: 'en', ...identity }, store, () => {})
  sessions.push(session)
  session.start()
  const socket = FakeSocket.all.at(-1)!
  socket.open()
  return { session, socket }
}

describe('widget session', () => {
  it('resumes its own visitor after a reconnect, though another tab stored another one meanwhile', async () => {
    vi.useFakeTimers()
    const store = sharedStore()
    const a = open(store)
    const b = open(store)
    expect(a.socket.sent[0]).toMatchObject({ type: 'hello' })
    expect(a.socket.sent[0].visitorToken).toBeUndefined()
    a.socket.receive(welcome('V1', 'tok1'))
    // Tab B's welcome came second: the first visitor stays the site's.
    b.socket.receive(welcome('V2', 'tok2'))
    expect(store.raw()).toMatchObject({ visitorToken: 'tok1', visitorId: 'V1' })
    store.save({ visitorToken: 'tok-other' })

    b.socket.drop()
    vi.advanceTimersByTime(1_000)
    const again = FakeSocket.all.at(-1)!
    again.open()
    expect(again.sent[0]).toMatchObject({ type: 'hello', visitorToken: 'tok2', lastSeq: 10 })
  })

  it('keeps the unsent messages of every tab', () => {
    const store = sharedStore()
    const a = new Session('ws://x', { language: 'en' }, store, () => {})
    const b = new Session('ws://x', { language: 'en' }, store, () => {})
    a.say('from tab A')
    b.say('from tab B')
    expect(store.raw().outbox!.map((e) => e.text).sort()).toEqual(['from tab A', 'from tab B'])
    // A reload sends both.
    const next = new Session('ws://x', { language: 'en' }, store, () => {})
    expect(next.conversation.items.map((m) => m.text).sort()).toEqual(['from tab A', 'from tab B'])
  })

  it('forgets a signed-in user on sign-out or when another user signs in: token, unsent text, e-mail', () => {
    const alice: Saved = {
      visitorToken: 'tokA',
      visitorId: 'alice',
      bound: true,
      email: 'alice@corp.example',
      readUpTo: 5,
      outbox: [{ clientId: 'c1', kind: 'message', text: 'my card number ends 1234', createdAt: 1, failed: true }],
    }
    for (const next of [undefined, 'bob']) {
      const store = sharedStore(alice)
      const session = new Session('ws://x', { language: 'en', visitorId: next }, store, () => {})
      expect(session.conversation.items).toEqual([])
      expect(store.raw()).toMatchObject({ bound: false, outbox: [] })
      expect(store.raw()).not.toHaveProperty('visitorToken')
      expect(store.raw()).not.toHaveProperty('email')
    }
    // The same user signed in again keeps what was theirs.
    const store = sharedStore(alice)
    const same = new Session('ws://x', { language: 'en', visitorId: 'alice' }, store, () => {})
    expect(same.conversation.items.map((m) => m.text)).toEqual(['my card number ends 1234'])
  })

  it('stops with "unavailable" when the server cannot read its hello, instead of waiting forever', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const { session, socket } = open(sharedStore(), { visitorId: 'x'.repeat(200) })
    socket.receive({ type: 'error', code: 'invalid_frame', message: 'hello: visitorId is longer than 128 characters' })
    expect(session.problem).toBe('unavailable')
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('visitorId'))
    expect(FakeSocket.all).toHaveLength(1)
    warn.mockRestore()
  })

  it('reconnects with backoff when the server fails before its welcome', () => {
    vi.useFakeTimers()
    const { session, socket } = open(sharedStore())
    socket.receive({ type: 'error', code: 'internal_error', message: 'Something went wrong on the server; try again' })
    expect(session.problem).toBeUndefined()
    expect(socket.readyState).toBe(3)
    vi.advanceTimersByTime(1_000)
    expect(FakeSocket.all).toHaveLength(2)
  })
})
