import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Clock } from '../../src/ports/clock.js'

export interface Received {
  path: string
  headers: IncomingHttpHeaders
  /** The raw body, as signed. */
  body: string
  json: any
}

export interface Answer {
  status: number
  headers?: Record<string, string>
}

export interface Receiver {
  /** `http://127.0.0.1:<port><path>` */
  url(path: string): string
  /** Every request so far, in arrival order. */
  received: Received[]
  /** The requests to one path. */
  at(path: string): Received[]
  /** How to answer from now on (200 by default). */
  answer(fn: (request: Received) => Answer): void
  close(): Promise<void>
}

/** A webhook receiver on 127.0.0.1: it records every POST and answers as the test says. */
export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = []
  let respond: (request: Received) => Answer = () => ({ status: 200 })
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      let json: unknown
      try {
        json = JSON.parse(body)
      } catch {
        json = undefined
      }
      const request = { path: req.url ?? '', headers: req.headers, body, json }
      received.push(request)
      const { status, headers } = respond(request)
      res.writeHead(status, headers).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    received,
    at: (path) => received.filter((r) => r.path === path),
    answer(fn) {
      respond = fn
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Real time plus an offset the test moves forward: retries and idle time without waiting. */
export interface OffsetClock extends Clock {
  advance(ms: number): void
}

export function offsetClock(offset = 0): OffsetClock {
  return {
    now: () => Date.now() + offset,
    advance: (ms) => void (offset += ms),
  }
}
