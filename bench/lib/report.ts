import { readFileSync } from 'node:fs'
import { cpus, loadavg, platform, release } from 'node:os'
import { failures, isDelivery, type BenchResult, type Comparison, type DeliveryComparison, type DeliveryMeasurement, type LoadSettings, type Measurement } from './load.js'

export function machineLine(): string {
  const cores = cpus()
  const model = cores[0]?.model.trim() ?? 'unknown CPU'
  const load = loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')
  return `machine: ${model} × ${cores.length} · node ${process.version} · ${platform()} ${release()} · load average ${load}${vcpuPacking()}`
}

/**
 * Some VM kernels pack runnable threads onto fewer vCPUs (`kernel.sched_vcpu_pack`); there a thread
 * woken on a busy vCPU may wait for it while another idles, which shows in latency tails (README,
 * Benchmarks, "Late night of 2026-12-05"). Printed where the setting exists.
 */
function vcpuPacking(): string {
  try {
    return ` · sched_vcpu_pack ${readFileSync('/proc/sys/kernel/sched_vcpu_pack', 'utf8').trim()}`
  } catch {
    return ''
  }
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

function ratio(c: Comparison, of: Measurement = c.parley): number {
  return c.baseline.requestsPerSecond > 0 ? of.requestsPerSecond / c.baseline.requestsPerSecond : 0
}

/** Every server a result measured, by the name a report gives it. */
export function measuredServers<M extends Measurement>(r: { baseline: M; parley: M; floor?: M }): Array<[string, M]> {
  const servers: Array<[string, M]> = [['baseline', r.baseline], ['Parley', r.parley]]
  if (r.floor) servers.push(['floor', r.floor])
  return servers
}

function p99Ratio(c: DeliveryComparison, of: DeliveryMeasurement = c.parley): number {
  return c.baseline.p99Ms > 0 ? of.p99Ms / c.baseline.p99Ms : Infinity
}

/** Loss, duplicates and misdelivery: what makes a delivery run wrong rather than slow. */
export function deliveryProblems(r: BenchResult): string[] {
  if (!isDelivery(r)) return []
  const lines: string[] = []
  for (const [name, m] of measuredServers(r)) {
    if (m.lost > 0) lines.push(`${name}: ${m.lost} of ${m.sent} messages answered 200 and never delivered`)
    if (m.duplicates > 0) lines.push(`${name}: ${m.duplicates} messages delivered twice`)
    if (m.misdelivered > 0) lines.push(`${name}: ${m.misdelivered} messages delivered to the wrong visitor`)
  }
  return lines
}

/** PASS, or BELOW (REST throughput under target), OVER (realtime latency or memory over target), ERRORS. */
export function verdict(c: BenchResult): 'PASS' | 'BELOW' | 'OVER' | 'ERRORS' {
  if (measuredServers(c).some(([, m]) => failures(m) > 0) || c.warmupFailures.length > 0) return 'ERRORS'
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
  const servers = measuredServers(c).map(([, m]) => m)
  const each = (f: (m: DeliveryMeasurement) => string) => servers.map(f)
  const over = (f: (m: DeliveryMeasurement) => number) => {
    const ratioTo = (m: DeliveryMeasurement) => (f(c.baseline) > 0 ? (f(m) / f(c.baseline)).toFixed(2) : '0.00')
    return c.floor ? [ratioTo(c.parley), ratioTo(c.floor)] : [ratioTo(c.parley)]
  }
  const none = c.floor ? ['', ''] : ['']
  const pass = (ok: boolean) => (ok ? 'PASS' : 'OVER')
  const clean = servers.every((m) => m.lost === 0)
  const rows = [
    ['  send → receive p50', ...each((m) => ms(m.p50Ms)), ...over((m) => m.p50Ms), '', ''],
    ['  send → receive p99', ...each((m) => ms(m.p99Ms)), ...over((m) => m.p99Ms), `≤ ${c.p99Target.toFixed(2)}`, pass(p99Ratio(c) <= c.p99Target)],
    ['  send → receive max', ...each((m) => ms(m.maxMs)), ...over((m) => m.maxMs), '', ''],
    ['  received msg/s (measured)', ...each((m) => rps(m.requestsPerSecond)), ...none, '', ''],
    ['  server CPU per message', ...each((m) => `${Math.round(m.cpuPerMessageUs)} µs`), ...over((m) => m.cpuPerMessageUs), '', ''],
    ['  RSS per idle connection, less young gen.', ...each((m) => kb(m.rssPerConnection)), ...none, `≤ ${kb(c.bytesPerConnectionTarget)}`, pass(c.parley.rssPerConnection <= c.bytesPerConnectionTarget)],
    ['  RSS per idle connection, as is', ...each((m) => kb(m.rawRssPerConnection)), ...none, '', ''],
    ['  V8 heap per idle connection', ...each((m) => kb(m.heapPerConnection)), ...none, '', ''],
    ['  messages lost / sent', ...each((m) => `${m.lost} / ${m.sent}`), ...none, '0', clean ? 'PASS' : 'ERRORS'],
    ['  non-2xx+errors', ...each((m) => String(failures(m))), ...none, '0', servers.every((m) => failures(m) === 0) ? 'PASS' : 'ERRORS'],
  ]
  const header = [c.scenario, 'baseline', 'Parley', ...(c.floor ? ['floor', 'Parley ratio', 'floor ratio'] : ['ratio']), 'target', 'result']
  return `${render(header, rows)}\nresult: ${verdict(c)}`
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
  const withFloor = comparisons.some((c) => c.floor)
  const header = ['scenario', 'baseline req/s', 'Parley req/s', 'ratio', 'target', 'baseline p99', 'Parley p99', 'CPU/req baseline → Parley', 'result', 'non-2xx+errors']
  if (withFloor) {
    header.splice(4, 0, 'floor req/s', 'floor ratio')
    header[header.length - 1] = 'non-2xx+errors (B / P / F)'
  }
  const rows = comparisons.map((c) => {
    const row = [
      c.scenario,
      rps(c.baseline.requestsPerSecond),
      rps(c.parley.requestsPerSecond),
      ratio(c).toFixed(2),
      `≥ ${c.target.toFixed(2)}`,
      ms(c.baseline.p99Ms),
      ms(c.parley.p99Ms),
      cpuPerRequest(c),
      verdict(c),
      measuredServers(c)
        .map(([, m]) => failures(m))
        .join(' / '),
    ]
    if (withFloor) row.splice(4, 0, c.floor ? rps(c.floor.requestsPerSecond) : '–', c.floor ? ratio(c, c.floor).toFixed(2) : '–')
    return row
  })
  return render(header, rows)
}

/** The figure a scenario's target is set on: throughput over the baseline's, or realtime p99 over the baseline's. */
function headline(r: BenchResult, of: 'parley' | 'floor'): number | undefined {
  if (isDelivery(r)) return r[of] && p99Ratio(r, r[of])
  return r[of] && ratio(r, r[of])
}

function median(sorted: number[]): number {
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/**
 * With BENCH_REPEAT: each scenario's headline ratio over all runs, for Parley and the floor, as
 * median (range) and how many runs met the target. On a shared VM one run's verdict can go either
 * way (README, Benchmarks, "Night of 2026-12-05, second session"); this is the figure to judge by.
 */
export function repeatSummary(runs: BenchResult[][]): string {
  const byScenario = new Map<string, BenchResult[]>()
  for (const r of runs.flat()) {
    const same = byScenario.get(r.scenario)
    if (same) same.push(r)
    else byScenario.set(r.scenario, [r])
  }
  const rows = [...byScenario].map(([scenario, results]) => {
    const first = results[0]
    const meets = (x: number) => (isDelivery(first) ? x <= first.p99Target : x >= first.target)
    const cells = (of: 'parley' | 'floor') => {
      const xs = results.map((r) => headline(r, of)).filter((x): x is number => x !== undefined)
      if (xs.length === 0) return ['–', '–']
      const sorted = xs.sort((a, b) => a - b)
      const spread = `${median(sorted).toFixed(2)} (${sorted[0].toFixed(2)}-${sorted[sorted.length - 1].toFixed(2)})`
      return [spread, `${xs.filter(meets).length} of ${xs.length}`]
    }
    const target = isDelivery(first) ? `p99 ≤ ${first.p99Target.toFixed(2)}× baseline` : `≥ ${first.target.toFixed(2)} of baseline`
    return [scenario, target, ...cells('parley'), ...cells('floor')]
  })
  const header = ['scenario', 'target', 'Parley: median (range)', 'Parley at target', 'floor: median (range)', 'floor at target']
  return `over ${runs.length} runs:\n${render(header, rows)}`
}
