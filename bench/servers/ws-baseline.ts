// The realtime baseline: a bare `ws` WebSocketServer on a bare node:http server, with no auth, no
// storage, no validation and no hub. A socket on /ws/visitor says hello with its visitorId and gets
// a welcome; `POST /v3/conversations/messages` parses the JSON body, pushes a `message.created`
// frame shaped like Parley's to that visitor's sockets and answers 200 with the message. So it pays
// for what Parley cannot avoid (an HTTP request, a socket push) and nothing else.
// Usage: node --import tsx bench/servers/ws-baseline.ts
// Prints one JSON line ({ port }) once it listens on 127.0.0.1; answers memory and CPU probes over IPC.
import { createServer } from 'node:http'
import { randomUUID } from 'node:crypto'
import { WebSocketServer, type WebSocket } from 'ws'
import { MAX_FRAME_BYTES } from '../../src/realtime/protocol.js'
import { answerProbes, reportReady, stopOn } from './lifecycle.js'

const visitors = new Map<string, Set<WebSocket>>()
let seq = 0

const server = createServer((request, response) => {
  if (request.method !== 'POST' || request.url !== '/v3/conversations/messages') {
    response.writeHead(404).end()
    return
  }
  const chunks: Buffer[] = []
  request.on('data', (chunk: Buffer) => chunks.push(chunk))
  request.on('end', () => {
    let body: { visitorId?: string; text?: string; agentId?: string }
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch {
      response.writeHead(400).end()
      return
    }
    const createdAt = Date.now()
    const message = { id: randomUUID(), type: 'agent', text: body.text, createdAt, agentName: 'Bench Agent' }
    const frame = JSON.stringify({ type: 'message.created', seq: ++seq, message })
    for (const socket of visitors.get(body.visitorId ?? '') ?? []) socket.send(frame)
    response.writeHead(200, { 'content-type': 'application/json' })
    response.end(JSON.stringify({ ...message, visitorId: body.visitorId, agentId: body.agentId }))
  })
})

// The same options as Parley's gateway.
const sockets = new WebSocketServer({ server, path: '/ws/visitor', maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false })
sockets.on('connection', (socket) => {
  let visitorId: string | undefined
  socket.on('message', (data) => {
    let frame: { type?: string; visitorId?: string }
    try {
      frame = JSON.parse(String(data))
    } catch {
      return
    }
    if (frame.type !== 'hello' || visitorId !== undefined || !frame.visitorId) return
    visitorId = frame.visitorId
    let set = visitors.get(visitorId)
    if (!set) visitors.set(visitorId, (set = new Set()))
    set.add(socket)
    socket.send(
      JSON.stringify({
        type: 'welcome',
        visitorId,
        visitorToken: '',
        conversationId: null,
        accountName: 'Bench site',
        agents: [],
        resumed: false,
        messages: [],
        seq,
      }),
    )
  })
  socket.on('close', () => {
    const set = visitorId === undefined ? undefined : visitors.get(visitorId)
    set?.delete(socket)
    if (set?.size === 0) visitors.delete(visitorId!)
  })
})

stopOn(async () => {
  for (const socket of sockets.clients) socket.terminate()
  sockets.close()
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  reportReady({ port: typeof address === 'object' && address ? address.port : 0 })
  answerProbes()
})
