// The baseline: bare Fastify 5 on the same routes, with no auth, no storage and no schemas. It
// parses the JSON body and echoes it, and answers GET with a fixed message of the real size.
// Usage: node --import tsx bench/servers/baseline.ts '<ConversationsMessage JSON>'
// Prints one JSON line ({ port }) once it listens on 127.0.0.1. Started with an IPC channel, it
// answers CPU probes (bench/rest-api.ts).
import Fastify from 'fastify'
import { answerProbes, reportReady, stopOn } from './lifecycle.js'

const message = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>
const app = Fastify({ logger: false })
app.post('/v3/conversations/messages', async (request) => request.body)
app.get('/v3/conversations/messages/:id', async () => message)
stopOn(() => app.close())

await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
reportReady({ port: typeof address === 'object' && address ? address.port : 0 })
answerProbes()
