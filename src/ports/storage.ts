import type { NewEvent, StoredEvent } from '../domain/events.js'
import type {
  Account,
  Agent,
  AgentGroup,
  ApiKey,
  Conversation,
  Message,
  Visitor,
  VisitorChanges,
  WidgetSettings,
} from '../domain/model.js'

export interface IdempotencyRecord {
  accountId: string
  key: string
  /** Which operation the key was used for, e.g. `POST /conversations/messages`. */
  scope: string
  requestHash: string
  response: string
  createdAt: number
}

export type MessageChanges = Partial<Pick<Message, 'text' | 'editedAt' | 'deletedAt'>>

/**
 * Everything services may read and write. Every lookup takes the account id: a row of another
 * account is indistinguishable from one that does not exist.
 */
export interface Repos {
  accounts: {
    insert(account: Account): Promise<void>
    get(id: string): Promise<Account | undefined>
    getByWidgetId(widgetId: string): Promise<Account | undefined>
    list(): Promise<Account[]>
    /** Secrets not yet minted come back as empty strings. */
    getWidgetSettings(accountId: string): Promise<WidgetSettings | undefined>
    updateWidgetSettings(accountId: string, changes: Partial<WidgetSettings>): Promise<void>
    /** The seq of the account's latest event (0 before the first). */
    lastSeq(accountId: string): Promise<number>
  }
  apiKeys: {
    insert(key: ApiKey & { hash: string }): Promise<void>
    /** The live (not revoked) key with this sha-256 hash. */
    findActiveByHash(hash: string): Promise<ApiKey | undefined>
    list(accountId: string): Promise<ApiKey[]>
    /** Returns false when no live key of this account has that id. */
    revoke(accountId: string, id: string, at: number): Promise<boolean>
  }
  agents: {
    insert(agent: Agent & { passwordHash?: string }): Promise<void>
    get(accountId: string, id: string): Promise<Agent | undefined>
    getByEmail(accountId: string, email: string): Promise<Agent | undefined>
    list(accountId: string): Promise<Agent[]>
  }
  groups: {
    insert(group: AgentGroup): Promise<void>
    get(accountId: string, id: string): Promise<AgentGroup | undefined>
    list(accountId: string): Promise<AgentGroup[]>
    addMember(accountId: string, groupId: string, agentId: string): Promise<void>
    members(accountId: string, groupId: string): Promise<string[]>
  }
  visitors: {
    insert(visitor: Visitor): Promise<void>
    get(accountId: string, id: string): Promise<Visitor | undefined>
    setGroup(accountId: string, id: string, groupId: string | undefined): Promise<void>
    update(accountId: string, id: string, changes: VisitorChanges): Promise<void>
  }
  conversations: {
    insert(conversation: Conversation): Promise<void>
    getByVisitor(accountId: string, visitorId: string): Promise<Conversation | undefined>
    touch(accountId: string, id: string, at: number): Promise<void>
  }
  messages: {
    insert(message: Message): Promise<void>
    /** Deleted messages included: callers decide what a deletion means to them. */
    get(accountId: string, id: string): Promise<Message | undefined>
    update(accountId: string, id: string, changes: MessageChanges): Promise<void>
    count(accountId: string): Promise<number>
    /** The conversation's latest `limit` messages that are not deleted, oldest first. */
    listLive(accountId: string, conversationId: string, limit: number): Promise<Message[]>
  }
  events: {
    /** Appends with the account's next sequence number and returns the stored event. */
    append(accountId: string, event: NewEvent, at: number): Promise<StoredEvent>
    /** Events with seq > afterSeq, oldest first. */
    listAfter(accountId: string, afterSeq: number, limit: number): Promise<StoredEvent[]>
    /** One conversation's events with seq > afterSeq, oldest first. */
    listConversationAfter(accountId: string, conversationId: string, afterSeq: number, limit: number): Promise<StoredEvent[]>
  }
  idempotency: {
    get(accountId: string, scope: string, key: string): Promise<IdempotencyRecord | undefined>
    /** Inserts or replaces; raises DuplicateError if a concurrent request stored the key first. */
    put(record: IdempotencyRecord, replace: boolean): Promise<void>
    purgeBefore(at: number): Promise<number>
  }
}

export interface Tx extends Repos {
  /** Runs after the transaction committed; never after a rollback. */
  onCommit(hook: () => void): void
}

export interface Storage {
  /** Reads outside any transaction. */
  readonly read: Repos
  /**
   * Runs `fn` in one transaction and resolves only once it is durably committed. Adapters may
   * commit several concurrent transactions together; each still succeeds or fails alone.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>
  /** Applies pending migrations. */
  migrate(): Promise<void>
  /** Resolves when the database answers. */
  ping(): Promise<void>
  close(): Promise<void>
}
