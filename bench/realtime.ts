// Realtime delivery: N visitor sockets on /ws/visitor, one agent posting through the REST API at a
// steady rate to random visitors; send-to-receive latency, memory per idle connection and loss.
// Parley against a bare `ws` server doing the same HTTP request + socket push (servers/ws-baseline.ts),
// and against the floor: that server writing each message durably before pushing it (`--durable`).
//
// Six children: the three servers, and one load generator per server (clients/visitor-load.ts), so
// neither a server nor this process's printing shares the clock that times a message. All sets of
// sockets stay open for the whole run; slices alternate between the servers like the REST ones.
import { cpuOf, startChild, type ChildServer } from './lib/child.js'
import {
  percentile,
  type Benchmark,
  type BenchOptions,
  type DeliveryComparison,
  type DeliveryMeasurement,
  type BenchResult,
} from './lib/load.js'
import type { ConnectResult, LoadReport, LoadRequest, SliceResult } from './clients/visitor-load.js'
import type { MemorySample } from './servers/lifecycle.js'

const SCENARIO = '/ws/visitor: agent REST message → widget frame'
const MESSAGES_PATH = '/v3/conversations/messages'
/** Sockets opened at once; each waits for its welcome before the next batch. */
const CONNECT_BATCH = 100
/** Sockets opened and closed before memory is sampled, so that first-use costs (lazy compilation, caches) are not counted per connection. */
const WARM_SOCKETS = 50
/** After the sockets opened, before memory is sampled: let the connect burst's garbage and timers settle. */
const IDLE_MS = 2_000
/** How long a slice waits for its last answers and frames; what has not arrived by the report is lost. */
const GRACE_MS = 5_000
const P99_TARGET = 2
const BYTES_PER_CONNECTION_TARGET = 10 * 1024

interface ParleyInfo {
  port: number
  apiKey: string
  agentId: string
  widgetId: string
}

interface Side {
  name: 'baseline' | 'Parley' | 'floor'
  server: ChildServer<{ port: number }>
  load: ChildServer<object>
  url: string
  wsUrl: string
  headers: Record<string, string>
  agentId: string
  before?: MemorySample
  after?: MemorySample
  /** Server CPU time over the measured slices, and messages sent in them. */
  cpuUs: number
  measuredMessages: number
}

