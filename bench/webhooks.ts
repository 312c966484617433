// Webhook delivery: how fast Parley's worker empties a backlog of message.created deliveries into a
// local receiver that answers 200 at once, against a baseline loop that POSTs the same signed bodies
// with the same HTTP client and as many in flight (servers/webhook-baseline.ts); then the delay
// from a REST call creating a message to its webhook arriving.
//
// The receiver runs in this process and times both sides the same way: from the command that
// starts the sending to the last arrival.
//
// BENCH_WEBHOOK_DELIVERIES   backlog per side (60000: the baseline sends it in about 3 s; 20,000 took 1 s and its ratio swung 0.30-0.64)
// BENCH_WEBHOOK_LATENCY      REST calls timed to their webhook's arrival, at 100/s (500)
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WEBHOOK_CONCURRENCY } from '../src/webhooks/worker.js'
import { cpuOf, startChild, type ChildServer } from './lib/child.js'
import { percentile, type Benchmark, type BenchOptions, type BenchResult, type Comparison, type Measurement } from './lib/load.js'
import { messageText, VISITOR_COUNT, visitorId } from './lib/workload.js'
import type { BaselineResult } from './servers/webhook-baseline.js'
import type { ParleyWebhooksRequest } from './servers/parley-webhooks.js'

const SCENARIO = 'webhooks: message.created deliveries/s to a local receiver'
const TARGET = 0.5
const WARMUP_DELIVERIES = 1_000
const LATENCY_RATE = 100
const ARRIVAL_TIMEOUT_MS = 300_000

interface ParleyInfo {
  port: number
  apiKey: string
  agentId: string
  endpointId: string
  secret: string
}

function countSetting(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number ≥ 1, got "${raw}"`)
  return value
}

/**
 * Counts arrivals per path and when the last came; with `timeMessages` on, also when each
 * message's webhook arrived (which costs a JSON parse, so only the latency phase does it).
 */
async function startReceiver() {
  const counts = new Map<string, number>()
  const ids = new Map<string, Set<string>>()
  const last = new Map<string, number>()
  const arrivals = new Map<string, number>()
  const options = { timeMessages: false }
  let waiter: (() => void) | undefined
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const at = performance.now()
      const path = req.url ?? ''
      res.end()
      counts.set(path, (counts.get(path) ?? 0) + 1)
      last.set(path, at)
      if (!ids.has(path)) ids.set(path, new Set())
      ids.get(path)!.add(String(req.headers['webhook-id']))
      if (options.timeMessages) arrivals.set(JSON.parse(Buffer.concat(chunks).toString()).message.id, at)
      waiter?.()
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    count: (path: string) => counts.get(path) ?? 0,
    distinct: (path: string) => ids.get(path)?.size ?? 0,
    last: (path: string) => last.get(path) ?? 0,
    arrivals,
    options,
    /** Forgets what arrived at `path`, so the next measurement starts from zero. */
    reset(path: string) {
      counts.delete(path)
      ids.delete(path)
      last.delete(path)
    },
    async waitFor(condition: () => boolean): Promise<void> {
      const deadline = Date.now() + ARRIVAL_TIMEOUT_MS
      while (!condition()) {
        if (Date.now() > deadline) throw new Error('webhooks did not all arrive within 5 minutes')
        await new Promise<void>((resolve) => {
          waiter = resolve
          setTimeout(resolve, 100)
        })
      }
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}

type Receiver = Awaited<ReturnType<typeof startReceiver>>

function measurement(
  durations: number[],
  seconds: number,
  completed: number,
  statusCodes: Record<string, number>,
  errors: number,
  cpuUs: number,
): Measurement {
  const sorted = Float64Array.from(durations).sort()
  const non2xx = Object.entries(statusCodes).reduce((sum, [code, n]) => (code.startsWith('2') ? sum : sum + n), 0)
  return {
    requestsPerSecond: seconds > 0 ? completed / seconds : 0,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    seconds,
    completed,
    non2xx,
    errors,
    timeouts: 0,
    statusCodes,
    cpuPerRequestUs: completed > 0 ? cpuUs / completed : 0,
  }
}

/** The same backlog through both: the baseline loop first, then Parley's worker. */
async function measure(
  count: number,
  parley: ChildServer<ParleyInfo>,
  baseline: ChildServer<object>,
  receiver: Receiver,
  path: { baseline: string; parley: string },
): Promise<{ baseline: Measurement; parley: Measurement }> {
  const ask = <R>(request: ParleyWebhooksRequest) => parley.request<R>(request, ARRIVAL_TIMEOUT_MS)
  receiver.reset(path.baseline)
  receiver.reset(path.parley)
  await ask({ type: 'seed', count })
  const deliveries = await ask<Array<{ id: string; payload: string }>>({ type: 'pending', limit: count })
  if (deliveries.length !== count) throw new Error(`expected ${count} pending deliveries, found ${deliveries.length}`)

  const baselineCpu = await cpuOf(baseline)()
  const baselineStart = performance.now()
  const result = await baseline.request<BaselineResult>(
    { type: 'run', url: receiver.url(path.baseline), secret: parley.info.secret, deliveries, concurrency: WEBHOOK_CONCURRENCY },
    ARRIVAL_TIMEOUT_MS,
  )
  await receiver.waitFor(() => receiver.count(path.baseline) >= count - result.errors)
  const baselineSeconds = (receiver.last(path.baseline) - baselineStart) / 1000
  const baselineCpuUs = (await cpuOf(baseline)()) - baselineCpu

  const parleyCpu = await cpuOf(parley)()
  const parleyStart = performance.now()
  await ask({ type: 'start' })
  await receiver.waitFor(() => receiver.count(path.parley) >= count)
  const parleySeconds = (receiver.last(path.parley) - parleyStart) / 1000
  const parleyCpuUs = (await cpuOf(parley)()) - parleyCpu
  await ask({ type: 'stop' })
  const durations = await ask<number[]>({ type: 'durations', limit: count })
  // Anything sent twice would be an error of Parley's: every delivery once, under its own id.
  const duplicates = receiver.count(path.parley) - receiver.distinct(path.parley)
  return {
    baseline: measurement(result.durations, baselineSeconds, result.durations.length, result.statusCodes, result.errors, baselineCpuUs),
    parley: measurement(durations, parleySeconds, count, { 200: receiver.count(path.parley) }, duplicates, parleyCpuUs),
  }
}

/** REST calls at a steady rate, each timed until its message's webhook arrives. */
async function latency(samples: number, parley: ChildServer<ParleyInfo>, receiver: Receiver): Promise<number[]> {
  const url = `http://127.0.0.1:${parley.info.port}/v3/conversations/messages`
  const headers = { 'content-type': 'application/json', 'api-key': parley.info.apiKey }
  const sentAt = new Map<string, number>()
  const start = performance.now()
  const calls: Array<Promise<void>> = []
  for (let i = 0; i < samples; i++) {
    const due = start + (i * 1000) / LATENCY_RATE
    const wait = due - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    const at = performance.now()
    const body = JSON.stringify({ visitorId: visitorId((i * 7) % VISITOR_COUNT), agentId: parley.info.agentId, text: messageText(i) })
    calls.push(
      fetch(url, { method: 'POST', headers, body }).then(async (response) => {
        const message = (await response.json()) as { id?: string }
        if (response.status !== 200 || !message.id) throw new Error(`POST answered ${response.status}: ${JSON.stringify(message)}`)
        sentAt.set(message.id, at)
      }),
    )
  }
  await Promise.all(calls)
  await receiver.waitFor(() => [...sentAt.keys()].every((id) => receiver.arrivals.has(id)))
  return [...sentAt].map(([id, at]) => receiver.arrivals.get(id)! - at)
}

