import { afterAll, beforeAll, expect, it } from 'vitest'
import { createHttpWebhookTransport } from '../src/webhooks/http-transport.js'
import { describeEachDb } from './helpers/databases.js'
import { startParley, type RunningParley } from './helpers/parley.js'

// The webhook management API with private targets refused (the default). The machine has no DNS,
// so hostnames resolve through a fixed table: hooks.example.com is public, intranet.example.com
// is 10.1.2.3.

const dns: Record<string, string> = { 'hooks.example.com': '93.184.215.14', 'intranet.example.com': '10.1.2.3', localhost: '127.0.0.1' }
const transport = createHttpWebhookTransport({
  allowPrivateTargets: false,
  lookup: async (hostname) => {
    const address = dns[hostname]
    if (!address) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
    return [{ address, family: 4 }]
  },
})

describeEachDb('webhooks REST API', (db) => {
  let parley: RunningParley

  beforeAll(async () => {
    parley = await startParley(db, { overrides: { webhookTransport: transport } })
  })
  afterAll(() => parley?.close())

  async function call(method: string, path: string, options: { apiKey?: string | null; body?: unknown; raw?: string } = {}) {
    const apiKey = options.apiKey === undefined ? parley.apiKey : options.apiKey
    const headers: Record<string, string> = apiKey === null ? {} : { 'api-key': apiKey }
    let body: string | undefined
    if (options.raw !== undefined || options.body !== undefined) {
      headers['content-type'] = 'application/json'
      body = options.raw ?? JSON.stringify(options.body)
    }
    const response = await fetch(`${parley.baseUrl}${path}`, { method, headers, body })
    const text = await response.text()
    return { status: response.status, body: text ? JSON.parse(text) : undefined }
  }
  const create = (body: unknown, apiKey?: string) => call('POST', '/parley/v1/webhooks', { body, apiKey })
  const invalid = (message: RegExp | string) => ({ code: 'invalid_parameter', message: expect.stringMatching(message) })

  it('creates, lists, gets, changes and deletes an endpoint; the secret is shown only at creation', async () => {
    const created = await create({
      url: 'https://hooks.example.com/parley?token=abc',
      events: ['conversationStarted', 'conversationTranscript', 'message.created'],
      description: 'Helpdesk',
    })
    expect(created.status).toBe(201)
    expect(created.body).toEqual({
      id: expect.any(String),
      url: 'https://hooks.example.com/parley?token=abc',
      events: ['conversationStarted', 'conversationTranscript', 'message.created'],
      description: 'Helpdesk',
      enabled: true,
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]+=*$/),
    })
    const { secret, ...endpoint } = created.body
    const id = endpoint.id as string

    const listed = await call('GET', '/parley/v1/webhooks')
    expect(listed).toEqual({ status: 200, body: { webhooks: [endpoint] } })
    expect(await call('GET', `/parley/v1/webhooks/${id}`)).toEqual({ status: 200, body: endpoint })
    expect(JSON.stringify(listed.body)).not.toContain(secret)

    const changed = await call('PATCH', `/parley/v1/webhooks/${id}`, {
      body: { url: 'http://93.184.215.14:8080/in', events: ['conversationFragment'], description: '', enabled: false },
    })
    expect(changed.status).toBe(200)
    expect(changed.body).toEqual({
      ...endpoint,
      url: 'http://93.184.215.14:8080/in',
      events: ['conversationFragment'],
      description: undefined,
      enabled: false,
      disabledReason: expect.any(String),
      updatedAt: expect.any(Number),
    })
    expect('description' in changed.body).toBe(false)
    const enabled = await call('PATCH', `/parley/v1/webhooks/${id}`, { body: { enabled: true } })
    expect(enabled.body).toMatchObject({ enabled: true, url: 'http://93.184.215.14:8080/in' })
    expect(enabled.body.disabledReason).toBeUndefined()

    expect(await call('GET', `/parley/v1/webhooks/${id}/deliveries`)).toEqual({ status: 200, body: { deliveries: [] } })
    expect(await call('DELETE', `/parley/v1/webhooks/${id}`)).toEqual({ status: 204, body: undefined })
    expect(await call('GET', `/parley/v1/webhooks/${id}`)).toEqual({
      status: 404,
      body: { code: 'document_not_found', message: expect.any(String) },
    })
  })

  it('refuses private, loopback and link-local targets while PARLEY_WEBHOOKS_ALLOW_PRIVATE_TARGETS is off', async () => {
    for (const url of [
      'http://127.0.0.1:3000/hook',
      'http://localhost:3000/hook',
      'http://[::1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://10.0.0.8/',
      'https://intranet.example.com/hook',
    ]) {
      expect(await create({ url, events: ['conversationStarted'] }), url).toEqual({
        status: 400,
        body: invalid(/private, loopback or otherwise internal.*PARLEY_WEBHOOKS_ALLOW_PRIVATE_TARGETS=true/),
      })
    }
    const { body } = await create({ url: 'https://hooks.example.com/ok', events: ['agent.online'] })
    expect(await call('PATCH', `/parley/v1/webhooks/${body.id}`, { body: { url: 'http://192.168.0.10/' } })).toEqual({
      status: 400,
      body: invalid(/private/),
    })
    expect((await call('GET', `/parley/v1/webhooks/${body.id}`)).body.url).toBe('https://hooks.example.com/ok')
    await call('DELETE', `/parley/v1/webhooks/${body.id}`)
  })

  it("answers bad input with Brevo's {code, message} and a 400, storing nothing", async () => {
    const cases: Array<[unknown, number, unknown]> = [
      [{ url: 'ftp://hooks.example.com/x', events: ['conversationStarted'] }, 400, invalid(/http or https/)],
      [{ url: 'not a url', events: ['conversationStarted'] }, 400, invalid(/absolute URL/)],
      [{ url: 'https://nowhere.example.org/', events: ['conversationStarted'] }, 400, invalid(/does not resolve/)],
      [{ url: 'https://hooks.example.com/', events: [] }, 400, { code: 'invalid_parameter', message: expect.stringContaining('events') }],
      [{ url: 'https://hooks.example.com/', events: ['conversationEnded'] }, 400, { code: 'invalid_parameter', message: expect.stringContaining('events') }],
      [{ events: ['conversationStarted'] }, 400, { code: 'missing_parameter', message: 'url is missing' }],
      [{ url: 'https://hooks.example.com/' }, 400, { code: 'missing_parameter', message: 'events is missing' }],
      [{ url: 'https://hooks.example.com/\u0000', events: ['conversationStarted'] }, 400, { code: 'invalid_parameter', message: expect.any(String) }],
      [{ url: 'https://hooks.example.com/', events: ['conversationStarted'], description: 'x'.repeat(501) }, 400, { code: 'out_of_range', message: expect.any(String) }],
      [{ url: 42, events: ['conversationStarted'] }, 400, { code: 'invalid_parameter', message: expect.stringContaining('url') }],
    ]
    for (const [body, status, error] of cases) {
      expect(await create(body), JSON.stringify(body)).toEqual({ status, body: error })
    }
    expect(await call('POST', '/parley/v1/webhooks', { raw: '{"url":' })).toEqual({
      status: 400,
      body: { code: 'bad_request', message: expect.any(String) },
    })
    expect((await call('GET', '/parley/v1/webhooks')).body).toEqual({ webhooks: [] })

    const { body: endpoint } = await create({ url: 'https://hooks.example.com/q', events: ['agent.online'] })
    for (const query of ['limit=0', 'limit=101', 'limit=ten', 'status=lost']) {
      const answer = await call('GET', `/parley/v1/webhooks/${endpoint.id}/deliveries?${query}`)
      expect(answer.status, query).toBe(400)
      expect(answer.body.code, query).toBe('invalid_parameter')
    }
    expect((await call('GET', `/parley/v1/webhooks/${endpoint.id}/deliveries?limit=100&status=failed`)).status).toBe(200)
    await call('DELETE', `/parley/v1/webhooks/${endpoint.id}`)
  })

  it("answers another account's endpoints, deliveries and conversations exactly as unknown ones", async () => {
    const { body: endpoint } = await create({ url: 'https://hooks.example.com/mine', events: ['message.created'] })
    const other = await parley.createAccount('Other')
    const notFound = { status: 404, body: { code: 'document_not_found', message: expect.any(String) } }
    const as = (method: string, path: string, body?: unknown) => call(method, path, { apiKey: other.apiKey, body })
    expect(await as('GET', `/parley/v1/webhooks/${endpoint.id}`)).toEqual(notFound)
    expect(await as('PATCH', `/parley/v1/webhooks/${endpoint.id}`, { enabled: false })).toEqual(notFound)
    expect(await as('POST', `/parley/v1/webhooks/${endpoint.id}/rotate-secret`)).toEqual(notFound)
    expect(await as('GET', `/parley/v1/webhooks/${endpoint.id}/deliveries`)).toEqual(notFound)
    expect(await as('DELETE', `/parley/v1/webhooks/${endpoint.id}`)).toEqual(notFound)
    expect(await as('GET', '/parley/v1/webhooks/noSuchWebhook2345')).toEqual(notFound)
    expect(await as('POST', '/parley/v1/webhook-deliveries/noSuchDelivery234/replay')).toEqual(notFound)
    expect(await as('POST', '/parley/v1/conversations/noSuchConversat/close')).toEqual(notFound)
    expect(await as('GET', '/parley/v1/webhooks')).toEqual({ status: 200, body: { webhooks: [] } })
    expect((await call('GET', `/parley/v1/webhooks/${endpoint.id}`)).body).toMatchObject({ enabled: true })
    await call('DELETE', `/parley/v1/webhooks/${endpoint.id}`)
  })

  it("requires the api-key, like Brevo's endpoints, and answers 405 for a wrong method", async () => {
    expect(await call('GET', '/parley/v1/webhooks', { apiKey: null })).toEqual({
      status: 401,
      body: { code: 'unauthorized', message: 'authentication not found in headers' },
    })
    expect(await call('POST', '/parley/v1/webhooks', { apiKey: 'xkeysib-nope-0000000000000000', body: {} })).toEqual({
      status: 401,
      body: { code: 'unauthorized', message: 'Key not found' },
    })
    expect(await call('PUT', '/parley/v1/webhooks')).toEqual({ status: 405, body: { code: 'method_not_allowed', message: expect.stringContaining('POST, GET') } })
  })

  it('documents the routes in the OpenAPI document under their own tags', async () => {
    const { body: spec } = await call('GET', '/v3/openapi.json', { apiKey: null })
    const operations = Object.entries(spec.paths as Record<string, Record<string, { tags?: string[]; summary?: string }>>)
      .filter(([path]) => path.startsWith('/parley/v1/'))
      .flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, ...op })))
    expect(operations.map((o) => o.route).sort()).toEqual(
      [
        'DELETE /parley/v1/webhooks/{id}',
        'GET /parley/v1/webhook-deliveries/{deliveryId}',
        'GET /parley/v1/webhooks',
        'GET /parley/v1/webhooks/{id}',
        'GET /parley/v1/webhooks/{id}/deliveries',
        'PATCH /parley/v1/webhooks/{id}',
        'POST /parley/v1/conversations/{conversationId}/close',
        'POST /parley/v1/webhook-deliveries/{deliveryId}/replay',
        'POST /parley/v1/webhooks',
        'POST /parley/v1/webhooks/{id}/rotate-secret',
      ].sort(),
    )
    for (const op of operations) {
      expect(op.summary, op.route).toBeTruthy()
      expect(op.tags, op.route).toEqual([op.route.includes('/conversations/') ? 'Conversations (Parley)' : 'Webhooks'])
    }
    const create = spec.paths['/parley/v1/webhooks'].post
    expect(create.responses['201'].content['application/json'].schema.properties.secret.description).toContain('Standard Webhooks')
  })
})
