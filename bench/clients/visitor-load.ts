// The realtime load generator, run as its own child so that neither the server's event loop nor
// the parent's printing shares its timing. It holds N visitor sockets and plays one agent posting
// messages through the REST API at a steady rate, each to a random one of those visitors, and
// times every message from just before its POST is written to its frame's arrival on the addressed
// socket: one process sends and receives, so both ends read the same clock.
// Usage: started by bench/realtime.ts with an IPC channel; driven by the `LoadRequest`s below.
import { Agent, request as httpRequest } from 'node:http'
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import { messageText, seededRandom, visitorId } from '../lib/workload.js'
import { answerRequests, reportReady, stopOn } from '../servers/lifecycle.js'

export type LoadRequest =
  | { type: 'connect'; wsUrl: string; count: number; batch: number }
  /** Opens and closes `count` sockets of other visitors, so that first-use costs are paid before memory is sampled. */
  | { type: 'warm'; wsUrl: string; count: number }
  | {
      type: 'post'
      url: string
      headers: Record<string, string>
      agentId: string
      messagesPerSecond: number
      seconds: number
      /** false for warm-up: delivered and checked for loss, but not timed. */
      measured: boolean
      /** After the last POST, how long to wait for answers and frames before returning. */
      graceMs: number
    }
  | { type: 'report'; graceMs: number }
  | { type: 'close' }

export interface ConnectResult {
  seconds: number
}

export interface SliceResult {
  seconds: number
  sent: number
  /** Answered 200 but not received when the slice's grace ran out. */
  outstanding: number
}

export interface LoadReport {
  /** Send-to-receive latency of every measured message received, in ms, unsorted. */
  latencies: number[]
  /** Time from writing the POST to its response, measured messages only, in ms. */
  postLatencies: number[]
  measuredSeconds: number
  sent: number
  acknowledged: number
  statusCodes: Record<string, number>
  errors: number
  timeouts: number
  /** Acknowledged with 200 and never received. */
  lost: number
  /** Received more than once. */
  duplicates: number
  /** Received on a socket other than the addressed visitor's. */
  misdelivered: number
  /** Frames that are neither a welcome nor one of our messages, by type. */
  otherFrames: Record<string, number>
  /** Sockets that closed while the load ran, by close code. */
  closes: Record<string, number>
  /** WebSocket pings (the server's heartbeat) that arrived while a measured slice ran. */
  pingsWhileMeasured: number
}

const POST_TIMEOUT_MS = 10_000
const WELCOME_TIMEOUT_MS = 30_000
const TEXT_ID = /^#(\d+) /

const SENT = 1
const ACKED = 2
const RECEIVED = 4
const MEASURED = 8
const FAILED = 16

// Per message, indexed by its number.
const state: number[] = []
const sentAt: number[] = []
const addressee: number[] = []

const sockets: WebSocket[] = []
const latencies: number[] = []
const postLatencies: number[] = []
const statusCodes: Record<string, number> = {}
const otherFrames: Record<string, number> = {}
const closes: Record<string, number> = {}
let measuredSeconds = 0
let errors = 0
let timeouts = 0
let duplicates = 0
let misdelivered = 0
let inFlight = 0
let closing = false
let measuring = false
let pingsWhileMeasured = 0
const nextVisitor = seededRandom(42)
// As Node's global agent and fetch have it by default: keep-alive, no cap on connections. A cap would
// turn the open loop closed as soon as the server slows down (the queue would form here, unseen by
// the server) and would bound how many messages can share one of Parley's commits. A fresh agent
// per slice: a connection left idle while the other server's slice runs may be closed by the
// server (node:http's keep-alive timeout is 5 s) just as a request goes out on it.
const agents: Agent[] = []
let agent = freshAgent()

/** Closes the idle connections of earlier slices (busy ones finish first) and starts a new pool. */
function freshAgent(): Agent {
  for (const old of agents) for (const idle of Object.values(old.freeSockets)) for (const socket of idle ?? []) socket.destroy()
  const fresh = new Agent({ keepAlive: true })
  agents.push(fresh)
  return fresh
}

function count(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1
}

function receive(socket: number, data: WebSocket.RawData): void {
  const now = performance.now()
  const frame = JSON.parse(String(data)) as { type?: string; message?: { text?: string } }
  const n = frame.type === 'message.created' ? Number(TEXT_ID.exec(frame.message?.text ?? '')?.[1] ?? NaN) : NaN
  if (!(state[n] & SENT)) {
    if (frame.type !== 'welcome') count(otherFrames, String(frame.type))
    return
  }
  if (state[n] & RECEIVED) {
    duplicates++
    return
  }
  state[n] |= RECEIVED
  if (addressee[n] !== socket) misdelivered++
  if (state[n] & MEASURED) latencies.push(now - sentAt[n])
}

function openVisitor(wsUrl: string, i: number, id = visitorId(i)): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, { perMessageDeflate: false })
    const timer = setTimeout(() => {
      socket.terminate()
      reject(new Error(`visitor ${i}: no welcome within ${WELCOME_TIMEOUT_MS / 1000} s`))
    }, WELCOME_TIMEOUT_MS)
    socket.once('open', () => socket.send(JSON.stringify({ type: 'hello', visitorId: id })))
    socket.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    socket.once('close', (code) => {
      clearTimeout(timer)
      if (!closing && i >= 0) count(closes, String(code))
      reject(new Error(`visitor ${i}: socket closed (${code}) before its welcome`))
    })
    socket.once('message', (data) => {
      clearTimeout(timer)
      const frame = JSON.parse(String(data)) as { type?: string }
      if (frame.type !== 'welcome') return reject(new Error(`visitor ${i}: expected a welcome, got ${String(data).slice(0, 200)}`))
      socket.on('message', (more) => receive(i, more))
      socket.on('ping', () => {
        if (measuring) pingsWhileMeasured++
      })
      resolve(socket)
    })
  })
}