async function run({ parleyNodeArgs, only, progress }: BenchOptions): Promise<BenchResult[]> {
  if (only && !SCENARIO.includes(only)) return []
  const count = countSetting('BENCH_WEBHOOK_DELIVERIES', 60_000)
  const samples = countSetting('BENCH_WEBHOOK_LATENCY', 500)
  const receiver = await startReceiver()
  const parley = await startChild<ParleyInfo>('parley', 'bench/servers/parley-webhooks.ts', {
    args: [receiver.url('/parley')],
    nodeArgs: parleyNodeArgs,
    ipc: true,
  })
  const baseline = await startChild<object>('webhook baseline', 'bench/servers/webhook-baseline.ts', { ipc: true })
  try {
    progress(`Parley (pid ${parley.pid}), baseline loop (pid ${baseline.pid}), receiver at ${receiver.url('/')}; ${WEBHOOK_CONCURRENCY} in flight each`)
    const paths = { baseline: '/baseline', parley: '/parley' }
    await measure(WARMUP_DELIVERIES, parley, baseline, receiver, paths)
    progress(`warmed up with ${WARMUP_DELIVERIES} deliveries each; now ${count} each`)
    const measured = await measure(count, parley, baseline, receiver, paths)
    const comparison: Comparison = { scenario: SCENARIO, target: TARGET, ...measured, warmupFailures: [] }
    for (const [name, m] of [['baseline', measured.baseline], ['Parley  ', measured.parley]] as const) {
      progress(
        `${name}: ${Math.round(m.requestsPerSecond)} deliveries/s over ${m.seconds.toFixed(1)} s, ` +
          `${Math.round(m.cpuPerRequestUs ?? 0)} µs CPU/delivery, POST p50 ${m.p50Ms.toFixed(1)} ms, p99 ${m.p99Ms.toFixed(1)} ms`,
      )
    }

    receiver.options.timeMessages = true
    await parley.request({ type: 'start' })
    // The REST path has not run in this child yet: warm it up untimed.
    await latency(Math.min(samples, 200), parley, receiver)
    const delays = Float64Array.from(await latency(samples, parley, receiver))
    delays.sort()
    const line =
      `webhooks: REST call → webhook arrival, ${samples} messages at ${LATENCY_RATE}/s: ` +
      `p50 ${percentile(delays, 0.5).toFixed(1)} ms, p99 ${percentile(delays, 0.99).toFixed(1)} ms, max ${delays[delays.length - 1].toFixed(1)} ms`
    progress(line)
    console.log(line)
    return [comparison]
  } finally {
    await baseline.stop()
    await parley.stop()
    await receiver.close()
  }
}

export const webhooks: Benchmark = { name: 'Webhooks', run }
