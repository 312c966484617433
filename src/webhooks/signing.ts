import { createHmac } from 'node:crypto'
import { WEBHOOK_SECRET_PREFIX } from '../domain/webhooks.js'

/** The HMAC key a `whsec_<base64>` secret stands for. */
export function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(WEBHOOK_SECRET_PREFIX) ? secret.slice(WEBHOOK_SECRET_PREFIX.length) : secret
  return Buffer.from(encoded, 'base64')
}

/**
 * The Standard Webhooks `webhook-signature` header: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
 * for each secret, space-separated. A receiver accepts the message if any one verifies, which is
 * what lets a rotated secret keep working for a while beside the new one.
 */
export function signatureHeader(secrets: string[], id: string, timestampSeconds: number, body: string): string {
  const signed = `${id}.${timestampSeconds}.${body}`
  return secrets.map((secret) => `v1,${createHmac('sha256', secretKey(secret)).update(signed).digest('base64')}`).join(' ')
}

/** The secrets that sign at `now`: the current one, and the one it replaced while that is still honoured. */
export function signingSecrets(
  endpoint: { secret: string; previousSecret?: string; previousSecretExpiresAt?: number },
  now: number,
): string[] {
  const live = endpoint.previousSecret !== undefined && (endpoint.previousSecretExpiresAt ?? 0) > now
  return live ? [endpoint.secret, endpoint.previousSecret!] : [endpoint.secret]
}

/** The three Standard Webhooks headers of one attempt. The id is the delivery's, the same on every attempt. */
export function webhookHeaders(secrets: string[], id: string, now: number, body: string): Record<string, string> {
  const timestamp = Math.floor(now / 1000)
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader(secrets, id, timestamp, body),
  }
}
