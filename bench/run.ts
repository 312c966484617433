// `npm run bench`: every benchmark in bench/, each figure a ratio against a baseline measured in the
// same run with the same settings (this machine is shared and noisy: absolute numbers mean little).
//
// BENCH_DURATION     measured seconds per server and scenario (10)
// BENCH_ROUNDS       slices that measurement is cut into, alternating baseline and Parley (4)
// BENCH_WARMUP       seconds of warm-up per server and scenario (2)
// BENCH_CONNECTIONS  concurrent connections (32)
// BENCH_SOCKETS      realtime: visitor sockets held open per server (5000)
// BENCH_RATE         realtime: messages per second the agent posts through the REST API (500)
// BENCH_WEBHOOK_DELIVERIES  webhooks: backlog each side delivers (60000)
// BENCH_WEBHOOK_LATENCY     webhooks: REST calls timed to their webhook's arrival, at 100/s (500)
// BENCH_CPU_PROF     a directory: the Parley child writes a V8 CPU profile there when it stops
// BENCH_PARLEY_NODE_ARGS  extra node flags for the Parley child, space-separated (e.g. --max-semi-space-size=32)
// BENCH_ONLY         run only the scenarios whose name contains this text (e.g. POST)
// BENCH_FLOOR        0 leaves out the floors (bench/servers/floor.ts, ws-baseline.ts --durable) (1)
// BENCH_REPEAT       runs of everything selected, each with fresh servers; more than one ends with each
//                    scenario's ratio as median (range) over the runs and how many met the target (1)
import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import { stopAllChildren } from './lib/child.js'
import { failures, type Benchmark, type BenchResult, type LoadSettings } from './lib/load.js'
import { deliveryProblems, machineLine, measuredServers, realtimeSettingsLine, repeatSummary, settingsLine, table, verdict } from './lib/report.js'
import { realtime } from './realtime.js'
import { restApi } from './rest-api.js'
import { webhooks } from './webhooks.js'

/** Add a benchmark here to have `npm run bench` run it. */
const benchmarks: Benchmark[] = [restApi, realtime, webhooks]

function numberSetting(name: string, fallback: number, min: number, integer = false): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new Error(`${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got "${raw}"`)
  }
  return value
}

const settings: LoadSettings = {
  connections: numberSetting('BENCH_CONNECTIONS', 32, 1, true),
  pipelining: 1,
  durationSeconds: numberSetting('BENCH_DURATION', 10, 1),
  rounds: numberSetting('BENCH_ROUNDS', 4, 1, true),
  warmupSeconds: numberSetting('BENCH_WARMUP', 2, 0),
  sockets: numberSetting('BENCH_SOCKETS', 5000, 1, true),
  messagesPerSecond: numberSetting('BENCH_RATE', 500, 1),
}
const profileDir = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined
const parleyNodeArgs = [
  ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
  ...(process.env.BENCH_PARLEY_NODE_ARGS ?? '').split(' ').filter(Boolean),
]
const only = process.env.BENCH_ONLY || undefined
const floor = numberSetting('BENCH_FLOOR', 1, 0, true) > 0
const repeat = numberSetting('BENCH_REPEAT', 1, 1, true)
const progress = (line: string) => process.stderr.write(`  ${line}\n`)

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping the servers\n`)
    void stopAllChildren().finally(() => process.exit(130))
  })
}

console.log(machineLine())
console.log(settingsLine(settings))
console.log(realtimeSettingsLine(settings))
if (profileDir) {
  mkdirSync(profileDir, { recursive: true })
  console.log(`CPU profile of the Parley child: ${profileDir}`)
}

const runs: BenchResult[][] = []
const crashed: string[] = []
try {
  for (let run = 1; run <= repeat && crashed.length === 0; run++) {
    const results: BenchResult[] = []
    for (const benchmark of benchmarks) {
      process.stderr.write(`\n${benchmark.name}${repeat > 1 ? `, run ${run} of ${repeat}` : ''}\n`)
      try {
        results.push(...(await benchmark.run({ settings, parleyNodeArgs, only, floor, progress })))
      } catch (err) {
        crashed.push(`${benchmark.name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
      }
    }
    runs.push(results)
    console.log(`\n${repeat > 1 ? `run ${run} of ${repeat}\n` : ''}${table(results)}\n`)
  }
} finally {
  await stopAllChildren()
}

const results = runs.flat()
if (runs.length > 1) console.log(`${repeatSummary(runs)}\n`)
if (results.length === 0 && crashed.length === 0) console.log(`No scenario ran${only ? ` (BENCH_ONLY="${only}" matched none)` : ''}.`)
const withErrors = results.filter((r) => verdict(r) === 'ERRORS')
if (withErrors.length > 0 || crashed.length > 0) {
  const bar = '!'.repeat(78)
  console.log(bar)
  console.log('!!! THIS RUN HAD ERRORS: its figures are not valid.')
  for (const r of withErrors) {
    for (const [name, m] of measuredServers(r)) {
      if (failures(m) > 0) console.log(`!!! ${r.scenario}, ${name}: ${m.non2xx} non-2xx ${JSON.stringify(m.statusCodes)}, ${m.errors} errors (${m.timeouts} timeouts)`)
    }
    for (const w of r.warmupFailures) console.log(`!!! ${r.scenario}, ${w}`)
    for (const p of deliveryProblems(r)) console.log(`!!! ${r.scenario}, ${p}`)
  }
  for (const c of crashed) console.log(`!!! ${c}`)
  console.log(bar)
  process.exitCode = 1
}
