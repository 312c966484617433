import autocannon, { type Request, type Result } from 'autocannon'

/** The same for the baseline and for Parley within one run. */
export interface LoadSettings {
  connections: number
  pipelining: number
  /** Measured seconds per server and scenario, split into `rounds` slices. */
  durationSeconds: number
  /** Slices per measurement, alternating baseline and Parley so that the machine's drift hits both. */
  rounds: number
  warmupSeconds: number
  /** Realtime: visitor sockets held open per server. */
  sockets: number
  /** Realtime: the agent's steady posting rate. */
  messagesPerSecond: number
}

export interface Measurement {
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  seconds: number
  completed: number
  non2xx: number
  /** Connection errors and timeouts (autocannon counts timeouts among errors). */
  errors: number
  timeouts: number
  statusCodes: Record<string, number>
  /**
   * The server process's CPU time (user + system, all its threads) over the measured slices, per
   * request completed in them, in µs. It moves with the VM's load too, but Parley's own figure in
   * runs that alternate two versions of it tells them apart where the throughput ratio often does
   * not (README, Benchmarks). Absent when not measured.
   */
  cpuPerRequestUs?: number
}

/** Reads a server's CPU time so far, in µs (the `cpu` request of bench/servers/lifecycle.ts). */
export type CpuProbe = () => Promise<number>

export interface Comparison {
  scenario: string
  /** The lowest acceptable Parley/baseline throughput ratio. */
  target: number
  baseline: Measurement
  parley: Measurement
  /**
   * The floor (bench/servers/floor.ts): the least work Parley's rules require, with none of its
   * layers. Its ratio is about the best a plain implementation of those rules shows on this machine.
   */
  floor?: Measurement
  /** Failures seen during warm-up, which the measurements above do not include. */
  warmupFailures: string[]
}

/**
 * A realtime measurement: the `Measurement` fields describe delivery (`p50Ms`/`p99Ms` are
 * send-to-receive latencies, `requestsPerSecond` messages received per second) and the HTTP
 * outcome of every POST, warm-up included (`non2xx`, `errors`, `statusCodes`).
 */
export interface DeliveryMeasurement extends Measurement {
  maxMs: number
  /** Every message posted, warm-up included. */
  sent: number
  /** Answered 200 and never received. */
  lost: number
  duplicates: number
  /** Received by a visitor it was not addressed to. */
  misdelivered: number
  /**
   * Growth of the server's memory from before the sockets opened to when they idled, per socket,
   * in bytes: RSS less V8's young generation (sized by allocation rate, not by what idle sockets
   * hold; the target applies to this), RSS as it is, and V8 heap in use.
   */
  rssPerConnection: number
  rawRssPerConnection: number
  heapPerConnection: number
  /** The server's CPU time (user + system) over the measured slices, per message sent in them, in µs. */
  cpuPerMessageUs: number
}

/** A realtime scenario: latency against the baseline's, memory and loss against absolute targets. */
export interface DeliveryComparison {
  kind: 'delivery'
  scenario: string
  /** The highest acceptable Parley/baseline p99 ratio. */
  p99Target: number
  /** The most RSS an idle connection may cost Parley, in bytes. */
  bytesPerConnectionTarget: number
  baseline: DeliveryMeasurement
  parley: DeliveryMeasurement
  /** The floor: the baseline writing each message durably before it pushes it (ws-baseline.ts --durable). */
  floor?: DeliveryMeasurement
  warmupFailures: string[]
}

/** What a benchmark returns: throughput comparisons (REST) and delivery comparisons (realtime). */
export type BenchResult = Comparison | DeliveryComparison

export function isDelivery(r: BenchResult): r is DeliveryComparison {
  return 'kind' in r && r.kind === 'delivery'
}

/** The requests one connection cycles through; `client` numbers the connections from 0. */
export type RequestsFor = (client: number) => Request[]

/** One autocannon run, kept raw so that several can be merged. */
interface Slice {
  seconds: number
  latencies: number[]
  statusCodes: Record<string, number>
  errors: number
  timeouts: number
}

