import { cpus, loadavg, platform, release } from 'node:os'
import { failures, type Comparison, type LoadSettings } from './load.js'

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

function ratio(c: Comparison): number {
  return c.baseline.requestsPerSecond > 0 ? c.parley.requestsPerSecond / c.baseline.requestsPerSecond : 0
}

export function verdict(c: Comparison): 'PASS' | 'BELOW' | 'ERRORS' {
  if (failures(c.baseline) > 0 || failures(c.parley) > 0 || c.warmupFailures.length > 0) return 'ERRORS'
  return ratio(c) >= c.target ? 'PASS' : 'BELOW'
}

const rps = (n: number): string => Math.round(n).toLocaleString('en-US')
const ms = (n: number): string => `${n.toFixed(1)} ms`

export function table(comparisons: Comparison[]): string {
  const header = ['scenario', 'baseline req/s', 'Parley req/s', 'ratio', 'target', 'baseline p99', 'Parley p99', 'result', 'non-2xx+errors']
  const rows = comparisons.map((c) => [
    c.scenario,
    rps(c.baseline.requestsPerSecond),
    rps(c.parley.requestsPerSecond),
    ratio(c).toFixed(2),
    `≥ ${c.target.toFixed(2)}`,
    ms(c.baseline.p99Ms),
    ms(c.parley.p99Ms),
    verdict(c),
    `${failures(c.baseline)} / ${failures(c.parley)}`,
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}
