import { describe, expect, it } from 'vitest'
import type { MessageEventFrame, WidgetMessage } from '../src/realtime/protocol.js'
import { Conversation } from '../web/widget/conversation.js'
import { storable } from '../web/widget/session.js'

// The widget's message list on its own (no browser): the rules that keep every message shown
// exactly once, in order, whatever order frames, acks and resumes arrive in.

const agent = (id: string, text: string, createdAt = 1): WidgetMessage => ({ id, type: 'agent', text, createdAt, agentName: 'Liz' })
const visitor = (id: string, text: string, createdAt = 1): WidgetMessage => ({ id, type: 'visitor', text, createdAt })
const event = (type: MessageEventFrame['type'], seq: number, message: WidgetMessage): MessageEventFrame => ({ type, seq, message })
const shown = (c: Conversation) => c.items.map((m) => `${m.id ?? `(${m.clientId})`}:${m.text}${m.state ? `:${m.state}` : ''}`)

describe('the widget conversation', () => {
  it('lists created messages in arrival order and ignores events at or below the last seq', () => {
    const c = new Conversation()
    c.reset([agent('a1', 'Hello')], 10)
    expect(c.apply(event('message.created', 9, agent('old', 'before the history')))).toBe(false)
    expect(c.apply(event('message.created', 10, agent('a1', 'Hello')))).toBe(false)
    expect(c.apply(event('message.created', 12, agent('a2', 'Second')))).toBe(true)
    expect(c.apply(event('message.created', 12, agent('a2', 'Second')))).toBe(false)
    expect(c.apply(event('message.created', 15, agent('a3', 'Third')))).toBe(true)
    expect(shown(c)).toEqual(['a1:Hello', 'a2:Second', 'a3:Third'])
    expect(c.seq).toBe(15)
  })

  it('applies edits and deletions in place, and a repeated creation as an update', () => {
    const c = new Conversation()
    c.reset([agent('a1', 'one'), agent('a2', 'two'), agent('a3', 'three')], 3)
    c.apply(event('message.updated', 4, { ...agent('a2', 'two, edited'), editedAt: 5 }))
    c.apply(event('message.deleted', 5, agent('a1', 'one')))
    c.apply(event('message.created', 6, agent('a3', 'three again')))
    expect(shown(c)).toEqual(['a2:two, edited', 'a3:three again'])
    expect(c.items[0].editedAt).toBe(5)
  })

  it('does not invent a message from an edit or deletion of one it never had', () => {
    const c = new Conversation()
    c.reset([agent('a1', 'one')], 1)
    expect(c.apply(event('message.updated', 2, agent('zz', 'older than the history')))).toBe(false)
    expect(c.apply(event('message.deleted', 3, agent('zz', 'older than the history')))).toBe(false)
    expect(shown(c)).toEqual(['a1:one'])
    expect(c.seq).toBe(3)
  })

  it('shows a visitor message once whether its ack or its message.created comes first', () => {
    const ackFirst = new Conversation()
    ackFirst.addPending('c1', 'Hi', 1)
    expect(shown(ackFirst)).toEqual(['(c1):Hi:sending'])
    ackFirst.ack('c1', visitor('v1', 'Hi'))
    ackFirst.apply(event('message.created', 1, visitor('v1', 'Hi')))
    expect(shown(ackFirst)).toEqual(['v1:Hi'])

    const createdFirst = new Conversation()
    createdFirst.addPending('c1', 'Hi', 1)
    createdFirst.apply(event('message.created', 1, visitor('v1', 'Hi')))
    expect(shown(createdFirst)).toEqual(['v1:Hi'])
    createdFirst.ack('c1', visitor('v1', 'Hi'))
    expect(shown(createdFirst)).toEqual(['v1:Hi'])
  })

  it('matches two identical texts to two waiting messages, one each', () => {
    const c = new Conversation()
    c.addPending('c1', 'ok', 1)
    c.addPending('c2', 'ok', 2)
    c.apply(event('message.created', 1, visitor('v1', 'ok')))
    c.apply(event('message.created', 2, visitor('v2', 'ok')))
    c.ack('c2', visitor('v2', 'ok'))
    c.ack('c1', visitor('v1', 'ok'))
    expect(shown(c)).toEqual(['v1:ok', 'v2:ok'])
  })

  it('loses nothing when a same-text message from another tab is taken for the one being sent', () => {
    const c = new Conversation()
    c.addPending('c1', 'ok', 1)
    c.apply(event('message.created', 1, visitor('other-tab', 'ok')))
    c.apply(event('message.created', 2, visitor('mine', 'ok')))
    c.ack('c1', visitor('mine', 'ok'))
    expect(shown(c)).toEqual(['other-tab:ok', 'mine:ok'])
  })

  it('keeps messages still waiting for their ack across a fresh history', () => {
    const c = new Conversation()
    c.reset([agent('a1', 'Hello')], 1)
    c.addPending('c1', 'still sending', 2)
    c.reset([agent('a1', 'Hello'), agent('a2', 'while you were away')], 7)
    expect(shown(c)).toEqual(['a1:Hello', 'a2:while you were away', '(c1):still sending:sending'])
    // The re-sent message turns out to be stored already: one entry, not two.
    c.apply(event('message.created', 8, visitor('v1', 'still sending')))
    c.ack('c1', visitor('v1', 'still sending'))
    expect(shown(c)).toEqual(['a1:Hello', 'a2:while you were away', 'v1:still sending'])
  })

  it('keeps messages not stored yet at the bottom while others arrive, in the order the server stores them', () => {
    const c = new Conversation()
    c.reset([agent('a1', 'Hello')], 1)
    c.addPending('c1', 'written offline', 2)
    c.apply(event('message.created', 2, agent('a2', 'sent meanwhile')))
    c.apply(event('message.created', 3, agent('a3', 'also meanwhile')))
    expect(shown(c)).toEqual(['a1:Hello', 'a2:sent meanwhile', 'a3:also meanwhile', '(c1):written offline:sending'])
    c.ack('c1', visitor('v1', 'written offline'))
    c.apply(event('message.created', 4, visitor('v1', 'written offline')))
    c.apply(event('message.created', 5, agent('a4', 'answer')))
    expect(shown(c)).toEqual(['a1:Hello', 'a2:sent meanwhile', 'a3:also meanwhile', 'v1:written offline', 'a4:answer'])
  })

  it('marks a refused message failed and back to sending on retry', () => {
    const c = new Conversation()
    c.addPending('c1', 'too fast', 1)
    c.setState('c1', 'failed')
    expect(shown(c)).toEqual(['(c1):too fast:failed'])
    c.setState('c1', 'sending')
    c.ack('c1', visitor('v1', 'too fast'))
    expect(shown(c)).toEqual(['v1:too fast'])
  })
})

describe('storable text', () => {
  it('drops NUL and unpaired surrogates and never splits a pair when it shortens', () => {
    expect(storable('a\u0000b', 10)).toBe('ab')
    expect(storable('x\uD800y\uDC00z', 10)).toBe('xyz')
    expect(storable('ab😀', 3)).toBe('ab')
    expect(storable('ab😀', 4)).toBe('ab😀')
  })
})
