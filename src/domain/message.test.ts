import { describe, expect, it } from 'vitest'
import { textToHtml, toConversationsMessage } from './message.js'
import type { Message } from './model.js'

const base: Message = {
  id: 'eYBEm3gq3zc5ayE2g',
  accountId: 'acc',
  conversationId: 'conv',
  visitorId: 'kZMvWhf8npAu3H6qd57w2Hv6nh6rnxvg',
  type: 'agent',
  text: 'Hello! How can I help you?',
  isPushed: false,
  isTrigger: false,
  createdAt: 1482512803740,
}

/** Absent values are left out of the wire object, never sent as null. */
function expectNoEmptyValues(value: unknown, path = 'wire'): void {
  expect(value, path).not.toBeNull()
  expect(value, path).not.toBeUndefined()
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) expectNoEmptyValues(v, `${path}.${k}`)
  }
}

describe('html', () => {
  it('escapes markup so a message cannot inject it', () => {
    expect(textToHtml('<img src=x onerror=alert(1)>')).toBe('&lt;img src=x onerror=alert(1)&gt;')
    expect(textToHtml(`Tom & "Jerry" 'n' <b>`)).toBe('Tom &amp; &quot;Jerry&quot; &#39;n&#39; &lt;b&gt;')
  })

  it('turns line breaks into <br> after escaping', () => {
    expect(textToHtml('one\ntwo\r\nthree')).toBe('one<br>two<br>three')
    expect(textToHtml('<br>\n')).toBe('&lt;br&gt;<br>')
  })
})

describe('toConversationsMessage', () => {
  it("matches Brevo's example for an agent message", () => {
    const liz = { agentId: 'd9nKoegKSjmCtyK78', agentName: 'Liz', receivedFrom: 'SuperAwesomeHelpdesk' }
    const wire = toConversationsMessage({ ...base, ...liz })
    expect(wire).toStrictEqual({
      id: 'eYBEm3gq3zc5ayE2g',
      type: 'agent',
      text: 'Hello! How can I help you?',
      html: 'Hello! How can I help you?',
      visitorId: 'kZMvWhf8npAu3H6qd57w2Hv6nh6rnxvg',
      agentId: 'd9nKoegKSjmCtyK78',
      agentName: 'Liz',
      createdAt: 1482512803740,
      isPushed: false,
      receivedFrom: 'SuperAwesomeHelpdesk',
    })
  })

  it('leaves out every field a visitor message has no value for', () => {
    const wire = toConversationsMessage({ ...base, type: 'visitor', text: 'a <b>\nb', editedAt: 5, groupId: 'g' })
    expect(wire).toStrictEqual({
      id: base.id,
      type: 'visitor',
      text: 'a <b>\nb',
      html: 'a &lt;b&gt;<br>b',
      visitorId: base.visitorId,
      createdAt: base.createdAt,
    })
    expectNoEmptyValues(wire)
    expect(JSON.parse(JSON.stringify(wire))).toStrictEqual(wire)
  })

  it('marks pushed and trigger messages, the latter only when true', () => {
    expect(toConversationsMessage({ ...base, isPushed: true })).toMatchObject({ isPushed: true })
    expect(toConversationsMessage({ ...base, isTrigger: true })).toMatchObject({ isTrigger: true })
    expect(toConversationsMessage(base)).not.toHaveProperty('isTrigger')
  })

  it('sends a file under both name sets', () => {
    const wire = toConversationsMessage({
      ...base,
      text: 'cat.png',
      agentUserpic: 'https://example.com/liz.png',
      file: {
        name: 'cat.png',
        link: 'https://example.com/cat.png',
        mimeType: 'image/png',
        size: 2048,
        isImage: true,
        imageInfo: { width: 640, height: 480, previewLink: 'https://example.com/cat-small.png' },
      },
    })
    expect(wire.agentUserpic).toBe('https://example.com/liz.png')
    expect(wire.file).toStrictEqual({
      name: 'cat.png',
      filename: 'cat.png',
      link: 'https://example.com/cat.png',
      url: 'https://example.com/cat.png',
      mimeType: 'image/png',
      size: 2048,
      isImage: true,
      isSticker: false,
      isAllowedFileType: true,
      imageInfo: {
        width: 640,
        height: 480,
        previewLink: 'https://example.com/cat-small.png',
        previewUrl: 'https://example.com/cat-small.png',
      },
    })
    expectNoEmptyValues(wire)
  })

  it('leaves out the optional parts of a file it does not have', () => {
    const wire = toConversationsMessage({
      ...base,
      file: { name: 'notes.txt', link: 'https://example.com/notes.txt', size: 10, isImage: false },
    })
    expect(wire.file).toStrictEqual({
      name: 'notes.txt',
      filename: 'notes.txt',
      link: 'https://example.com/notes.txt',
      url: 'https://example.com/notes.txt',
      size: 10,
      isImage: false,
      isSticker: false,
      isAllowedFileType: true,
    })
    const noPreview = toConversationsMessage({
      ...base,
      file: { name: 'a.png', link: 'https://x/a.png', size: 1, isImage: true, imageInfo: { width: 1, height: 2 } },
    })
    expect(noPreview.file!.imageInfo).toStrictEqual({ width: 1, height: 2 })
    expectNoEmptyValues(noPreview)
  })
})
