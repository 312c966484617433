import { cpus, loadavg, platform, release } from 'node:os'
import { failures, isDelivery, type Comparison, type DeliveryComparison, type DeliveryMeasurement, type LoadSettings, type BenchResult } from './load.js'

export function machineLine(): string {
  const cores = cpus()
  const model = cores[0]?.model.trim() ?? 'unknown CPU'
  const load = loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')
  return `machine: ${model} × ${cores.length} · node ${process.version} · ${platform()} ${release()} · load average ${load}`
}

export function settingsLine(s: LoadSettings): string {
  return (
    `load: autocannon, ${s.connections} connections, pipelining ${s.pipelining}; per server and scenario ${s.warmupSeconds} s warm-up, ` +
    `then ${s.durationSeconds} s measured in ${s.rounds} alternating slices; 127.0.0.1 only`
  )
}

export function realtimeSettingsLine(s: LoadSettings): string {
  return (
    `realtime: ${s.sockets.toLocaleString('en-US')} visitor sockets per server, one agent posting ${s.messagesPerSecond} msg/s (open loop) ` +
    `to random visitors; ${s.warmupSeconds} s warm-up, then ${s.durationSeconds} s measured in ${s.rounds} alternating slices; 127.0.0.1 only`
  )
}

function ratio(c: Comparison): number {
  return c.baseline.requestsPerSecond > 0 ? c.parley.requestsPerSecond / c.baseline.requestsPerSecond : 0
}

function p99Ratio(c: DeliveryComparison): number {
  return c.baseline.p99Ms > 0 ? c.parley.p99Ms / c.baseline.p99Ms : Infinity
}

/** Loss, duplicates and misdelivery: what makes a delivery run wrong rather than slow. */
export function deliveryProblems(r: BenchResult): string[] {
  if (!isDelivery(r)) return []
  const lines: string[] = []
  for (const [name, m] of [['baseline', r.baseline], ['Parley', r.parley]] as const) {
    if (m.lost > 0) lines.push(`${name}: ${m.lost} of ${m.sent} messages answered 200 and never delivered`)
    if (m.duplicates > 0) lines.push(`${name}: ${m.duplicates} messages delivered twice`)
    if (m.misdelivered > 0) lines.push(`${name}: ${m.misdelivered} messages delivered to the wrong visitor`)
  }
  return lines
}

/** PASS, or BELOW (REST throughput under target), OVER (realtime latency or memory over target), ERRORS. */
export function verdict(c: BenchResult): 'PASS' | 'BELOW' | 'OVER' | 'ERRORS' {
  if (failures(c.baseline) > 0 || failures(c.parley) > 0 || c.warmupFailures.length > 0) return 'ERRORS'
  if (!isDelivery(c)) return ratio(c) >= c.target ? 'PASS' : 'BELOW'
  if (deliveryProblems(c).length > 0) return 'ERRORS'
  return p99Ratio(c) <= c.p99Target && c.parley.rssPerConnection <= c.bytesPerConnectionTarget ? 'PASS' : 'OVER'
}

const rps = (n: number): string => Math.round(n).toLocaleString('en-US')
const ms = (n: number): string => `${n.toFixed(1)} ms`

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`

function render(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/** One realtime scenario, a row per figure; 1 KB is 1024 bytes. */
function deliveryTable(c: DeliveryComparison): string {
  const both = (f: (m: DeliveryMeasurement) => string) => [f(c.baseline), f(c.parley)]
  const pass = (ok: boolean) => (ok ? 'PASS' : 'OVER')
  const rows = [
    ['  send → receive p50', ...both((m) => ms(m.p50Ms)), (c.baseline.p50Ms > 0 ? c.parley.p50Ms / c.baseline.p50Ms : 0).toFixed(2), '', ''],
    ['  send → receive p99', ...both((m) => ms(m.p99Ms)), p99Ratio(c).toFixed(2), `≤ ${c.p99Target.toFixed(2)}`, pass(p99Ratio(c) <= c.p99Target)],
    ['  send → receive max', ...both((m) => ms(m.maxMs)), (c.baseline.maxMs > 0 ? c.parley.maxMs / c.baseline.maxMs : 0).toFixed(2), '', ''],
    ['  received msg/s (measured)', ...both((m) => rps(m.requestsPerSecond)), '', '', ''],
    ['  server CPU per message', ...both((m) => `${Math.round(m.cpuPerMessageUs)} µs`), (c.baseline.cpuPerMessageUs > 0 ? c.parley.cpuPerMessageUs / c.baseline.cpuPerMessageUs : 0).toFixed(2), '', ''],
    ['  RSS per idle connection, less young gen.', ...both((m) => kb(m.rssPerConnection)), '', `≤ ${kb(c.bytesPerConnectionTarget)}`, pass(c.parley.rssPerConnection <= c.bytesPerConnectionTarget)],
    ['  RSS per idle connection, as is', ...both((m) => kb(m.rawRssPerConnection)), '', '', ''],
    ['  V8 heap per idle connection', ...both((m) => kb(m.heapPerConnection)), '', '', ''],
    ['  messages lost / sent', ...both((m) => `${m.lost} / ${m.sent}`), '', '0', c.parley.lost === 0 && c.baseline.lost === 0 ? 'PASS' : 'ERRORS'],
    ['  non-2xx+errors', ...both((m) => String(failures(m))), '', '0', failures(c.baseline) + failures(c.parley) === 0 ? 'PASS' : 'ERRORS'],
  ]
  return `${render([c.scenario, 'baseline', 'Parley', 'ratio', 'target', 'result'], rows)}\nresult: ${verdict(c)}`
}

/** The REST table, then one table per realtime scenario. */
export function table(results: BenchResult[]): string {
  const comparisons = results.filter((r): r is Comparison => !isDelivery(r))
  const deliveries = results.filter(isDelivery)
  const tables = deliveries.map(deliveryTable)
  if (comparisons.length > 0 || deliveries.length === 0) tables.unshift(throughputTable(comparisons))
  return tables.join('\n\n')
}

/** Each server's CPU time per request, and Parley's as a multiple of the baseline's. */
function cpuPerRequest(c: Comparison): string {
  const [b, p] = [c.baseline.cpuPerRequestUs, c.parley.cpuPerRequestUs]
  if (b === undefined || p === undefined) return '–'
  return `${Math.round(b)} → ${Math.round(p)} µs (${b > 0 ? (p / b).toFixed(1) : '∞'}×)`
}

function throughputTable(comparisons: Comparison[]): string {
  const header = ['scenario', 'baseline req/s', 'Parley req/s', 'ratio', 'target', 'baseline p99', 'Parley p99', 'CPU/req baseline → Parley', 'result', 'non-2xx+errors']
  const rows = comparisons.map((c) => [
    c.scenario,
    rps(c.baseline.requestsPerSecond),
    rps(c.parley.requestsPerSecond),
    ratio(c).toFixed(2),
    `≥ ${c.target.toFixed(2)}`,
    ms(c.baseline.p99Ms),
    ms(c.parley.p99Ms),
    cpuPerRequest(c),
    verdict(c),
    `${failures(c.baseline)} / ${failures(c.parley)}`,
  ])
  return render(header, rows)
}
