import pg from 'pg'
import { expect, it } from 'vitest'
import { createAgent } from '../src/services/accounts.js'
import { sendAgentMessage } from '../src/services/messages.js'
import { createFakeWebhookTransport } from '../src/services/test-deps.js'
import { createWebhook, listDeliveries } from '../src/services/webhooks.js'
import { describePostgres } from './helpers/databases.js'
import { startParley } from './helpers/parley.js'

// Several processes share PostgreSQL, so an endpoint can be deleted while a message that reads the
// account's endpoints is in its transaction. The message must succeed either way.

describePostgres('webhook endpoint deleted during a message [postgres]', () => {
  it('sends the message without a delivery for the endpoint deleted under it', async () => {
    const parley = await startParley('postgres', { backgroundJobs: false, overrides: { webhookTransport: createFakeWebhookTransport() } })
    const admin = new pg.Client({ connectionString: parley.ctx.config.databaseUrl })
    try {
      const { endpoint } = await createWebhook(parley.ctx, parley.accountId, { url: 'https://hooks.example.com/in', events: ['message.created'] })
      const agent = await createAgent(parley.ctx, parley.accountId, { email: 'liz@acme.test', name: 'Liz' })
      // Another process deletes the endpoint and has not committed yet.
      await admin.connect()
      await admin.query('begin')
      await admin.query('delete from webhook_endpoint where id = $1', [endpoint.id])
      const sending = sendAgentMessage(parley.ctx, parley.accountId, { visitorId: 'v-race', text: 'Hello', agentId: agent.id })
      await new Promise((resolve) => setTimeout(resolve, 300))
      await admin.query('commit')
      const message = await sending
      expect(await parley.ctx.storage.read.messages.get(parley.accountId, message.id)).toMatchObject({ text: 'Hello' })
      expect(await listDeliveries(parley.ctx, parley.accountId, endpoint.id, { limit: 10 }).catch((err: Error) => err.name)).toBe('NotFoundError')
    } finally {
      await admin.end().catch(() => {})
      await parley.close()
    }
  })
})
