import { lookup as dnsLookup } from 'node:dns/promises'
import http from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'
import type { WebhookRequest, WebhookResponse, WebhookTransport } from '../ports/webhook-transport.js'
import { checkWebhookTarget, type Lookup, type ResolvedAddress } from './target-guard.js'

const BODY_EXCERPT_BYTES = 512
const USER_AGENT = 'Parley-Webhooks/1'

/** Raised when no HTTP response came back: the attempt log keeps its message. */
export class WebhookSendError extends Error {
  name = 'WebhookSendError'
}

const systemLookup: Lookup = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family as 4 | 6 }))

/** A lookup that answers with the address already checked, so a second DNS answer cannot differ. */
export function pinnedLookup(address: ResolvedAddress): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: address.address, family: address.family }])
    else callback(null, address.address, address.family)
  }) as unknown as LookupFunction
}

/**
 * Webhooks over Node's own HTTP client: keep-alive connections, the pinned address, one deadline
 * for the whole exchange. Node's client never follows redirects, so a 3xx comes back as it is.
 */
export function createHttpWebhookTransport(options: { allowPrivateTargets: boolean; lookup?: Lookup }): WebhookTransport {
  const lookup = options.lookup ?? systemLookup
  const agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 64 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 64 }),
  }
  const check = (url: string) => checkWebhookTarget(url, { allowPrivate: options.allowPrivateTargets, lookup })

  return {
    async checkTarget(url) {
      await check(url)
    },
    send(request: WebhookRequest): Promise<WebhookResponse> {
      const body = Buffer.from(request.body)
      return new Promise<WebhookResponse>((resolve, reject) => {
        let settled = false
        let req: http.ClientRequest | undefined
        const fail = (message: string) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          req?.destroy()
          reject(new WebhookSendError(message))
        }
        // One deadline for the whole exchange, the address lookup included: a resolver that never
        // answers must not hold the attempt past its timeout (and the delivery past its lease).
        const timer = setTimeout(() => fail(`no complete response within ${request.timeoutMs / 1000} s`), request.timeoutMs)
        check(request.url).then(
          (target) => {
            if (settled) return
            const secure = target.url.protocol === 'https:'
            req = (secure ? https : http).request(
              target.url,
              {
                method: 'POST',
                agent: secure ? agents.https : agents.http,
                headers: {
                  'content-type': 'application/json',
                  'user-agent': USER_AGENT,
                  ...request.headers,
                  'content-length': String(body.length),
                },
                ...(target.address ? { lookup: pinnedLookup(target.address) } : {}),
              },
              (res) => {
                const chunks: Buffer[] = []
                let kept = 0
                res.on('data', (chunk: Buffer) => {
                  if (kept < BODY_EXCERPT_BYTES) {
                    chunks.push(chunk)
                    kept += chunk.length
                  }
                })
                res.on('end', () => {
                  if (settled) return
                  settled = true
                  clearTimeout(timer)
                  const retryAfter = res.headers['retry-after']
                  resolve({
                    status: res.statusCode ?? 0,
                    ...(retryAfter !== undefined ? { retryAfter } : {}),
                    bodyExcerpt: Buffer.concat(chunks).subarray(0, BODY_EXCERPT_BYTES).toString('utf8'),
                  })
                })
                res.on('error', (err) => fail(`response interrupted: ${err.message}`))
              },
            )
            req.on('error', (err: NodeJS.ErrnoException) => fail(err.code ? `${err.code}: ${err.message}` : err.message))
            req.end(body)
          },
          (err: Error) => fail(err.message),
        )
      })
    },
  }
}
