import { randomBytes } from 'node:crypto'

/** Brevo's three conversation events, with Brevo's payload shapes. */
export const BREVO_WEBHOOK_EVENTS = ['conversationStarted', 'conversationFragment', 'conversationTranscript'] as const

/** Parley's own fine-grained events: one delivery per stored event of that type. */
export const PARLEY_WEBHOOK_EVENTS = [
  'message.created',
  'message.updated',
  'message.deleted',
  'agent.online',
  'agent.offline',
  'conversation.closed',
] as const

export const WEBHOOK_EVENTS = [...BREVO_WEBHOOK_EVENTS, ...PARLEY_WEBHOOK_EVENTS] as const

export type BrevoWebhookEvent = (typeof BREVO_WEBHOOK_EVENTS)[number]
export type ParleyWebhookEvent = (typeof PARLEY_WEBHOOK_EVENTS)[number]
export type WebhookEventName = (typeof WEBHOOK_EVENTS)[number]

export function isParleyWebhookEvent(name: string): name is ParleyWebhookEvent {
  return (PARLEY_WEBHOOK_EVENTS as readonly string[]).includes(name)
}

/** Where an account wants events POSTed, as listings show it: the secrets stay out. */
export interface WebhookEndpoint {
  id: string
  accountId: string
  url: string
  events: WebhookEventName[]
  description?: string
  enabled: boolean
  /** Why Parley turned it off (a 410 from the receiver), or that someone did. */
  disabledReason?: string
  /** Until then the secret replaced by the last rotation still signs, beside the new one. */
  previousSecretExpiresAt?: number
  createdAt: number
  updatedAt: number
}

export interface WebhookSecrets {
  secret: string
  previousSecret?: string
  previousSecretExpiresAt?: number
}

export type StoredWebhookEndpoint = WebhookEndpoint & WebhookSecrets

export type DeliveryStatus = 'pending' | 'delivered' | 'failed'

/**
 * One event for one endpoint. Its id is the `webhook-id` header, the same on every attempt, so
 * receivers can drop duplicates. `payload` is the exact body sent.
 */
export interface WebhookDelivery {
  id: string
  accountId: string
  endpointId: string
  /** Deliveries of one conversation go out to an endpoint in `seq` order. */
  conversationId?: string
  /** The seq of the event that caused the delivery (the first one, for a batched fragment). */
  seq: number
  event: WebhookEventName
  payload: string
  status: DeliveryStatus
  /** Attempts made, replays included. */
  attempts: number
  /** Attempts since the delivery was queued or last replayed: the position in the retry schedule. */
  tries: number
  /** When the next attempt is due (meaningful while pending). */
  nextAt: number
  /** Set while a worker holds the delivery; a crashed worker's claim runs out at this time. */
  leasedUntil?: number
  lastStatus?: number
  lastError?: string
  createdAt: number
  deliveredAt?: number
  /** The latest attempts, oldest first (at most MAX_ATTEMPT_LOG). */
  attemptLog: WebhookAttempt[]
}

/** Attempts a delivery's log keeps: a full retry schedule and then some replays. */
export const MAX_ATTEMPT_LOG = 30

/** One HTTP attempt of a delivery, as its attempt log keeps it. */
export interface WebhookAttempt {
  /** 1 for the first attempt of the delivery. */
  attempt: number
  at: number
  durationMs: number
  /** The receiver's HTTP status; absent when no response came (refused, timed out, reset). */
  status?: number
  error?: string
}

/**
 * How long a worker holds a delivery it is sending. Longer than any attempt (a 15 s timeout and
 * the recording), so only a dead worker's lease runs out and its deliveries are sent again.
 */
export const WEBHOOK_LEASE_MS = 60_000

/** Standard Webhooks' secret prefix; what follows is the base64 of the HMAC key. */
export const WEBHOOK_SECRET_PREFIX = 'whsec_'

/** A new signing secret: `whsec_` and 32 random bytes in base64. */
export function generateWebhookSecret(): string {
  return `${WEBHOOK_SECRET_PREFIX}${randomBytes(32).toString('base64')}`
}