async function warm(wsUrl: string, count: number): Promise<void> {
  const opened = await Promise.all(Array.from({ length: count }, (_, k) => openVisitor(wsUrl, -1, `bench-warm-up-${k}`)))
  await Promise.all(opened.map((socket) => new Promise((resolve) => socket.once('close', resolve).close())))
}

async function connect(wsUrl: string, total: number, batch: number): Promise<ConnectResult> {
  const started = performance.now()
  for (let start = sockets.length; start < total; start += batch) {
    const end = Math.min(total, start + batch)
    const opened = await Promise.all(Array.from({ length: end - start }, (_, k) => openVisitor(wsUrl, start + k)))
    sockets.push(...opened)
    if (end % 1000 === 0 || end === total) process.stdout.write(`${end}/${total} visitor sockets open\n`)
  }
  return { seconds: (performance.now() - started) / 1000 }
}

function post(request: Extract<LoadRequest, { type: 'post' }>): void {
  const n = state.length
  const target = Math.floor(nextVisitor() * sockets.length)
  const measured = request.measured
  const body = JSON.stringify({ visitorId: visitorId(target), agentId: request.agentId, text: `#${n} ${messageText(n)}` })
  addressee[n] = target
  state[n] = SENT | (measured ? MEASURED : 0)
  inFlight++
  const fail = (timedOut: boolean) => {
    if (state[n] & (ACKED | FAILED)) return
    state[n] |= FAILED
    errors++
    if (timedOut) timeouts++
    inFlight--
  }
  const started = performance.now()
  sentAt[n] = started
  const req = httpRequest(request.url, {
    method: 'POST',
    agent,
    headers: { ...request.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  })
  req.setTimeout(POST_TIMEOUT_MS, () => {
    fail(true)
    req.destroy()
  })
  req.on('error', () => fail(false))
  req.on('response', (response) => {
    response.resume()
    response.on('end', () => {
      if (state[n] & FAILED) return
      count(statusCodes, String(response.statusCode))
      if (measured) postLatencies.push(performance.now() - started)
      if (response.statusCode === 200) state[n] |= ACKED
      else state[n] |= FAILED
      inFlight--
    })
  })
  req.end(body)
}

/** Acknowledged and not yet received, over every message sent so far. */
function unreceived(): number {
  let n = 0
  for (const s of state) if (s & ACKED && !(s & RECEIVED)) n++
  return n
}

async function settle(graceMs: number): Promise<number> {
  const deadline = performance.now() + graceMs
  while (performance.now() < deadline && (inFlight > 0 || unreceived() > 0)) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return unreceived()
}

/** Open loop: the n-th POST goes at start + n / rate, whether or not earlier ones were answered. */
async function postAtRate(request: Extract<LoadRequest, { type: 'post' }>): Promise<SliceResult> {
  const total = Math.max(1, Math.round(request.messagesPerSecond * request.seconds))
  agent = freshAgent()
  const started = performance.now()
  let sent = 0
  measuring = request.measured
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = performance.now() - started
      const due = Math.min(total, Math.floor((elapsed * request.messagesPerSecond) / 1000) + 1)
      while (sent < due) {
        post(request)
        sent++
      }
      if (sent >= total) resolve()
      else setTimeout(tick, Math.max(0, (sent * 1000) / request.messagesPerSecond - elapsed))
    }
    tick()
  })
  const seconds = (performance.now() - started) / 1000
  if (request.measured) measuredSeconds += seconds
  const outstanding = await settle(request.graceMs)
  measuring = false
  return { seconds, sent, outstanding }
}

async function report(graceMs: number): Promise<LoadReport> {
  const lost = await settle(graceMs)
  return {
    latencies,
    postLatencies,
    measuredSeconds,
    sent: state.length,
    acknowledged: state.filter((s) => s & ACKED).length,
    statusCodes,
    errors,
    timeouts,
    lost,
    duplicates,
    misdelivered,
    otherFrames,
    closes,
    pingsWhileMeasured,
  }
}

async function closeAll(): Promise<void> {
  closing = true
  for (const pool of agents) pool.destroy()
  await Promise.all(
    sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          if (socket.readyState === WebSocket.CLOSED) return resolve()
          const timer = setTimeout(() => {
            socket.terminate()
            resolve()
          }, 5_000)
          socket.once('close', () => {
            clearTimeout(timer)
            resolve()
          })
          socket.close()
        }),
    ),
  )
}

stopOn(async () => {
  closing = true
  for (const pool of agents) pool.destroy()
  for (const socket of sockets) socket.terminate()
})
answerRequests((message) => {
  const request = message as LoadRequest
  switch (request.type) {
    case 'connect':
      if (!request.wsUrl.startsWith('ws://127.0.0.1:')) throw new Error(`only 127.0.0.1, not ${request.wsUrl}`)
      return connect(request.wsUrl, request.count, request.batch)
    case 'warm':
      if (!request.wsUrl.startsWith('ws://127.0.0.1:')) throw new Error(`only 127.0.0.1, not ${request.wsUrl}`)
      return warm(request.wsUrl, request.count)
    case 'post':
      if (!request.url.startsWith('http://127.0.0.1:')) throw new Error(`only 127.0.0.1, not ${request.url}`)
      return postAtRate(request)
    case 'report':
      return report(request.graceMs)
    case 'close':
      return closeAll()
  }
})
reportReady({})
