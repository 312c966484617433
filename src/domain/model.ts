/** Plain records as services see them. Times are epoch milliseconds. */

export interface Account {
  id: string
  name: string
  /** The public id a site puts in `BrevoConversationsID`. */
  widgetId: string
  createdAt: number
}

export interface ApiKey {
  id: string
  accountId: string
  /** First characters of the key, for telling keys apart in listings. */
  prefix: string
  createdAt: number
  revokedAt?: number
}

export interface Agent {
  id: string
  accountId: string
  email: string
  name: string
  userpic?: string
  /** Created implicitly from an email (REST message or ping), not by an administrator. */
  isDummy: boolean
  createdAt: number
}

export interface AgentGroup {
  id: string
  accountId: string
  name: string
  createdAt: number
}

export interface Visitor {
  id: string
  accountId: string
  groupId?: string
  createdAt: number
}

export interface Conversation {
  id: string
  accountId: string
  visitorId: string
  status: 'open' | 'closed'
  createdAt: number
  lastActivityAt: number
}

export type MessageType = 'agent' | 'visitor'

export interface MessageFile {
  name: string
  link: string
  mimeType?: string
  size: number
  isImage: boolean
  imageInfo?: { width: number; height: number; previewLink?: string }
}

export interface Message {
  id: string
  accountId: string
  conversationId: string
  visitorId: string
  type: MessageType
  text: string
  agentId?: string
  agentName?: string
  agentUserpic?: string
  groupId?: string
  isPushed: boolean
  isTrigger: boolean
  receivedFrom?: string
  file?: MessageFile
  createdAt: number
  editedAt?: number
  deletedAt?: number
}
