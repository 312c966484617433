/** Table shapes as Kysely sees them. Portable types only: text, integer/bigint, JSON as text, 0/1. */

export interface AccountTable {
  id: string
  name: string
  widget_id: string
  last_seq: number
  token_secret: string | null
  identity_secret: string | null
  verified_binding: number
  /** JSON array of origins. */
  allowed_origins: string
  created_at: number
}

export interface ApiKeyTable {
  id: string
  account_id: string
  hash: string
  prefix: string
  created_at: number
  revoked_at: number | null
}

export interface AgentTable {
  id: string
  account_id: string
  email: string
  name: string
  userpic: string | null
  password_hash: string | null
  is_dummy: number
  created_at: number
}

export interface AgentGroupTable {
  id: string
  account_id: string
  name: string
  created_at: number
}

export interface GroupMemberTable {
  account_id: string
  group_id: string
  agent_id: string
}

export interface VisitorTable {
  account_id: string
  id: string
  group_id: string | null
  /** JSON: integration attributes. */
  attributes: string | null
  /** JSON: BrowserFacts. */
  browser: string | null
  /** JSON: PageVisit. */
  last_page: string | null
  created_at: number
}

export interface ConversationTable {
  id: string
  account_id: string
  visitor_id: string
  status: string
  /** JSON: PageVisit. */
  start_page: string | null
  created_at: number
  last_activity_at: number
  opened_at: number
  started_at: number | null
}

export interface MessageTable {
  id: string
  account_id: string
  conversation_id: string
  visitor_id: string
  type: string
  text: string
  agent_id: string | null
  agent_name: string | null
  agent_userpic: string | null
  group_id: string | null
  is_pushed: number
  is_trigger: number
  received_from: string | null
  file: string | null
  created_at: number
  edited_at: number | null
  deleted_at: number | null
}

export interface EventTable {
  account_id: string
  seq: number
  conversation_id: string | null
  type: string
  payload: string
  created_at: number
}

export interface IdempotencyKeyTable {
  account_id: string
  scope: string
  key: string
  request_hash: string
  response: string
  created_at: number
}

export interface WebhookEndpointTable {
  id: string
  account_id: string
  url: string
  /** JSON array of event names. */
  events: string
  description: string | null
  enabled: number
  disabled_reason: string | null
  secret: string
  previous_secret: string | null
  previous_secret_expires_at: number | null
  created_at: number
  updated_at: number
}

export interface WebhookDeliveryTable {
  id: string
  account_id: string
  endpoint_id: string
  conversation_id: string | null
  seq: number
  event: string
  /** The exact JSON body sent. */
  payload: string
  status: string
  attempts: number
  tries: number
  next_at: number
  leased_until: number | null
  last_status: number | null
  last_error: string | null
  created_at: number
  delivered_at: number | null
  /** JSON array of WebhookAttempt. */
  attempt_log: string
}

export interface Database {
  account: AccountTable
  api_key: ApiKeyTable
  agent: AgentTable
  agent_group: AgentGroupTable
  group_member: GroupMemberTable
  visitor: VisitorTable
  conversation: ConversationTable
  message: MessageTable
  event: EventTable
  idempotency_key: IdempotencyKeyTable
  webhook_endpoint: WebhookEndpointTable
  webhook_delivery: WebhookDeliveryTable
}
