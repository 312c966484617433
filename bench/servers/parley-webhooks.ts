// Parley on a fresh SQLite file with one webhook endpoint (message.created → the bench's receiver),
// for bench/webhooks.ts. The webhook worker runs only between `start` and `stop`, so a backlog can
// be queued first and its draining timed.
// Usage: node --import tsx bench/servers/parley-webhooks.ts <receiver url>   (with an IPC channel)
// Prints one JSON line ({ port, apiKey, agentId, endpointId, secret }) once it listens on 127.0.0.1.
// Parley's V8 settings, as bin/parley.js applies them: before anything else is loaded.
import '../../src/v8-flags.js'
import { startBackgroundJobs } from '../../src/background.js'
import { createAccount, createAgent } from '../../src/services/accounts.js'
import { sendAgentMessage } from '../../src/services/messages.js'
import { createWebhook } from '../../src/services/webhooks.js'
import { messageText, VISITOR_COUNT, visitorId } from '../lib/workload.js'
import { startBenchParley } from './bench-parley.js'
import { answerRequests, reportReady } from './lifecycle.js'

export type ParleyWebhooksRequest =
  | { type: 'seed'; count: number }
  | { type: 'pending'; limit: number }
  | { type: 'start' }
  | { type: 'stop' }
  | { type: 'durations'; limit: number }

const receiverUrl = process.argv[2]
if (!receiverUrl) throw new Error('usage: parley-webhooks.ts <receiver url>')
let stopJobs: (() => Promise<void>) | undefined
// The receiver is on 127.0.0.1.
const { ctx, app } = await startBenchParley('webhooks', { webhooksAllowPrivateTargets: true }, async () => {
  await stopJobs?.()
})

const { account, apiKey } = await createAccount(ctx, 'Bench site')
const agent = await createAgent(ctx, account.id, { email: 'agent@bench.example', name: 'Bench Agent' })
const { endpoint, secret } = await createWebhook(ctx, account.id, { url: receiverUrl, events: ['message.created'] })
let seeded = 0

answerRequests(async (raw) => {
  const request = raw as ParleyWebhooksRequest
  switch (request.type) {
    case 'seed': {
      // Spread over many conversations, as a live site's are: one conversation's deliveries go
      // out one after another. Concurrent, so the messages share commits.
      for (let start = 0; start < request.count; start += 100) {
        const batch = Array.from({ length: Math.min(100, request.count - start) }, (_, k) => seeded + start + k)
        await Promise.all(
          batch.map((i) => sendAgentMessage(ctx, account.id, { visitorId: visitorId(i % VISITOR_COUNT), agentId: agent.id, text: messageText(i) })),
        )
      }
      seeded += request.count
      return { seeded: request.count }
    }
    case 'pending': {
      const pending = await ctx.storage.read.webhookDeliveries.list(account.id, endpoint.id, { limit: request.limit, status: 'pending' })
      return pending.map((d) => ({ id: d.id, payload: d.payload }))
    }
    case 'start':
      stopJobs ??= startBackgroundJobs(ctx)
      return true
    case 'stop':
      await stopJobs?.()
      stopJobs = undefined
      return true
    case 'durations': {
      // The worker's own timing of each POST: the same round trip the baseline measures.
      const deliveries = await ctx.storage.read.webhookDeliveries.list(account.id, endpoint.id, { limit: request.limit, status: 'delivered' })
      return deliveries.flatMap((d) => d.attemptLog.map((a) => a.durationMs))
    }
  }
})

await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
reportReady({ port: typeof address === 'object' && address ? address.port : 0, apiKey, agentId: agent.id, endpointId: endpoint.id, secret })
