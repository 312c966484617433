import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDb } from './helpers/databases.js'
import { startParley, type RunningParley } from './helpers/parley.js'

describeEachDb('HTTP basics', (db) => {
  let parley: RunningParley
  beforeAll(async () => {
    parley = await startParley(db)
  })
  afterAll(() => parley?.close())

  const call = (method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) =>
    fetch(`${parley.apiUrl}${path}`, {
      method,
      body: init.body,
      headers: { 'api-key': parley.apiKey, 'content-type': 'application/json', ...init.headers },
    })

  it('answers the ping with 201 and a truly empty body', async () => {
    const res = await call('POST', '/conversations/agentOnlinePing', {
      body: JSON.stringify({ agentEmail: 'liz@example.com', agentName: 'Liz', receivedFrom: 'test' }),
    })
    expect(res.status).toBe(201)
    expect(await res.text()).toBe('')
  })

  it('answers a delete with 204 and accepts a JSON content type with no body', async () => {
    const created = await call('POST', '/conversations/messages', {
      body: JSON.stringify({ visitorId: 'v-basics', text: 'bye', agentEmail: 'a@example.com', agentName: 'A', receivedFrom: 't' }),
    })
    const { id } = await created.json()
    const res = await call('DELETE', `/conversations/messages/${id}`)
    expect(res.status).toBe(204)
    expect(await res.text()).toBe('')
    expect((await call('GET', `/conversations/messages/${id}`)).status).toBe(404)
  })

  it('answers 405 for a wrong method on a known path and 404 for an unknown path under /v3', async () => {
    const wrong = await call('PATCH', '/conversations/messages/abc')
    expect(wrong.status).toBe(405)
    expect(await wrong.json()).toMatchObject({ code: 'method_not_allowed' })
    const unknown = await call('GET', '/conversations/nothing-here')
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toMatchObject({ code: 'document_not_found' })
  })

  it('serves health, readiness, the OpenAPI document and the docs page', async () => {
    expect((await fetch(`${parley.baseUrl}/healthz`)).status).toBe(200)
    expect((await fetch(`${parley.baseUrl}/readyz`)).status).toBe(200)
    const doc = await (await fetch(`${parley.apiUrl}/openapi.json`)).json()
    expect(doc.openapi).toMatch(/^3\./)
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v3/conversations/messages',
        '/v3/conversations/messages/{id}',
        '/v3/conversations/pushedMessages',
        '/v3/conversations/pushedMessages/{id}',
        '/v3/conversations/agentOnlinePing',
        '/v3/conversations/visitorGroup',
      ]),
    )
    expect(doc.paths['/v3/conversations/messages'].post.summary).toBe('Send a message as an agent')
    const docs = await fetch(`${parley.baseUrl}/docs/`)
    expect(docs.status).toBe(200)
    const html = await docs.text()
    expect(html).toContain('swagger')
    // Every asset comes from Parley itself: the docs work with no network.
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1])
    expect(assets.length).toBeGreaterThan(0)
    for (const asset of assets) {
      expect(asset).not.toMatch(/^(https?:)?\/\//)
      const res = await fetch(new URL(asset, `${parley.baseUrl}/docs/`))
      expect(res.status).toBe(200)
      // Read to the end: an unread body keeps its connection busy, and closing the server waits for it.
      await res.arrayBuffer()
    }
  })
})

describeEachDb('rate limits', (db) => {
  let parley: RunningParley
  beforeAll(async () => {
    parley = await startParley(db, { config: { rateLimitPerMinute: 3 } })
  })
  afterAll(() => parley?.close())

  const get = (apiKey: string) =>
    fetch(`${parley.apiUrl}/conversations/messages/unknown`, { headers: { 'api-key': apiKey } })

  it("answer with Brevo's x-sib-ratelimit headers, then 429 with Retry-After, per API key", async () => {
    const statuses = []
    for (let i = 0; i < 4; i++) {
      const res = await get(parley.apiKey)
      statuses.push(res.status)
      expect(res.headers.get('x-sib-ratelimit-limit')).toBe('3')
      expect(res.headers.get('x-sib-ratelimit-remaining')).toBe(String(Math.max(0, 2 - i)))
      expect(Number(res.headers.get('x-sib-ratelimit-reset'))).toBeGreaterThan(0)
      if (res.status === 429) {
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
        expect(await res.json()).toMatchObject({ code: 'too_many_requests' })
      }
    }
    expect(statuses).toEqual([404, 404, 404, 429])
    // Another key of another account has its own budget.
    const other = await parley.createAccount()
    expect((await get(other.apiKey)).status).toBe(404)
  })

  it('also limit refused keys, per caller address', async () => {
    const statuses = []
    for (let i = 0; i < 4; i++) statuses.push((await get(`xkeysib-guess-${i}-0000000000000000`)).status)
    expect(statuses).toEqual([401, 401, 401, 429])
  })
})
