import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import { generateWebhookSecret } from '../domain/webhooks.js'
import { signatureHeader, signingSecrets, webhookHeaders } from './signing.js'

describe('Standard Webhooks signatures', () => {
  it("matches the scheme's published example", () => {
    // From the Standard Webhooks specification's reference implementations.
    const header = signatureHeader(['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'], 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')
    expect(header).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=')
  })

  it('verifies with the standardwebhooks package, and fails for another body or secret', () => {
    const secret = generateWebhookSecret()
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    const body = JSON.stringify({ eventName: 'conversationStarted', text: 'héllo 👋' })
    const now = Date.now()
    const headers = webhookHeaders([secret], 'eYBEm3gq3zc5ayE2g', now, body)
    expect(headers['webhook-id']).toBe('eYBEm3gq3zc5ayE2g')
    expect(headers['webhook-timestamp']).toBe(String(Math.floor(now / 1000)))
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body))
    expect(() => new Webhook(secret).verify(body.replace('héllo', 'hello'), headers)).toThrow()
    expect(() => new Webhook(generateWebhookSecret()).verify(body, headers)).toThrow()
  })

  it('signs with both secrets, space-separated, and each verifies on its own', () => {
    const [current, previous] = [generateWebhookSecret(), generateWebhookSecret()]
    const body = '{"eventName":"message.created"}'
    const headers = webhookHeaders([current, previous], 'id-1', Date.now(), body)
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=* v1,[A-Za-z0-9+/]+=*$/)
    expect(new Webhook(current).verify(body, headers)).toBeTruthy()
    expect(new Webhook(previous).verify(body, headers)).toBeTruthy()
  })
})

describe('signingSecrets', () => {
  const endpoint = { secret: 'whsec_new', previousSecret: 'whsec_old', previousSecretExpiresAt: 1000 }

  it('adds the replaced secret until it expires', () => {
    expect(signingSecrets(endpoint, 999)).toEqual(['whsec_new', 'whsec_old'])
    expect(signingSecrets(endpoint, 1000)).toEqual(['whsec_new'])
    expect(signingSecrets({ secret: 'whsec_only' }, 0)).toEqual(['whsec_only'])
  })
})
