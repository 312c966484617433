import { AppError, InvalidParameterError, NotFoundError } from '../domain/errors.js'
import { generateId } from '../domain/ids.js'
import {
  generateWebhookSecret,
  WEBHOOK_EVENTS,
  type DeliveryStatus,
  type StoredWebhookEndpoint,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEventName,
} from '../domain/webhooks.js'
import type { WebhookEndpointChanges } from '../ports/storage.js'
import { transact, type ServiceDeps } from './deps.js'

/** After a rotation the replaced secret keeps signing, beside the new one, this long. */
export const SECRET_OVERLAP_MS = 24 * 3_600_000

export const MAX_WEBHOOK_URL_LENGTH = 2048
export const MAX_WEBHOOK_DESCRIPTION_LENGTH = 500

export interface WebhookInput {
  url: string
  events: string[]
  description?: string
}

export interface WebhookChanges {
  url?: string
  events?: string[]
  /** An empty string removes the description. */
  description?: string
  enabled?: boolean
}

/** An endpoint as the REST API and the command line show it. */
export function endpointView(endpoint: WebhookEndpoint) {
  const { accountId: _accountId, ...view } = endpoint
  return view
}

/** A delivery as the REST API and the command line show it: its attempt log under `attempts`. */
export function deliveryView(d: WebhookDelivery) {
  return {
    id: d.id,
    endpointId: d.endpointId,
    event: d.event,
    conversationId: d.conversationId,
    status: d.status,
    attemptCount: d.attempts,
    nextAttemptAt: d.status === 'pending' ? d.nextAt : undefined,
    lastStatus: d.lastStatus,
    lastError: d.lastError,
    createdAt: d.createdAt,
    deliveredAt: d.deliveredAt,
    attempts: d.attemptLog.map((a) => ({ attempt: a.attempt, at: a.at, durationMs: a.durationMs, status: a.status, error: a.error })),
  }
}

function withoutSecrets(endpoint: StoredWebhookEndpoint): WebhookEndpoint {
  const { secret: _secret, previousSecret: _previous, ...visible } = endpoint
  return visible
}

function eventList(events: string[]): WebhookEventName[] {
  if (events.length === 0) throw new InvalidParameterError(`events must name at least one of ${WEBHOOK_EVENTS.join(', ')}`)
  const unknown = events.filter((e) => !(WEBHOOK_EVENTS as readonly string[]).includes(e))
  if (unknown.length > 0) {
    throw new InvalidParameterError(`unknown event ${unknown.map((e) => `"${e}"`).join(', ')}: events are ${WEBHOOK_EVENTS.join(', ')}`)
  }
  return [...new Set(events)] as WebhookEventName[]
}

async function checkedUrl(deps: ServiceDeps, url: string): Promise<string> {
  if (url.length > MAX_WEBHOOK_URL_LENGTH) throw new InvalidParameterError(`url is too long: at most ${MAX_WEBHOOK_URL_LENGTH} characters`)
  await deps.webhookTransport.checkTarget(url)
  return url
}

function description(text: string | undefined): string | undefined {
  const trimmed = text?.trim()
  if (trimmed && trimmed.length > MAX_WEBHOOK_DESCRIPTION_LENGTH) {
    throw new InvalidParameterError(`description is too long: at most ${MAX_WEBHOOK_DESCRIPTION_LENGTH} characters`)
  }
  return trimmed || undefined
}

async function requireEndpoint(deps: ServiceDeps, accountId: string, id: string): Promise<StoredWebhookEndpoint> {
  const endpoint = await deps.storage.read.webhookEndpoints.get(accountId, id)
  if (!endpoint) throw new NotFoundError(`Webhook "${id}" not found`)
  return endpoint
}

/**
 * Registers an endpoint. The URL is checked now (and again before every attempt). The secret
 * is returned this once; listings never show it.
 */
export async function createWebhook(
  deps: ServiceDeps,
  accountId: string,
  input: WebhookInput,
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  if (!(await deps.storage.read.accounts.get(accountId))) throw new NotFoundError(`Account "${accountId}" not found`)
  const now = deps.clock.now()
  const endpoint: StoredWebhookEndpoint = {
    id: generateId(),
    accountId,
    url: await checkedUrl(deps, input.url),
    events: eventList(input.events),
    description: description(input.description),
    enabled: true,
    secret: generateWebhookSecret(),
    createdAt: now,
    updatedAt: now,
  }
  await deps.storage.transaction((tx) => tx.webhookEndpoints.insert(endpoint))
  return { endpoint: withoutSecrets(endpoint), secret: endpoint.secret }
}

export async function listWebhooks(deps: ServiceDeps, accountId: string): Promise<WebhookEndpoint[]> {
  return (await deps.storage.read.webhookEndpoints.list(accountId)).map(withoutSecrets)
}

