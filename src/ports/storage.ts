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
import type {
  DeliveryStatus,
  StoredWebhookEndpoint,
  WebhookAttempt,
  WebhookDelivery,
  WebhookEventName,
} from '../domain/webhooks.js'

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

/** `null` clears `startedAt`: a reopened conversation that no visitor or agent has spoken in yet. */
export type ConversationChanges = Partial<Pick<Conversation, 'status' | 'openedAt' | 'startPage'>> & {
  startedAt?: number | null
}

/** `null` clears an optional field. */
export type WebhookEndpointChanges = Partial<Pick<StoredWebhookEndpoint, 'url' | 'events' | 'enabled' | 'secret' | 'updatedAt'>> & {
  description?: string | null
  disabledReason?: string | null
  previousSecret?: string | null
  previousSecretExpiresAt?: number | null
}

/** What one attempt left behind: the delivery's new state, its attempt log included. */
export interface DeliveryOutcome {
  status: DeliveryStatus
  tries: number
  nextAt: number
  lastStatus?: number
  lastError?: string
  deliveredAt?: number
  attemptLog: WebhookAttempt[]
}

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
    get(accountId: string, id: string): Promise<Conversation | undefined>
    getByVisitor(accountId: string, visitorId: string): Promise<Conversation | undefined>
    /**
     * Records activity at `at` on the visitor's conversation (a message being written) and returns
     * the conversation as it is now, or undefined when the visitor has none. The stored activity is
     * rewritten only when it lags `at` by ACTIVITY_RESOLUTION_MS or more. In PostgreSQL the row
     * stays locked until the transaction ends, so a concurrent close or message waits instead of
     * reading a stale status.
     */
    touchByVisitor(accountId: string, visitorId: string, at: number): Promise<Conversation | undefined>
    update(accountId: string, id: string, changes: ConversationChanges): Promise<void>
    /**
     * Closes the conversation if it is open and, with `idleBefore`, had no activity after that
     * time (no message written after it, whatever the stored activity says). Returns it as closed,
     * or undefined when there was nothing to close.
     */
    close(accountId: string, id: string, idleBefore?: number): Promise<Conversation | undefined>
    /** Open conversations of every account with no activity after `before`, longest idle first. */
    listIdle(before: number, limit: number): Promise<Array<{ accountId: string; id: string }>>
  }
  messages: {
    insert(message: Message): Promise<void>
    /** Deleted messages included: callers decide what a deletion means to them. */
    get(accountId: string, id: string): Promise<Message | undefined>
    update(accountId: string, id: string, changes: MessageChanges): Promise<void>
    count(accountId: string): Promise<number>
    /** The conversation's latest `limit` messages that are not deleted, oldest first. */
    listLive(accountId: string, conversationId: string, limit: number): Promise<Message[]>
    /** As listLive, only messages created at or after `since`. */
    listLiveSince(accountId: string, conversationId: string, since: number, limit: number): Promise<Message[]>
  }
  events: {
    /** Appends with the account's next sequence number and returns the stored event. */
    append(accountId: string, event: NewEvent, at: number): Promise<StoredEvent>
    /** Events with seq > afterSeq, oldest first. */
    listAfter(accountId: string, afterSeq: number, limit: number): Promise<StoredEvent[]>
    /** One conversation's events with seq > afterSeq, oldest first. */
    listConversationAfter(accountId: string, conversationId: string, afterSeq: number, limit: number): Promise<StoredEvent[]>
  }
  webhookEndpoints: {
    insert(endpoint: StoredWebhookEndpoint): Promise<void>
    get(accountId: string, id: string): Promise<StoredWebhookEndpoint | undefined>
    /** Oldest first. */
    list(accountId: string): Promise<StoredWebhookEndpoint[]>
    /** The account's enabled endpoints and what they subscribe to: asked on every event, so kept lean. */
    listEnabled(accountId: string): Promise<Array<{ id: string; events: WebhookEventName[] }>>
    /** Returns false when the account has no such endpoint. */
    update(accountId: string, id: string, changes: WebhookEndpointChanges): Promise<boolean>
    /** Removes the endpoint with its deliveries and their attempts. */
    delete(accountId: string, id: string): Promise<boolean>
  }
  webhookDeliveries: {
    insert(delivery: WebhookDelivery): Promise<void>
    get(accountId: string, id: string): Promise<WebhookDelivery | undefined>
    /** The endpoint's latest pending delivery of a Brevo conversation event about this conversation. */
    lastPendingOfConversation(accountId: string, endpointId: string, conversationId: string): Promise<WebhookDelivery | undefined>
    /** Whether a delivery of the conversation to the endpoint, from before `seq`, is still pending. */
    hasPendingBefore(accountId: string, endpointId: string, conversationId: string, seq: number): Promise<boolean>
    /** Rewrites the body of a delivery no worker has claimed yet; false once one has. */
    replaceUnclaimedPayload(accountId: string, id: string, payload: string): Promise<boolean>
    /**
     * Leases up to `limit` deliveries that are due at `now` until `leaseUntil`: pending, not held
     * under a lease that is still running, for an enabled endpoint, and with no earlier pending
     * delivery of the same conversation to the same endpoint. Concurrent claims, from this process
     * or another, never get the same delivery.
     */
    claimDue(now: number, leaseUntil: number, limit: number): Promise<WebhookDelivery[]>
    /**
     * Stores what an attempt made under the lease ending at `leasedUntil` came to. False when that
     * lease is no longer the delivery's (it ran out and another worker took over, or the endpoint
     * was deleted): the outcome is then not recorded.
     */
    finishAttempt(accountId: string, id: string, leasedUntil: number, outcome: DeliveryOutcome): Promise<boolean>
    /** The endpoint's deliveries, newest first. */
    list(accountId: string, endpointId: string, options: { limit: number; status?: DeliveryStatus }): Promise<WebhookDelivery[]>
    /**
     * Makes the delivery pending and due at `at` with a fresh retry schedule, and returns it so.
     * Undefined when unknown, or leased to an attempt until after `at`.
     */
    replay(accountId: string, id: string, at: number): Promise<WebhookDelivery | undefined>
    /** Removes delivered and failed deliveries last due before `at`; returns how many. */
    purgeFinishedBefore(at: number): Promise<number>
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

export interface TransactionOptions {
  /**
   * `false`: resolve once committed, without waiting for the commit to reach the disk. A crash of
   * the process loses nothing; a crash of the machine may lose this transaction (whole, never
   * part of it), and it is on disk once any later durable transaction is. Only for writes that
   * are safe to lose that way, such as a webhook claim's lease: lost, the deliveries are claimed
   * again, as they would be once the lease ran out. Default `true`.
   */
  durable?: boolean
  /**
   * No request or socket waits on this transaction's answer: a worker's bookkeeping, such as a
   * webhook claim or the outcomes of a drain. A hint: an adapter may then keep the commit's sync off
   * the event loop, where it would hold back the requests and deliveries in flight. Default `false`.
   */
  background?: boolean
}

export interface Storage {
  /** Reads outside any transaction. */
  readonly read: Repos
  /**
   * Runs `fn` in one transaction and resolves only once it is durably committed (or, with
   * `durable: false`, committed). Adapters may commit several concurrent transactions together;
   * each still succeeds or fails alone.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>, options?: TransactionOptions): Promise<T>
  /** Applies pending migrations. */
  migrate(): Promise<void>
  /** Resolves when the database answers. */
  ping(): Promise<void>
  close(): Promise<void>
}
