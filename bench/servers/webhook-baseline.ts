// The webhook baseline: a loop that POSTs the bodies it is given, signed as Parley signs them, with
// Parley's own HTTP client and as many in flight as Parley's worker keeps: what delivering costs
// with no database, no claims and no retry bookkeeping. For bench/webhooks.ts, over IPC.
// Usage: node --import tsx bench/servers/webhook-baseline.ts   (with an IPC channel)
import { createHttpWebhookTransport } from '../../src/webhooks/http-transport.js'
import { webhookHeaders } from '../../src/webhooks/signing.js'
import { WEBHOOK_TIMEOUT_MS } from '../../src/webhooks/worker.js'
import { answerRequests, reportReady, stopOn } from './lifecycle.js'

export interface BaselineRun {
  type: 'run'
  url: string
  secret: string
  deliveries: Array<{ id: string; payload: string }>
  concurrency: number
}

export interface BaselineResult {
  /** Each POST's round trip, in ms. */
  durations: number[]
  statusCodes: Record<string, number>
  errors: number
}

const transport = createHttpWebhookTransport({ allowPrivateTargets: true })
stopOn(async () => {})

answerRequests(async (raw) => {
  const request = raw as unknown as BaselineRun
  const durations: number[] = []
  const statusCodes: Record<string, number> = {}
  let errors = 0
  let next = 0
  async function lane(): Promise<void> {
    while (next < request.deliveries.length) {
      const { id, payload } = request.deliveries[next++]
      const started = performance.now()
      try {
        const { status } = await transport.send({
          url: request.url,
          headers: webhookHeaders([request.secret], id, Date.now(), payload),
          body: payload,
          timeoutMs: WEBHOOK_TIMEOUT_MS,
        })
        statusCodes[status] = (statusCodes[status] ?? 0) + 1
      } catch {
        errors++
      }
      durations.push(performance.now() - started)
    }
  }
  await Promise.all(Array.from({ length: request.concurrency }, lane))
  return { durations, statusCodes, errors } satisfies BaselineResult
})

reportReady({ ready: true })
