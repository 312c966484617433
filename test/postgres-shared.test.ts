import { afterAll, beforeAll, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { createContext, type AppContext } from '../src/context.js'
import { buildApp, type App } from '../src/http/app.js'
import { createAccount } from '../src/services/accounts.js'
import { describePostgres } from './helpers/databases.js'
import { createTestDatabase } from './helpers/postgres.js'

interface Server {
  url: string
  app: App
  ctx: AppContext
}

async function startServer(databaseUrl: string): Promise<Server> {
  const ctx = await createContext({ ...loadConfig({}), databaseUrl, logLevel: 'silent' })
  const app = await buildApp(ctx)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v3`, app, ctx }
}

// Two Parley servers on one PostgreSQL database, as behind a load balancer: the REST API needs no
// sticky sessions because everything it answers from is in the database.
describePostgres('two servers sharing one PostgreSQL database', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>
  let servers: Server[] = []
  let apiKey: string
  let accountId: string

  beforeAll(async () => {
    database = await createTestDatabase()
    // Both migrate at once on start, as two replicas would.
    servers = await Promise.all([startServer(database.url), startServer(database.url)])
    const created = await createAccount(servers[0].ctx, 'Shared')
    apiKey = created.apiKey
    accountId = created.account.id
  })
  afterAll(async () => {
    for (const s of servers) {
      await s.app.close()
      await s.ctx.close()
    }
    await database?.drop()
  })

  const post = (server: Server, body: object, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/conversations/messages`, {
      method: 'POST',
      headers: { 'api-key': apiKey, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })
  const message = (i: number) => ({
    visitorId: `shared-visitor-${i % 7}`,
    text: `message ${i}`,
    agentEmail: 'liz@example.com',
    agentName: 'Liz',
    receivedFrom: 'replicas',
  })

  it('serves what either one wrote, with one dummy agent and a gapless event sequence', async () => {
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => post(servers[i % 2], message(i))))
    expect(replies.map((r) => r.status)).toEqual(Array(60).fill(200))
    const sent = await Promise.all(replies.map((r) => r.json()))
    expect(new Set(sent.map((m) => m.agentId)).size).toBe(1)
    for (const [i, m] of sent.entries()) {
      const read = await fetch(`${servers[(i + 1) % 2].url}/conversations/messages/${m.id}`, { headers: { 'api-key': apiKey } })
      expect(await read.json()).toEqual(m)
    }
    const events = await servers[1].ctx.storage.read.events.listAfter(accountId, 0, 1000)
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
    expect(events.filter((e) => e.type === 'message.created')).toHaveLength(60)
  })

  it('stores one message for one Idempotency-Key sent to both servers at once', async () => {
    const before = await servers[0].ctx.storage.read.messages.count(accountId)
    const headers = { 'idempotency-key': 'retry-across-replicas' }
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => post(servers[i % 2], message(1000), headers)))
    expect(replies.map((r) => r.status)).toEqual(Array(10).fill(200))
    const ids = new Set((await Promise.all(replies.map((r) => r.json()))).map((m) => m.id))
    expect(ids.size).toBe(1)
    expect(await servers[1].ctx.storage.read.messages.count(accountId)).toBe(before + 1)
  })
})
