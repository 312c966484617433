import type { Message } from './model.js'

/** Brevo's `ConversationsMessage` as it travels on the wire. Absent values are left out, never null. */
export interface ConversationsMessage {
  id: string
  type: 'agent' | 'visitor'
  text: string
  html: string
  visitorId: string
  agentId?: string
  agentName?: string
  agentUserpic?: string
  createdAt: number
  isPushed?: boolean
  isTrigger?: boolean
  receivedFrom?: string
  file?: Record<string, unknown>
}

/** Maximum message text, in characters. Longer text is answered with `out_of_range`. */
export const MAX_TEXT_LENGTH = 10_000

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '\n': '<br>',
  '\r\n': '<br>',
}

/** The `html` field: the text escaped, line breaks as `<br>`. One pass, and none for plain text. */
export function textToHtml(text: string): string {
  return /[&<>"'\n]/.test(text) ? text.replace(/[&<>"']|\r?\n/g, (c) => HTML_ESCAPES[c]) : text
}

export function toConversationsMessage(message: Message): ConversationsMessage {
  const wire: ConversationsMessage = {
    id: message.id,
    type: message.type,
    text: message.text,
    html: textToHtml(message.text),
    visitorId: message.visitorId,
    createdAt: message.createdAt,
  }
  if (message.agentId !== undefined) wire.agentId = message.agentId
  if (message.agentName !== undefined) wire.agentName = message.agentName
  if (message.agentUserpic !== undefined) wire.agentUserpic = message.agentUserpic
  if (message.type === 'agent') wire.isPushed = message.isPushed
  if (message.isTrigger) wire.isTrigger = true
  if (message.receivedFrom !== undefined) wire.receivedFrom = message.receivedFrom
  if (message.file) {
    const f = message.file
    // Both name sets: older SDKs read filename/url/previewUrl, the current API name/link/previewLink.
    wire.file = {
      name: f.name,
      filename: f.name,
      link: f.link,
      url: f.link,
      size: f.size,
      isImage: f.isImage,
      isSticker: false,
      isAllowedFileType: true,
      ...(f.mimeType ? { mimeType: f.mimeType } : {}),
      ...(f.imageInfo
        ? {
            imageInfo: {
              width: f.imageInfo.width,
              height: f.imageInfo.height,
              ...(f.imageInfo.previewLink
                ? { previewLink: f.imageInfo.previewLink, previewUrl: f.imageInfo.previewLink }
                : {}),
            },
          }
        : {}),
    }
  }
  return wire
}
