// Parley on a fresh SQLite file in a temp dir, for the load generator in bench/run.ts.
// Usage: node --import tsx bench/servers/parley.ts <seed messages>
// Prints one JSON line ({ port, apiKey, agentId, widgetId, messageIds }) once it listens on 127.0.0.1.
// Started with an IPC channel, it answers memory and CPU probes (bench/realtime.ts).
// Parley's V8 settings, as bin/parley.js applies them: before anything else is loaded.
import '../../src/v8-flags.js'
import { createAccount, createAgent } from '../../src/services/accounts.js'
import { sendAgentMessage } from '../../src/services/messages.js'
import { messageText, VISITOR_COUNT, visitorId } from '../lib/workload.js'
import { startBenchParley } from './bench-parley.js'
import { answerProbes, reportReady } from './lifecycle.js'

const seedMessages = Number(process.argv[2] ?? VISITOR_COUNT)
const { ctx, app, databasePath } = await startBenchParley('rest')

const { account, apiKey } = await createAccount(ctx, 'Bench site')
const agent = await createAgent(ctx, account.id, { email: 'agent@bench.example', name: 'Bench Agent' })

// One message per visitor first, so the POST load writes to existing conversations as a live site
// mostly does, and the GET load has ids to read. Concurrent, so they share commits.
const messageIds: string[] = []
for (let start = 0; start < seedMessages; start += 100) {
  const batch = Array.from({ length: Math.min(100, seedMessages - start) }, (_, k) => start + k)
  const created = await Promise.all(
    batch.map((i) =>
      sendAgentMessage(ctx, account.id, { visitorId: visitorId(i % VISITOR_COUNT), agentId: agent.id, text: messageText(i) }),
    ),
  )
  messageIds.push(...created.map((m) => m.id))
}

await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
reportReady({
  port: typeof address === 'object' && address ? address.port : 0,
  databasePath,
  apiKey,
  agentId: agent.id,
  widgetId: account.widgetId,
  messageIds,
})
answerProbes()
