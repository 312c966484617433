import type { Message } from '../domain/model.js'
import type { WidgetMessage } from './protocol.js'

/** A stored message as the visitor's widget sees it: what a visitor may know, nothing more. */
export function toWidgetMessage(message: Message): WidgetMessage {
  const out: WidgetMessage = { id: message.id, type: message.type, text: message.text, createdAt: message.createdAt }
  if (message.editedAt !== undefined) out.editedAt = message.editedAt
  if (message.agentName !== undefined) out.agentName = message.agentName
  if (message.agentUserpic !== undefined) out.agentUserpic = message.agentUserpic
  if (message.isPushed) out.isPushed = true
  if (message.isTrigger) out.isTrigger = true
  if (message.file) {
    const { name, link, mimeType, size, isImage } = message.file
    out.file = mimeType === undefined ? { name, link, size, isImage } : { name, link, mimeType, size, isImage }
  }
  return out
}
