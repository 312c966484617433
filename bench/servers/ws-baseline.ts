// The realtime baseline: a bare `ws` WebSocketServer on a bare node:http server, with no auth, no
// storage, no validation and no hub. A socket on /ws/visitor says hello with its visitorId and gets
// a welcome; `POST /v3/conversations/messages` parses the JSON body, pushes a `message.created`
// frame shaped like Parley's to that visitor's sockets and answers 200 with the message. So it pays
// for what Parley cannot avoid (an HTTP request, a socket push) and nothing else.
//
// With `--durable` it is the realtime floor instead: before the push and the answer, the message
// and its event are written to a SQLite file with Parley's schema (the visitor's conversation
// looked up, or created on its first message) and synced to disk by group-commit.ts. That is the
// least any server must do that promises, as Parley does, never to show a message that a crash
// could then lose.
// Usage: node --import tsx bench/servers/ws-baseline.ts [--durable]
// Prints one JSON line ({ port }) once it listens on 127.0.0.1; answers memory and CPU probes over IPC.
import { createServer } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { WebSocketServer, type WebSocket } from 'ws'
import { createSqliteStorage } from '../../src/adapters/storage/sqlite.js'
import { generateId, generateTimeOrderedId } from '../../src/domain/ids.js'
import { MAX_FRAME_BYTES } from '../../src/realtime/protocol.js'
import { groupCommit } from './group-commit.js'
import { answerProbes, reportReady, stopOn } from './lifecycle.js'

interface BenchMessage {
  id: string
  type: 'agent'
  text?: string
  createdAt: number
  agentName: string
}

/** The floor's storage: Parley's tables, written straight through better-sqlite3. */
async function openDurableStore() {
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-ws-floor-'))
  const path = join(dir, 'floor.db')
  const migrated = createSqliteStorage(path)
  await migrated.migrate()
  await migrated.close()
  const db = new BetterSqlite3(path)
  const accountId = 'bench'
  const selectConversation = db.prepare('select id from conversation where account_id = ? and visitor_id = ?').pluck()
  const insertConversation = db.prepare(
    `insert into conversation (id, account_id, visitor_id, status, created_at, last_activity_at, opened_at) values (?, ?, ?, 'open', ?, ?, ?)`,
  )
  const insertMessage = db.prepare(
    `insert into message (id, account_id, conversation_id, visitor_id, type, text, agent_name, created_at) values (?, ?, ?, ?, 'agent', ?, ?, ?)`,
  )
  const insertEvent = db.prepare(`insert into event (account_id, seq, conversation_id, type, payload, created_at) values (?, ?, ?, 'message.created', ?, ?)`)
  const writer = groupCommit(db)
  return {
    /** Resolves once the message and its event are on disk. */
    store(visitorId: string, message: BenchMessage, seq: number): Promise<void> {
      return writer.write(() => {
        let conversationId = selectConversation.get(accountId, visitorId) as string | undefined
        if (conversationId === undefined) {
          conversationId = generateId()
          insertConversation.run(conversationId, accountId, visitorId, message.createdAt, message.createdAt, message.createdAt)
        }
        insertMessage.run(message.id, accountId, conversationId, visitorId, message.text ?? '', message.agentName, message.createdAt)
        insertEvent.run(accountId, seq, conversationId, JSON.stringify({ message }), message.createdAt)
      })
    },
    close(): void {
      writer.close()
      db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

const durable = process.argv.includes('--durable') ? await openDurableStore() : undefined
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
    // Ids like Parley's, which start with the time: the floor's message index then grows at one end.
    const message: BenchMessage = { id: generateTimeOrderedId(createdAt), type: 'agent', text: body.text, createdAt, agentName: 'Bench Agent' }
    const messageSeq = ++seq
    const deliver = () => {
      const frame = JSON.stringify({ type: 'message.created', seq: messageSeq, message })
      for (const socket of visitors.get(body.visitorId ?? '') ?? []) socket.send(frame)
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ ...message, visitorId: body.visitorId, agentId: body.agentId }))
    }
    if (!durable) return deliver()
    durable.store(body.visitorId ?? '', message, messageSeq).then(deliver, (err: Error) => {
      response.writeHead(500).end(err.message)
    })
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
  durable?.close()
})

server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  reportReady({ port: typeof address === 'object' && address ? address.port : 0 })
  answerProbes()
})
