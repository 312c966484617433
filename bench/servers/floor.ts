// The floor: the least work any server meeting Parley's REST rules must do per request, on this
// machine, written straight on Fastify and better-sqlite3 with none of Parley's layers. It shows
// how much of Parley's distance to the baseline is Parley's own and how much the work itself.
//
// Per POST: the api-key's SHA-256 looked up in a Map, the body checked by hand, the agent and the
// visitor's conversation read, the message row and its event row inserted, and the answer sent
// once an fdatasync of the WAL covers the commit. Requests read in one turn of the event loop share
// one BEGIN…COMMIT and one sync (group commit), without savepoints. Per GET: the same key check,
// one point read by id and account, the same JSON. No rate limit, no schemas, no webhooks outbox,
// no realtime fan-out, no idempotency: the floor leaves out everything it can.
//
// The database is a copy of the bench Parley's, taken once Parley is seeded (SQLite's online backup),
// so tables, indexes, pages, the api-key, the agent and the message ids are Parley's own, and the
// same request lists serve both.
// Usage: node --import tsx bench/servers/floor.ts <Parley's SQLite file>
// Prints one JSON line ({ port }) once it listens on 127.0.0.1. Started with an IPC channel, it
// answers CPU probes (bench/rest-api.ts).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import Fastify from 'fastify'
import { generateTimeOrderedId } from '../../src/domain/ids.js'
import { textToHtml } from '../../src/domain/message.js'
import { hashApiKey } from '../../src/services/accounts.js'
import { groupCommit } from './group-commit.js'
import { answerProbes, reportReady, stopOn } from './lifecycle.js'

const source = process.argv[2]
if (!source) throw new Error("usage: floor.ts <Parley's SQLite file>")
const dir = mkdtempSync(join(tmpdir(), 'parley-bench-floor-'))
const databasePath = join(dir, 'floor.db')
const original = new BetterSqlite3(source, { readonly: true })
await original.backup(databasePath)
original.close()

const db = new BetterSqlite3(databasePath)
const keys = new Map(
  (db.prepare('select hash, account_id from api_key where revoked_at is null').all() as Array<{ hash: string; account_id: string }>).map(
    (k) => [k.hash, k.account_id],
  ),
)
// Each account's last event seq, kept here and written back once per commit, as Parley's batch does.
const lastSeqs = new Map(
  (db.prepare('select id, last_seq from account').all() as Array<{ id: string; last_seq: number }>).map((a) => [a.id, Number(a.last_seq)]),
)

const selectAgent = db.prepare('select id, name, userpic from agent where account_id = ? and id = ?')
const selectConversation = db.prepare('select id from conversation where account_id = ? and visitor_id = ?').pluck()
const insertMessage = db.prepare(
  `insert into message (id, account_id, conversation_id, visitor_id, type, text, agent_id, agent_name, agent_userpic, is_pushed, is_trigger, created_at)
   values (?, ?, ?, ?, 'agent', ?, ?, ?, ?, 0, 0, ?)`,
)
const insertEvent = db.prepare(
  `insert into event (account_id, seq, conversation_id, type, payload, created_at) values (?, ?, ?, 'message.created', ?, ?)`,
)
const setLastSeq = db.prepare('update account set last_seq = ? where id = ?')
const selectMessage = db.prepare(
  'select id, visitor_id, text, agent_id, agent_name, created_at from message where id = ? and account_id = ? and deleted_at is null',
)

interface Wire {
  id: string
  type: 'agent'
  text: string
  html: string
  visitorId: string
  createdAt: number
  agentId: string
  agentName: string
  isPushed: false
}

/** An agent message as both routes answer it: Brevo's shape, as Parley's. */
function toWire(id: string, text: string, visitorId: string, createdAt: number, agentId: string, agentName: string): Wire {
  return { id, type: 'agent', text, html: textToHtml(text), visitorId, createdAt, agentId, agentName, isPushed: false }
}

// Accounts whose seq moved in the current batch: each is written back once, before its COMMIT.
const seqMoved = new Set<string>()
const writer = groupCommit(db, () => {
  for (const accountId of seqMoved) setLastSeq.run(lastSeqs.get(accountId), accountId)
  seqMoved.clear()
})

/** One agent message: its row and its event, in the current commit (see group-commit.ts). */
function storeMessage(accountId: string, visitorId: string, agentId: string, text: string): Wire | undefined {
  const agent = selectAgent.get(accountId, agentId) as { id: string; name: string; userpic: string | null } | undefined
  const conversationId = selectConversation.get(accountId, visitorId) as string | undefined
  if (!agent || !conversationId) return undefined
  const now = Date.now()
  const wire = toWire(generateTimeOrderedId(now), text, visitorId, now, agent.id, agent.name)
  insertMessage.run(wire.id, accountId, conversationId, visitorId, text, agent.id, agent.name, agent.userpic, now)
  const seq = lastSeqs.get(accountId)! + 1
  lastSeqs.set(accountId, seq)
  insertEvent.run(accountId, seq, conversationId, JSON.stringify({ message: wire }), now)
  seqMoved.add(accountId)
  return wire
}

/** The account of each authenticated request. */
const accountOf = new WeakMap<object, string>()
const app = Fastify({ logger: false })
app.addHook('onRequest', (request, reply, done) => {
  const key = request.headers['api-key']
  const accountId = typeof key === 'string' ? keys.get(hashApiKey(key)) : undefined
  if (!accountId) {
    reply.code(401).send({ code: 'unauthorized', message: 'Key not found' })
    return
  }
  accountOf.set(request, accountId)
  done()
})
app.post('/v3/conversations/messages', (request, reply) => {
  const body = request.body as Record<string, unknown> | null
  if (!body || typeof body.visitorId !== 'string' || typeof body.agentId !== 'string' || typeof body.text !== 'string') {
    reply.code(400).send({ code: 'missing_parameter', message: 'visitorId, agentId and text are required' })
    return
  }
  const accountId = accountOf.get(request)!
  const { visitorId, agentId, text } = body
  writer.write(() => storeMessage(accountId, visitorId, agentId, text)).then(
    (wire) => (wire ? reply.send(wire) : reply.code(400).send({ code: 'invalid_parameter', message: 'unknown agent or visitor' })),
    (err: Error) => reply.code(500).send({ code: 'internal_error', message: err.message }),
  )
})
app.get('/v3/conversations/messages/:id', (request, reply) => {
  const row = selectMessage.get((request.params as { id: string }).id, accountOf.get(request)) as
    | { id: string; visitor_id: string; text: string; agent_id: string; agent_name: string; created_at: number }
    | undefined
  if (!row) {
    reply.code(404).send({ code: 'document_not_found', message: 'Message not found' })
    return
  }
  reply.send(toWire(row.id, row.text, row.visitor_id, Number(row.created_at), row.agent_id, row.agent_name))
})
stopOn(async () => {
  await app.close()
  writer.close()
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
reportReady({ port: typeof address === 'object' && address ? address.port : 0 })
answerProbes()
