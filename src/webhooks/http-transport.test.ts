import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createHttpWebhookTransport, pinnedLookup, WebhookSendError } from './http-transport.js'

let server: Server
let url: string
let received: Array<{ path: string; headers: Record<string, unknown>; body: string }>
let handle: (path: string, res: import('node:http').ServerResponse) => void

beforeEach(async () => {
  received = []
  handle = (_path, res) => res.end('ok')
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body })
      handle(req.url ?? '', res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterEach(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

const local = createHttpWebhookTransport({ allowPrivateTargets: true })
const post = (path: string, timeoutMs = 5_000, transport = local) =>
  transport.send({ url: `${url}${path}`, headers: { 'webhook-id': 'id-1' }, body: '{"eventName":"agent.online"}', timeoutMs })

describe('the HTTP webhook transport', () => {
  it('POSTs the body as JSON with the given headers and answers with the status', async () => {
    const response = await post('/hook?x=1')
    expect(response).toEqual({ status: 200, bodyExcerpt: 'ok' })
    expect(received).toEqual([
      {
        path: '/hook?x=1',
        body: '{"eventName":"agent.online"}',
        headers: expect.objectContaining({
          'content-type': 'application/json',
          'content-length': '28',
          'webhook-id': 'id-1',
          'user-agent': expect.stringMatching(/^Parley-Webhooks/),
        }),
      },
    ])
  })

  it('does not follow a redirect, passes Retry-After on, and keeps only the start of a long body', async () => {
    handle = (path, res) => {
      if (path === '/moved') res.writeHead(302, { location: '/elsewhere' }).end()
      else res.writeHead(503, { 'retry-after': '120' }).end('x'.repeat(10_000))
    }
    expect(await post('/moved')).toEqual({ status: 302, bodyExcerpt: '' })
    const busy = await post('/busy')
    expect(busy.status).toBe(503)
    expect(busy.retryAfter).toBe('120')
    expect(busy.bodyExcerpt).toHaveLength(512)
    expect(received.map((r) => r.path)).toEqual(['/moved', '/busy'])
  })

  it('gives up on a receiver that does not answer in time', async () => {
    handle = () => {}
    const outcome = await post('/slow', 200).catch((err: unknown) => err)
    expect(outcome).toBeInstanceOf(WebhookSendError)
    expect((outcome as Error).message).toBe('no complete response within 0.2 s')
  })

  it('counts the address lookup against the deadline: a resolver that never answers times out', async () => {
    const stuck = createHttpWebhookTransport({ allowPrivateTargets: false, lookup: () => new Promise(() => {}) })
    const outcome = await stuck.send({ url: 'https://hooks.example.com/x', headers: {}, body: '{}', timeoutMs: 200 }).catch((err: unknown) => err)
    expect(outcome).toBeInstanceOf(WebhookSendError)
    expect((outcome as Error).message).toBe('no complete response within 0.2 s')
  })

  it('reports a refused connection as an error, not a status', async () => {
    // A port that was just free: nobody listens there.
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const { port } = probe.address() as AddressInfo
    await new Promise((resolve) => probe.close(resolve))
    const outcome = await local.send({ url: `http://127.0.0.1:${port}/x`, headers: {}, body: '{}', timeoutMs: 2_000 }).catch((err: unknown) => err)
    expect(outcome).toBeInstanceOf(WebhookSendError)
    expect((outcome as Error).message).toMatch(/^ECONNREFUSED/)
  })

  it('checks the target again before sending: a private address is refused without a connection', async () => {
    const guarded = createHttpWebhookTransport({ allowPrivateTargets: false, lookup: async () => [{ address: '127.0.0.1', family: 4 }] })
    await expect(guarded.checkTarget(`${url}/hook`)).rejects.toThrow(/private, loopback/)
    const outcome = await post('/hook', 2_000, guarded).catch((err: unknown) => err)
    expect(outcome).toBeInstanceOf(WebhookSendError)
    expect((outcome as Error).message).toMatch(/PARLEY_WEBHOOKS_ALLOW_PRIVATE_TARGETS/)
    const byName = await guarded.send({ url: 'http://rebinding.example/hook', headers: {}, body: '{}', timeoutMs: 2_000 }).catch((e: unknown) => e)
    expect((byName as Error).message).toMatch(/127\.0\.0\.1/)
    expect(received).toEqual([])
  })

  it('connects to the address it checked, whatever the name resolves to later', () => {
    const lookup = pinnedLookup({ address: '93.184.215.14', family: 4 }) as unknown as (
      host: string,
      options: { all?: boolean },
      callback: (...args: unknown[]) => void,
    ) => void
    const answers: unknown[][] = []
    lookup('rebinding.example', { all: true }, (...args) => answers.push(args))
    lookup('anything.else', {}, (...args) => answers.push(args))
    expect(answers).toEqual([
      [null, [{ address: '93.184.215.14', family: 4 }]],
      [null, '93.184.215.14', 4],
    ])
  })
})
