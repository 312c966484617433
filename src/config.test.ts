import { expect, it } from 'vitest'
import { ConfigError, loadConfig } from './config.js'

it('reads the webhook and idle settings, with their defaults', () => {
  expect(loadConfig({})).toMatchObject({
    webhooksAllowPrivateTargets: false,
    webhookFragmentWindowMs: 5_000,
    webhookRetentionMs: 30 * 86_400_000,
    conversationIdleMs: 30 * 60_000,
  })
  const set = loadConfig({
    PARLEY_WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true',
    PARLEY_WEBHOOK_FRAGMENT_WINDOW_SECONDS: '0',
    PARLEY_WEBHOOK_RETENTION_DAYS: '7',
    PARLEY_CONVERSATION_IDLE_MINUTES: '5',
  })
  expect(set).toMatchObject({ webhooksAllowPrivateTargets: true, webhookFragmentWindowMs: 0, webhookRetentionMs: 7 * 86_400_000, conversationIdleMs: 300_000 })
  expect(loadConfig({ PARLEY_WEBHOOKS_ALLOW_PRIVATE_TARGETS: '0' }).webhooksAllowPrivateTargets).toBe(false)
})

it('refuses settings it cannot read instead of guessing', () => {
  expect(() => loadConfig({ PARLEY_WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'yes' })).toThrow(ConfigError)
  expect(() => loadConfig({ PARLEY_CONVERSATION_IDLE_MINUTES: '0' })).toThrow(/PARLEY_CONVERSATION_IDLE_MINUTES/)
  expect(() => loadConfig({ PARLEY_WEBHOOK_FRAGMENT_WINDOW_SECONDS: '-1' })).toThrow(ConfigError)
})
