// Brevo's REST endpoints under load: Parley against a bare Fastify app on the same routes.
import type { Request } from 'autocannon'
import { cpuOf, startChild } from './lib/child.js'
import { compare, type Benchmark, type BenchOptions, type Comparison, type Measurement } from './lib/load.js'
import { messageText, seededRandom, VISITOR_COUNT, visitorId } from './lib/workload.js'

interface ParleyInfo {
  port: number
  databasePath: string
  apiKey: string
  agentId: string
  messageIds: string[]
}

const MESSAGES_PATH = '/v3/conversations/messages'
/** Distinct requests each connection cycles through; built once, so the load costs no per-request work. */
const REQUESTS_PER_CONNECTION = 250

function postRequests(info: ParleyInfo) {
  return (client: number): Request[] => {
    const random = seededRandom(client + 1)
    return Array.from({ length: REQUESTS_PER_CONNECTION }, (_, i) => ({
      method: 'POST',
      path: MESSAGES_PATH,
      headers: { 'content-type': 'application/json', 'api-key': info.apiKey },
      body: JSON.stringify({
        visitorId: visitorId(Math.floor(random() * VISITOR_COUNT)),
        agentId: info.agentId,
        text: messageText(client + i),
      }),
    }))
  }
}

function getRequests(info: ParleyInfo) {
  return (client: number): Request[] => {
    const random = seededRandom(1000 + client)
    return Array.from({ length: REQUESTS_PER_CONNECTION }, () => ({
      method: 'GET',
      path: `${MESSAGES_PATH}/${info.messageIds[Math.floor(random() * info.messageIds.length)]}`,
      headers: { 'api-key': info.apiKey },
    }))
  }
}

/** One request of each kind before any load, so a broken server fails here and not as 30 000 non-2xx. */
async function checkParley(url: string, info: ParleyInfo): Promise<string> {
  const [post] = postRequests(info)(0)
  const created = await fetch(`${url}${MESSAGES_PATH}`, { method: 'POST', headers: post.headers, body: post.body as string })
  if (created.status !== 200) throw new Error(`Parley answered POST ${MESSAGES_PATH} with ${created.status}: ${await created.text()}`)
  const read = await fetch(`${url}${MESSAGES_PATH}/${info.messageIds[0]}`, { headers: { 'api-key': info.apiKey } })
  const body = await read.text()
  if (read.status !== 200) throw new Error(`Parley answered GET ${MESSAGES_PATH}/{id} with ${read.status}: ${body}`)
  return body
}

function summary(m: Measurement): string {
  const cpu = m.cpuPerRequestUs === undefined ? '' : `, ${Math.round(m.cpuPerRequestUs)} µs CPU/req`
  return `${Math.round(m.requestsPerSecond)} req/s, p50 ${m.p50Ms.toFixed(1)} ms, p99 ${m.p99Ms.toFixed(1)} ms${cpu}, ${m.non2xx} non-2xx, ${m.errors} errors`
}

async function run({ settings, parleyNodeArgs, only, floor: withFloor, progress }: BenchOptions): Promise<Comparison[]> {
  const parley = await startChild<ParleyInfo>('parley', 'bench/servers/parley.ts', {
    args: [String(VISITOR_COUNT)],
    nodeArgs: parleyNodeArgs,
    ipc: true,
  })
  try {
    const parleyUrl = `http://127.0.0.1:${parley.info.port}`
    const sample = await checkParley(parleyUrl, parley.info)
    progress(`Parley (pid ${parley.pid}) on ${parleyUrl}, SQLite file ${parley.info.databasePath}; a message is ${sample.length} bytes`)
    const baseline = await startChild<{ port: number }>('baseline', 'bench/servers/baseline.ts', { args: [sample], ipc: true })
    // Started from a copy of Parley's database as it is now, so the same requests suit both.
    const floor = withFloor
      ? await startChild<{ port: number }>('floor', 'bench/servers/floor.ts', { args: [parley.info.databasePath], ipc: true })
      : undefined
    try {
      const urls = { baseline: `http://127.0.0.1:${baseline.info.port}`, parley: parleyUrl, floor: floor && `http://127.0.0.1:${floor.info.port}` }
      progress(`baseline (pid ${baseline.pid}) on ${urls.baseline}`)
      if (floor) progress(`floor (pid ${floor.pid}) on ${urls.floor}`)
      const results: Comparison[] = []
      const scenarios = [
        { name: `POST ${MESSAGES_PATH}`, target: 0.5, requests: postRequests(parley.info) },
        { name: `GET ${MESSAGES_PATH}/{id}`, target: 0.7, requests: getRequests(parley.info) },
      ]
      for (const s of scenarios.filter((s) => !only || s.name.includes(only))) {
        const cpu = { baseline: cpuOf(baseline), parley: cpuOf(parley), floor: floor && cpuOf(floor) }
        const result = await compare(s.name, s.target, urls, s.requests, settings, cpu)
        progress(`${s.name}: baseline ${summary(result.baseline)}`)
        progress(`${s.name}: Parley   ${summary(result.parley)}`)
        if (result.floor) progress(`${s.name}: floor    ${summary(result.floor)}`)
        results.push(result)
      }
      return results
    } finally {
      await Promise.all([baseline.stop(), floor?.stop()])
    }
  } finally {
    await parley.stop()
  }
}

export const restApi: Benchmark = { name: 'REST API', run }
