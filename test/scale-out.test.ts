import { afterAll, beforeAll, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { createContext, type AppContext } from '../src/context.js'
import { buildApp, type App } from '../src/http/app.js'
import { createAccount, createAgent } from '../src/services/accounts.js'
import { sweepPresence } from '../src/services/agents.js'
import { describePostgres, describeRedis } from './helpers/databases.js'
import { createTestDatabase } from './helpers/postgres.js'
import { REDIS_URL, testRedisPrefix } from './helpers/redis.js'
import { connectVisitor, openSocket, type TestSocket } from './helpers/sockets.js'

interface Server {
  baseUrl: string
  app: App
  ctx: AppContext
}

let offset = 0
const clock = { now: () => Date.now() + offset }

async function startServer(databaseUrl: string, redisPrefix: string): Promise<Server> {
  const ctx = await createContext(
    { ...loadConfig({}), databaseUrl, redisUrl: REDIS_URL, redisPrefix, logLevel: 'silent' },
    { clock },
  )
  const app = await buildApp(ctx)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  return { baseUrl: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, app, ctx }
}

// The scaled-out configuration: two Parley processes' worth of servers on one PostgreSQL database and
// one Redis, as behind a load balancer without sticky sessions. The widget may sit on one while
// the agent's REST calls land on the other.
describePostgres('scale-out over PostgreSQL and Redis', () =>
  describeRedis('two servers, one database, one Redis', () => {
    let database: Awaited<ReturnType<typeof createTestDatabase>>
    let a: Server
    let b: Server
    let apiKey: string
    let widgetId: string
    let accountId: string
    const sockets: TestSocket[] = []

    beforeAll(async () => {
      database = await createTestDatabase()
      const prefix = testRedisPrefix()
      ;[a, b] = await Promise.all([startServer(database.url, prefix), startServer(database.url, prefix)])
      const created = await createAccount(a.ctx, 'Shared')
      ;({ apiKey } = created)
      ;({ widgetId, id: accountId } = created.account)
    })
    afterAll(async () => {
      for (const socket of sockets) socket.ws.terminate()
      for (const server of [a, b]) {
        await server?.app.close()
        await server?.ctx.close()
      }
      await database?.drop()
    })

    it("delivers a message sent through one server to a widget connected to the other, and the widget's message to the other's agent socket", async () => {
      const { socket, welcome } = await connectVisitor(a.baseUrl, widgetId)
      sockets.push(socket)
      const agent = await openSocket(`${b.baseUrl.replace('http', 'ws')}/ws/agent`, { 'api-key': apiKey })
      sockets.push(agent)
      agent.send({ type: 'hello' })
      await agent.next((f) => f.type === 'welcome')

      const sent = await fetch(`${b.baseUrl}/v3/conversations/messages`, {
        method: 'POST',
        headers: { 'api-key': apiKey, 'content-type': 'application/json' },
        body: JSON.stringify({ visitorId: welcome.visitorId, text: 'from server b', agentEmail: 'liz@x.io', agentName: 'Liz', receivedFrom: 't' }),
      })
      const message = (await sent.json()) as { id: string }
      const frame = await socket.next((f) => f.type === 'message.created')
      expect(frame.message).toMatchObject({ id: message.id, text: 'from server b' })

      socket.send({ type: 'message', clientId: 'x1', text: 'hello from a' })
      const event = await agent.next((f) => f.type === 'event' && f.payload.message?.type === 'visitor')
      expect(event.payload.message.text).toBe('hello from a')

      socket.send({ type: 'typing', isTyping: true })
      expect(await agent.next((f) => f.type === 'typing')).toMatchObject({ visitorId: welcome.visitorId, isTyping: true })
      agent.send({ type: 'typing', visitorId: welcome.visitorId, isTyping: true })
      expect(await socket.next((f) => f.type === 'typing')).toMatchObject({ isTyping: true })
    })

    it('shares presence: a ping on one server shows in widgets on the other, and one sweep records the agent going offline', async () => {
      const { socket } = await connectVisitor(a.baseUrl, widgetId)
      sockets.push(socket)
      const sam = await createAgent(b.ctx, accountId, { email: 'sam@x.io', name: 'Sam' })
      const ping = await fetch(`${b.baseUrl}/v3/conversations/agentOnlinePing`, {
        method: 'POST',
        headers: { 'api-key': apiKey, 'content-type': 'application/json' },
        body: JSON.stringify({ agentId: sam.id }),
      })
      expect(ping.status).toBe(201)
      expect((await socket.next((f) => f.type === 'presence')).agents).toEqual([{ id: sam.id, name: 'Sam' }])
      // A second ping through the other server only extends the time: no second agent.online.
      await fetch(`${a.baseUrl}/v3/conversations/agentOnlinePing`, {
        method: 'POST',
        headers: { 'api-key': apiKey, 'content-type': 'application/json' },
        body: JSON.stringify({ agentId: sam.id }),
      })
      const later = await connectVisitor(b.baseUrl, widgetId)
      sockets.push(later.socket)
      expect(later.welcome.agents).toEqual([{ id: sam.id, name: 'Sam' }])

      offset += 200_000
      const swept = await Promise.all([sweepPresence(a.ctx), sweepPresence(b.ctx)])
      expect(swept[0] + swept[1]).toBe(1)
      const offline = await socket.next((f) => f.type === 'presence' && f.agents.length === 0)
      expect(offline.agents).toEqual([])
      const events = await a.ctx.storage.read.events.listAfter(accountId, 0, 1000)
      expect(events.filter((e) => e.type === 'agent.online')).toHaveLength(1)
      expect(events.filter((e) => e.type === 'agent.offline')).toHaveLength(1)
    })
  }),
)
