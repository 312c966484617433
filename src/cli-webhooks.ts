import type { AppContext } from './context.js'
import { AppError } from './domain/errors.js'
import type { DeliveryStatus } from './domain/webhooks.js'
import { closeConversation } from './services/conversations.js'
import * as webhooks from './services/webhooks.js'

export const WEBHOOKS_USAGE = `  webhooks create --url <url> --events <e1,e2,…> [--description <d>] [--account <id>]
                                          prints the id and the signing secret (shown once)
  webhooks list [--account <id>]
  webhooks update <id> [--url <url>] [--events <e1,…>] [--description <d>] [--account <id>]
  webhooks enable|disable|delete <id> [--account <id>]
  webhooks rotate-secret <id> [--account <id>]
                                          a new secret; the old one also signs for 24 hours
  webhooks deliveries <id> [--status pending|delivered|failed] [--limit <n>] [--account <id>]
  webhooks replay <deliveryId> [--account <id>]
  conversations close <conversationId> [--account <id>]
                                          webhooks get the conversation's transcript`

export interface WebhookCommandOptions {
  url?: string
  events?: string
  description?: string
  status?: string
  limit?: string
}

type Out = (human: string, json: unknown) => void

function list(value: string): string[] {
  return value
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)
}

function need(value: string | undefined, usage: string): string {
  if (!value) throw new AppError('missing_parameter', `usage: parley ${usage}`)
  return value
}

function deliveryLine(d: ReturnType<typeof webhooks.deliveryView>): string {
  const last = d.lastError ?? (d.lastStatus === undefined ? '' : `HTTP ${d.lastStatus}`)
  const when = new Date(d.status === 'pending' ? d.nextAttemptAt! : (d.deliveredAt ?? d.createdAt)).toISOString()
  return [d.id, d.event, d.status, `${d.attemptCount} attempt${d.attemptCount === 1 ? '' : 's'}`, d.status === 'pending' ? `next ${when}` : when, last]
    .filter(Boolean)
    .join('  ')
}

/** `parley webhooks …` and `parley conversations close`; undefined for a subcommand it does not know. */
export async function runWebhookCommand(
  ctx: AppContext,
  command: string,
  sub: string | undefined,
  args: string[],
  accountId: string,
  options: WebhookCommandOptions,
  out: Out,
): Promise<number | undefined> {
  const id = args[0]
  switch (`${command} ${sub ?? ''}`.trim()) {
    case 'webhooks create': {
      const url = need(options.url, 'webhooks create --url <url> --events <e1,e2,…>')
      const events = list(need(options.events, 'webhooks create --url <url> --events <e1,e2,…>'))
      const { endpoint, secret } = await webhooks.createWebhook(ctx, accountId, { url, events, description: options.description })
      out(`webhook: ${endpoint.id}\nsecret:  ${secret}\n(the secret is shown only this once)`, { id: endpoint.id, secret })
      return 0
    }
    case 'webhooks list': {
      const all = await webhooks.listWebhooks(ctx, accountId)
      const rows = all.map((e) => [e.id, e.enabled ? 'enabled' : `disabled (${e.disabledReason ?? ''})`, e.url, e.events.join(','), e.description ?? ''])
      out(rows.length ? rows.map((r) => r.filter(Boolean).join('  ')).join('\n') : '(none)', all.map(webhooks.endpointView))
      return 0
    }
    case 'webhooks update': {
      const endpoint = await webhooks.updateWebhook(ctx, accountId, need(id, 'webhooks update <id> [--url …] [--events …] [--description …]'), {
        url: options.url,
        events: options.events === undefined ? undefined : list(options.events),
        description: options.description,
      })
      out(`updated ${endpoint.id}`, webhooks.endpointView(endpoint))
      return 0
    }
    case 'webhooks enable':
    case 'webhooks disable': {
      const endpoint = await webhooks.updateWebhook(ctx, accountId, need(id, `webhooks ${sub} <id>`), { enabled: sub === 'enable' })
      out(`${sub}d ${endpoint.id}`, webhooks.endpointView(endpoint))
      return 0
    }
    case 'webhooks delete': {
      await webhooks.deleteWebhook(ctx, accountId, need(id, 'webhooks delete <id>'))
      out(`deleted ${id}`, { id, deleted: true })
      return 0
    }
    case 'webhooks rotate-secret': {
      const { endpoint, secret } = await webhooks.rotateWebhookSecret(ctx, accountId, need(id, 'webhooks rotate-secret <id>'))
      const until = endpoint.previousSecretExpiresAt!
      out(`secret:  ${secret}\nthe previous secret also signs until ${new Date(until).toISOString()}`, {
        id: endpoint.id,
        secret,
        previousSecretExpiresAt: until,
      })
      return 0
    }
    case 'webhooks deliveries': {
      const status = options.status as DeliveryStatus | undefined
      if (status !== undefined && !['pending', 'delivered', 'failed'].includes(status)) {
        throw new AppError('invalid_parameter', '--status must be pending, delivered or failed')
      }
      const limit = options.limit === undefined ? 20 : Number(options.limit)
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new AppError('invalid_parameter', '--limit must be a whole number from 1 to 100')
      const found = await webhooks.listDeliveries(ctx, accountId, need(id, 'webhooks deliveries <id>'), { limit, status })
      const views = found.map(webhooks.deliveryView)
      out(views.length ? views.map(deliveryLine).join('\n') : '(none)', views)
      return 0
    }
    case 'webhooks replay': {
      const view = webhooks.deliveryView(await webhooks.replayDelivery(ctx, accountId, need(id, 'webhooks replay <deliveryId>')))
      out(`replaying ${view.id}: due now`, view)
      return 0
    }
    case 'conversations close': {
      const conversation = await closeConversation(ctx, accountId, need(id, 'conversations close <conversationId>'))
      out(`closed ${conversation.id}`, { conversationId: conversation.id, visitorId: conversation.visitorId, status: conversation.status })
      return 0
    }
    default:
      return undefined
  }
}
