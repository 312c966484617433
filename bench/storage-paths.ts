// Parley's costliest write paths, driven in process through the real services and a SQLite file,
// without HTTP: a POST's write (agent messages to 1,000 visitors, 32 in flight), the same messages
// written one at a time, each its own commit and sync (the realtime benchmark's load), and a webhook
// drain (claim 48, record 32 outcomes at a time, as the worker does). Prints CPU time per message and
// per delivery. Far steadier than `npm run bench` on a shared VM, so it is the judge for changes
// below the HTTP layer; to compare two versions, run it alternately in two checkouts:
//
//   node --import tsx bench/storage-paths.ts [messages] [deliveries] [lone messages]
//
// Messages and deliveries default to 30,000, lone messages to 3,000. Not part of `npm run bench`:
// there is no baseline to set a ratio against.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createContext, type AppContext } from '../src/context.js'
import { generateId } from '../src/domain/ids.js'
import type { WebhookDelivery } from '../src/domain/webhooks.js'
import { createAccount, createAgent } from '../src/services/accounts.js'
import { sendAgentMessage } from '../src/services/messages.js'
import { messageText, seededRandom, VISITOR_COUNT, visitorId } from './lib/workload.js'
import { benchConfig } from './servers/bench-parley.js'

const IN_FLIGHT = 32
const CLAIM = 48
const RECORD = 32

function count(arg: string | undefined, fallback: number): number {
  const n = arg === undefined ? fallback : Number(arg)
  if (!Number.isInteger(n) || n < 1000) throw new Error(`counts must be whole numbers ≥ 1000, got "${arg}"`)
  return n
}

/** CPU time of this process (all threads) per operation while `run` does `n` of them. */
async function measure(n: number, run: () => Promise<void>): Promise<{ cpuUs: number; sysUs: number; perSecond: number }> {
  const cpu = process.cpuUsage()
  const start = performance.now()
  await run()
  const used = process.cpuUsage(cpu)
  return { cpuUs: (used.user + used.system) / n, sysUs: used.system / n, perSecond: (n / (performance.now() - start)) * 1000 }
}

/** Parley's services as a bench server composes them, on a fresh SQLite file, without HTTP. */
async function withParley<T>(use: (ctx: AppContext) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-storage-'))
  const ctx = await createContext(benchConfig(join(dir, 'parley.db')))
  try {
    return await use(ctx)
  } finally {
    await ctx.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** `n` agent messages to random visitors with an ongoing conversation, `inFlight` at a time. */
async function postPath(n: number, inFlight: number) {
  return withParley(async (ctx) => {
    const { account } = await createAccount(ctx, 'Acme')
    const agent = await createAgent(ctx, account.id, { email: 'liz@example.com', name: 'Liz' })
    const random = seededRandom(7)
    let sent = 0
    const send = () =>
      sendAgentMessage(ctx, account.id, {
        visitorId: visitorId(Math.floor(random() * VISITOR_COUNT)),
        text: messageText(sent++),
        agentId: agent.id,
      })
    // Every visitor has a conversation by now, as in the REST benchmark's steady state.
    for (let i = 0; i < 2 * VISITOR_COUNT; i++) await send()
    let started = 0
    const lane = async () => {
      while (started < n) {
        started++
        await send()
      }
    }
    return measure(n, () => Promise.all(Array.from({ length: inFlight }, lane)).then(() => {}))
  })
}

async function webhookDrain(n: number) {
  return withParley(async ({ storage }) => {
    const at = Date.now()
    const accountId = generateId()
    await storage.transaction((tx) => tx.accounts.insert({ id: accountId, name: 'Acme', widgetId: generateId(), createdAt: at }))
    const endpoint = {
      id: generateId(),
      accountId,
      url: 'http://127.0.0.1:9/',
      events: ['message.created' as const],
      enabled: true,
      secret: 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0',
      createdAt: at,
      updatedAt: at,
    }
    await storage.transaction((tx) => tx.webhookEndpoints.insert(endpoint))
    // A message.created payload of the usual size, over 1,000 conversations like the webhook benchmark.
    const payload = JSON.stringify({ eventName: 'message.created', message: { id: generateId(), text: messageText(0), html: messageText(0) }, pad: 'x'.repeat(300) })
    for (let batch = 0; batch * 1000 < n; batch++) {
      await storage.transaction(async (tx) => {
        for (let i = batch * 1000; i < Math.min(n, (batch + 1) * 1000); i++) {
          await tx.webhookDeliveries.insert({
            id: generateId(),
            accountId,
            endpointId: endpoint.id,
            conversationId: `conversation-${i % 1000}`,
            seq: i + 1,
            event: 'message.created',
            payload,
            status: 'pending',
            attempts: 0,
            tries: 0,
            nextAt: at,
            createdAt: at,
            attemptLog: [],
          })
        }
      })
    }
    const record = (batch: WebhookDelivery[]) => {
      const now = Date.now()
      return storage.transaction(async (tx) => {
        for (const d of batch) {
          await tx.webhookDeliveries.finishAttempt(d.accountId, d.id, d.leasedUntil!, {
            status: 'delivered',
            tries: 1,
            nextAt: d.nextAt,
            lastStatus: 200,
            deliveredAt: now,
            attemptLog: [{ attempt: 1, at: now, durationMs: 2, status: 200 }],
          })
        }
      })
    }
    return measure(n, async () => {
      let done = 0
      const leased: WebhookDelivery[] = []
      while (done < n) {
        const now = Date.now()
        const claimed = await storage.transaction((tx) => tx.webhookDeliveries.claimDue(now, now + 60_000, CLAIM), { durable: false })
        leased.push(...claimed)
        // Nothing more due means the rest are waiting on leased ones of their conversations.
        const take = claimed.length === 0 ? leased.length : leased.length - (leased.length % RECORD)
        for (const batch of chunks(leased.splice(0, take), RECORD)) {
          await record(batch)
          done += batch.length
        }
      }
    })
  })
}

function chunks<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))
}

const messages = count(process.argv[2], 30_000)
const deliveries = count(process.argv[3], 30_000)
const lone = count(process.argv[4], 3_000)
const post = await postPath(messages, IN_FLIGHT)
console.log(
  `POST write path: ${messages} messages, ${post.cpuUs.toFixed(1)} µs CPU each (${post.sysUs.toFixed(1)} system), ${post.perSecond.toFixed(0)}/s`,
)
// One at a time, each its own commit and sync: the realtime benchmark's load (500 messages/s) is this.
const single = await postPath(lone, 1)
console.log(
  `lone writes:     ${lone} messages one at a time, ${single.cpuUs.toFixed(1)} µs CPU each (${single.sysUs.toFixed(1)} system), ${(1e6 / single.perSecond).toFixed(0)} µs apart`,
)
const drain = await webhookDrain(deliveries)
console.log(
  `webhook drain:   ${deliveries} deliveries, ${drain.cpuUs.toFixed(1)} µs CPU each (${drain.sysUs.toFixed(1)} system), ${drain.perSecond.toFixed(0)}/s`,
)