const memory = (side: Side) => side.server.request<MemorySample>({ type: 'memory' })
const cpu = (side: Side) => cpuOf(side.server)()
const load = <R>(side: Side, request: LoadRequest, timeoutMs?: number) => side.load.request<R>(request, timeoutMs)
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`
/** RSS less the young generation: see `MemorySample.youngGeneration`. */
const settled = (m: MemorySample) => m.rss - m.youngGeneration

/** One request before any load, so a broken server fails here and not as thousands of non-2xx. */
async function checkPost(name: string, url: string, headers: Record<string, string>, agentId: string): Promise<void> {
  const response = await fetch(`${url}${MESSAGES_PATH}`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ visitorId: 'bench-check', agentId, text: 'check' }),
  })
  const body = await response.text()
  if (response.status !== 200) throw new Error(`${name} answered POST ${MESSAGES_PATH} with ${response.status}: ${body}`)
}

function measurement(report: LoadReport, side: Side, sockets: number): DeliveryMeasurement {
  const sorted = Float64Array.from(report.latencies).sort()
  const non2xx = Object.entries(report.statusCodes).reduce((sum, [code, n]) => (code.startsWith('2') ? sum : sum + n), 0)
  return {
    requestsPerSecond: report.measuredSeconds > 0 ? sorted.length / report.measuredSeconds : 0,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted.length > 0 ? sorted[sorted.length - 1] : 0,
    seconds: report.measuredSeconds,
    completed: sorted.length,
    non2xx,
    errors: report.errors,
    timeouts: report.timeouts,
    statusCodes: report.statusCodes,
    sent: report.sent,
    lost: report.lost,
    duplicates: report.duplicates,
    misdelivered: report.misdelivered,
    rssPerConnection: (settled(side.after!) - settled(side.before!)) / sockets,
    rawRssPerConnection: (side.after!.rss - side.before!.rss) / sockets,
    heapPerConnection: (side.after!.heapUsed - side.before!.heapUsed) / sockets,
    cpuPerMessageUs: side.measuredMessages > 0 ? side.cpuUs / side.measuredMessages : 0,
  }
}

function summary(m: DeliveryMeasurement, report: LoadReport): string {
  const delivered = Float64Array.from(report.latencies).sort()
  const post = Float64Array.from(report.postLatencies).sort()
  const other = Object.entries(report.otherFrames).map(([type, n]) => `${n}×${type}`)
  const closes = Object.entries(report.closes).map(([code, n]) => `${n}×${code}`)
  return (
    `${m.completed} timed, p50 ${m.p50Ms.toFixed(1)} ms, p90 ${percentile(delivered, 0.9).toFixed(1)} ms, ` +
    `p95 ${percentile(delivered, 0.95).toFixed(1)} ms, p99 ${m.p99Ms.toFixed(1)} ms, max ${m.maxMs.toFixed(1)} ms; ` +
    `POST answered p50 ${percentile(post, 0.5).toFixed(1)} ms, p99 ${percentile(post, 0.99).toFixed(1)} ms; ` +
    `${m.lost} lost of ${m.sent}, ${m.duplicates} duplicates, ${m.misdelivered} misdelivered, ${m.non2xx} non-2xx, ${m.errors} errors` +
    (other.length ? `; other frames ${other.join(', ')}` : '') +
    (closes.length ? `; sockets closed ${closes.join(', ')}` : '')
  )
}

async function run({ settings, parleyNodeArgs, only, floor: withFloor, progress }: BenchOptions): Promise<BenchResult[]> {
  if (only && !SCENARIO.includes(only)) return []
  const { sockets, messagesPerSecond } = settings
  const children: Array<ChildServer<unknown>> = []
  const start = async <T>(...args: Parameters<typeof startChild>): Promise<ChildServer<T>> => {
    const child = await startChild<T>(...args)
    children.push(child)
    return child
  }
  try {
    const parley = await start<ParleyInfo>('parley', 'bench/servers/parley.ts', {
      args: ['0'],
      nodeArgs: [...parleyNodeArgs, '--expose-gc'],
      ipc: true,
    })
    const baseline = await start<{ port: number }>('ws-baseline', 'bench/servers/ws-baseline.ts', { nodeArgs: ['--expose-gc'], ipc: true })
    const floor = withFloor
      ? await start<{ port: number }>('ws-floor', 'bench/servers/ws-baseline.ts', { args: ['--durable'], nodeArgs: ['--expose-gc'], ipc: true })
      : undefined
    const sides: Side[] = []
    for (const [name, server, wsQuery, headers] of [
      ['baseline', baseline, 'widgetId=bench', {}],
      ['Parley', parley, `widgetId=${encodeURIComponent(parley.info.widgetId)}`, { 'api-key': parley.info.apiKey }],
      ...(floor ? ([['floor', floor, 'widgetId=bench', {}]] as const) : []),
    ] as const) {
      const url = `http://127.0.0.1:${server.info.port}`
      await checkPost(name, url, headers, parley.info.agentId)
      const side: Side = {
        name,
        server,
        load: await start<object>(`load→${name}`, 'bench/clients/visitor-load.ts', { ipc: true }),
        url,
        wsUrl: `ws://127.0.0.1:${server.info.port}/ws/visitor?${wsQuery}&v=1`,
        headers,
        agentId: parley.info.agentId,
        cpuUs: 0,
        measuredMessages: 0,
      }
      sides.push(side)
      progress(`${name} (pid ${server.pid}) on ${url}; its load generator is pid ${side.load.pid}`)
    }

    for (const side of sides) {
      await load(side, { type: 'warm', wsUrl: side.wsUrl, count: WARM_SOCKETS })
      side.before = await memory(side)
    }
    for (const side of sides) {
      const opened = await load<ConnectResult>(side, { type: 'connect', wsUrl: side.wsUrl, count: sockets, batch: CONNECT_BATCH }, 600_000)
      progress(`${side.name}: ${sockets} visitor sockets open and welcomed in ${opened.seconds.toFixed(1)} s`)
    }
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS))
    for (const side of sides) {
      side.after = await memory(side)
      const { before, after } = side as Required<Side>
      progress(
        `${side.name} memory, idle: RSS ${mb(before.rss)} → ${mb(after.rss)} (young generation ${mb(before.youngGeneration)} → ${mb(after.youngGeneration)}), ` +
          `heap used ${mb(before.heapUsed)} → ${mb(after.heapUsed)}, ` +
          `external ${mb(before.external + before.arrayBuffers)} → ${mb(after.external + after.arrayBuffers)}` +
          (after.collected ? '' : ' (no --expose-gc: garbage included)'),
      )
    }

    const post = (side: Side, seconds: number, measured: boolean) =>
      load<SliceResult>(side, {
        type: 'post',
        url: `${side.url}${MESSAGES_PATH}`,
        headers: side.headers,
        agentId: side.agentId,
        messagesPerSecond,
        seconds,
        measured,
        graceMs: GRACE_MS,
      })
    if (settings.warmupSeconds > 0) {
      for (const side of sides) {
        const slice = await post(side, settings.warmupSeconds, false)
        progress(`${side.name} warm-up: ${slice.sent} messages in ${slice.seconds.toFixed(1)} s, ${slice.outstanding} not received after ${GRACE_MS / 1000} s grace`)
      }
    }
    const seconds = settings.durationSeconds / settings.rounds
    for (let round = 0; round < settings.rounds; round++) {
      for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
        const cpuBefore = await cpu(side)
        const slice = await post(side, seconds, true)
        side.cpuUs += (await cpu(side)) - cpuBefore
        side.measuredMessages += slice.sent
        progress(`${side.name} slice ${round + 1}/${settings.rounds}: ${slice.sent} messages in ${slice.seconds.toFixed(1)} s, ${slice.outstanding} not received yet`)
      }
    }

    const measured: Partial<Record<Side['name'], DeliveryMeasurement>> = {}
    for (const side of sides) {
      const report = await load<LoadReport>(side, { type: 'report', graceMs: GRACE_MS })
      const m = (measured[side.name] = measurement(report, side, sockets))
      progress(`${side.name}: ${summary(m, report)}`)
      if (report.pingsWhileMeasured > 0) {
        progress(`${side.name}: its heartbeat pinged ${report.pingsWhileMeasured} sockets during a measured slice (the sweep's cost is in these figures)`)
      }
    }
    for (const side of sides) await load(side, { type: 'close' })
    const comparison: DeliveryComparison = {
      kind: 'delivery',
      scenario: SCENARIO,
      p99Target: P99_TARGET,
      bytesPerConnectionTarget: BYTES_PER_CONNECTION_TARGET,
      baseline: measured.baseline!,
      parley: measured.Parley!,
      ...(measured.floor && { floor: measured.floor }),
      // The load generator counts failed POSTs and lost messages over warm-up and measurement alike.
      warmupFailures: [],
    }
    return [comparison]
  } finally {
    for (const child of children.reverse()) await child.stop()
  }
}

export const realtime: Benchmark = { name: 'Realtime', run }