/** Load on `url` for `seconds`, every connection looping over its own request list. */
async function runSlice(url: string, requestsFor: RequestsFor, settings: LoadSettings, seconds: number): Promise<Slice> {
  if (!url.startsWith('http://127.0.0.1:')) throw new Error(`benchmarks only send traffic to 127.0.0.1, not ${url}`)
  let client = 0
  // Every response time, at full resolution (autocannon's own histogram rounds to whole ms).
  const latencies: number[] = []
  const instance = autocannon({
    url,
    connections: settings.connections,
    pipelining: settings.pipelining,
    duration: seconds,
    setupClient: (c) => c.setRequests(requestsFor(client++)),
  })
  instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime))
  const result: Result = await instance
  const statusCodes: Record<string, number> = {}
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCodes[code] = count
  return { seconds: result.duration, latencies, statusCodes, errors: result.errors, timeouts: result.timeouts }
}

export function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]
}

function merge(slices: Slice[]): Measurement {
  const statusCodes: Record<string, number> = {}
  let seconds = 0
  let errors = 0
  let timeouts = 0
  for (const s of slices) {
    seconds += s.seconds
    errors += s.errors
    timeouts += s.timeouts
    for (const [code, n] of Object.entries(s.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + n
  }
  const sorted = Float64Array.from(slices.flatMap((s) => s.latencies)).sort()
  const non2xx = Object.entries(statusCodes).reduce((sum, [code, n]) => (code.startsWith('2') ? sum : sum + n), 0)
  return {
    requestsPerSecond: seconds > 0 ? sorted.length / seconds : 0,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    seconds,
    completed: sorted.length,
    non2xx,
    errors,
    timeouts,
    statusCodes,
  }
}

export function failures(m: Measurement): number {
  return m.non2xx + m.errors
}

export function describeFailures(m: Measurement): string {
  const codes = Object.entries(m.statusCodes)
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, n]) => `${n}×${code}`)
  return `${m.non2xx} non-2xx${codes.length ? ` (${codes.join(', ')})` : ''}, ${m.errors} errors (${m.timeouts} timeouts)`
}

/**
 * Warm-up, then `rounds` slices per server in the order B P (F), (F) P B, B P (F), … with identical
 * settings and identical request lists; throughput is all responses over all measured seconds. With
 * `cpu`, each server's CPU time is read around each of its slices. The floor runs only when
 * `urls.floor` is given.
 */
export async function compare(
  scenario: string,
  target: number,
  urls: { baseline: string; parley: string; floor?: string },
  requestsFor: RequestsFor,
  settings: LoadSettings,
  cpu?: { baseline: CpuProbe; parley: CpuProbe; floor?: CpuProbe },
): Promise<Comparison> {
  type Name = 'baseline' | 'parley' | 'floor'
  const names: Name[] = urls.floor === undefined ? ['baseline', 'parley'] : ['baseline', 'parley', 'floor']
  const warmupFailures: string[] = []
  if (settings.warmupSeconds > 0) {
    for (const name of names) {
      const warm = merge([await runSlice(urls[name]!, requestsFor, settings, settings.warmupSeconds)])
      if (failures(warm) > 0) warmupFailures.push(`${name} warm-up: ${describeFailures(warm)}`)
    }
  }
  const slices: Record<Name, Slice[]> = { baseline: [], parley: [], floor: [] }
  const cpuUs: Record<Name, number> = { baseline: 0, parley: 0, floor: 0 }
  const seconds = settings.durationSeconds / settings.rounds
  for (let round = 0; round < settings.rounds; round++) {
    for (const name of round % 2 === 0 ? names : [...names].reverse()) {
      const probe = cpu?.[name]
      const before = await probe?.()
      slices[name].push(await runSlice(urls[name]!, requestsFor, settings, seconds))
      if (probe) cpuUs[name] += (await probe()) - before!
    }
  }
  const measured = (name: Name): Measurement => {
    const m = merge(slices[name])
    return cpu?.[name] ? { ...m, cpuPerRequestUs: m.completed > 0 ? cpuUs[name] / m.completed : 0 } : m
  }
  const floor = urls.floor === undefined ? undefined : measured('floor')
  return { scenario, target, baseline: measured('baseline'), parley: measured('parley'), ...(floor && { floor }), warmupFailures }
}

export interface BenchOptions {
  settings: LoadSettings
  /** Extra node flags for the Parley child (BENCH_CPU_PROF adds --cpu-prof). */
  parleyNodeArgs: string[]
  /** Run only the scenarios whose name contains this (BENCH_ONLY). */
  only?: string
  /** Measure the floors too (BENCH_FLOOR): the least work Parley's rules require, with none of Parley. */
  floor: boolean
  /** One line of progress, for stderr. */
  progress(line: string): void
}

export interface Benchmark {
  name: string
  run(options: BenchOptions): Promise<BenchResult[]>
}