export async function getWebhook(deps: ServiceDeps, accountId: string, id: string): Promise<WebhookEndpoint> {
  return withoutSecrets(await requireEndpoint(deps, accountId, id))
}

/**
 * Changes what was given. Enabling clears the reason it was disabled, and the deliveries that
 * waited meanwhile go out; disabling holds them (none are dropped).
 */
export async function updateWebhook(deps: ServiceDeps, accountId: string, id: string, changes: WebhookChanges): Promise<WebhookEndpoint> {
  const update: WebhookEndpointChanges = { updatedAt: deps.clock.now() }
  if (changes.url !== undefined) update.url = await checkedUrl(deps, changes.url)
  if (changes.events !== undefined) update.events = eventList(changes.events)
  if (changes.description !== undefined) update.description = description(changes.description) ?? null
  if (changes.enabled !== undefined) {
    update.enabled = changes.enabled
    update.disabledReason = changes.enabled ? null : 'turned off through the API or the command line'
  }
  const endpoint = await transact(deps, async (tx) => {
    if (!(await tx.webhookEndpoints.update(accountId, id, update))) throw new NotFoundError(`Webhook "${id}" not found`)
    if (changes.enabled) tx.onCommit(() => deps.webhookDispatch.wake())
    return (await tx.webhookEndpoints.get(accountId, id))!
  })
  return withoutSecrets(endpoint)
}

/** Removes the endpoint with its deliveries and their attempt log. */
export async function deleteWebhook(deps: ServiceDeps, accountId: string, id: string): Promise<void> {
  const deleted = await deps.storage.transaction((tx) => tx.webhookEndpoints.delete(accountId, id))
  if (!deleted) throw new NotFoundError(`Webhook "${id}" not found`)
}

/**
 * A new secret, returned this once. For `SECRET_OVERLAP_MS` the replaced one still signs beside
 * it, so receivers can switch without missing a message; a secret replaced earlier stops now.
 */
export async function rotateWebhookSecret(
  deps: ServiceDeps,
  accountId: string,
  id: string,
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const now = deps.clock.now()
  const secret = generateWebhookSecret()
  const endpoint = await transact(deps, async (tx) => {
    const current = await tx.webhookEndpoints.get(accountId, id)
    if (!current) throw new NotFoundError(`Webhook "${id}" not found`)
    await tx.webhookEndpoints.update(accountId, id, {
      secret,
      previousSecret: current.secret,
      previousSecretExpiresAt: now + SECRET_OVERLAP_MS,
      updatedAt: now,
    })
    return (await tx.webhookEndpoints.get(accountId, id))!
  })
  return { endpoint: withoutSecrets(endpoint), secret }
}

/** The endpoint's latest deliveries, newest first, each with its attempts. */
export async function listDeliveries(
  deps: ServiceDeps,
  accountId: string,
  endpointId: string,
  options: { limit: number; status?: DeliveryStatus },
): Promise<WebhookDelivery[]> {
  await requireEndpoint(deps, accountId, endpointId)
  return deps.storage.read.webhookDeliveries.list(accountId, endpointId, options)
}

export async function getDelivery(deps: ServiceDeps, accountId: string, id: string): Promise<WebhookDelivery> {
  const delivery = await deps.storage.read.webhookDeliveries.get(accountId, id)
  if (!delivery) throw new NotFoundError(`Webhook delivery "${id}" not found`)
  return delivery
}

/**
 * Sends the delivery again, the same body with the same `webhook-id`: a failed one gets a fresh
 * retry schedule, a delivered one goes out once more, a pending one is due at once. Like any
 * delivery it waits for earlier pending ones of its conversation.
 */
export async function replayDelivery(deps: ServiceDeps, accountId: string, id: string): Promise<WebhookDelivery> {
  const replayed = await deps.storage.transaction(async (tx) => {
    const found = await tx.webhookDeliveries.replay(accountId, id, deps.clock.now())
    if (found) tx.onCommit(() => deps.webhookDispatch.wake())
    return found
  })
  if (!replayed) {
    if (await deps.storage.read.webhookDeliveries.get(accountId, id)) {
      throw new AppError('bad_request', `Webhook delivery "${id}" is being attempted right now; replay it once that attempt is recorded`)
    }
    throw new NotFoundError(`Webhook delivery "${id}" not found`)
  }
  // As the replay left it: a worker woken by the commit may already be sending it again, and a read
  // now would answer with that attempt's outcome instead.
  return replayed
}

/** Forgets delivered and failed deliveries older than `retentionMs`. Returns how many. */
export function purgeFinishedDeliveries(deps: ServiceDeps, retentionMs: number): Promise<number> {
  return deps.storage.transaction((tx) => tx.webhookDeliveries.purgeFinishedBefore(deps.clock.now() - retentionMs))
}
