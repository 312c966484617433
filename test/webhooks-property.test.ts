import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { sendAgentMessage } from '../src/services/messages.js'
import { createHttpWebhookTransport } from '../src/webhooks/http-transport.js'
import { startParley, type RunningParley } from './helpers/parley.js'

// Random and malformed input against every route of the webhook management API (/parley/v1), over
// real HTTP: never a 5xx, and every refusal a JSON `{code, message}` and nothing else. The routes
// are Parley's own, so SQLite suffices here: the storage contract covers both databases.

// No DNS on this machine: hostnames resolve through a table, the rest fail at once.
const transport = createHttpWebhookTransport({
  allowPrivateTargets: false,
  lookup: async (hostname) => {
    if (hostname === 'hooks.example.com') return [{ address: '93.184.215.14', family: 4 }]
    if (hostname === 'intranet.example.com') return [{ address: '10.1.2.3', family: 4 }]
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
  },
})

const ROUTES: Array<{ method: string; path: string }> = [
  { method: 'POST', path: '/webhooks' },
  { method: 'GET', path: '/webhooks' },
  { method: 'GET', path: '/webhooks/{webhook}' },
  { method: 'PATCH', path: '/webhooks/{webhook}' },
  { method: 'DELETE', path: '/webhooks/{webhook}' },
  { method: 'POST', path: '/webhooks/{webhook}/rotate-secret' },
  { method: 'GET', path: '/webhooks/{webhook}/deliveries' },
  { method: 'GET', path: '/webhook-deliveries/{delivery}' },
  { method: 'POST', path: '/webhook-deliveries/{delivery}/replay' },
  { method: 'POST', path: '/conversations/{conversation}/close' },
]

const EVENTS = ['conversationStarted', 'conversationFragment', 'conversationTranscript', 'message.created', 'agent.online']

/** Plausible and implausible values for the fields the routes read. */
const fieldValue = fc.oneof(
  fc.constantFrom(
    'https://hooks.example.com/in',
    'http://intranet.example.com/in',
    'http://127.0.0.1:1/x',
    'ftp://hooks.example.com/',
    'https://unknown.invalid/',
    'not a url',
    '',
    true,
    null,
    -1,
    0,
    1e308,
    'pending',
    'delivered',
  ),
  fc.subarray(EVENTS),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.string({ maxLength: 300 }),
  fc.jsonValue({ maxDepth: 2 }),
)

const body = fc.oneof(
  fc.record(
    { url: fieldValue, events: fieldValue, description: fieldValue, enabled: fieldValue, extra: fieldValue },
    { requiredKeys: [] },
  ).map((v) => JSON.stringify(v)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.constantFrom('{', '{"url":', '[1,2', 'null', '"text"', '\u0000', '{"url":"https://hooks.example.com/\u0000"}'),
  fc.string({ maxLength: 200 }),
)

const query = fc.oneof(
  fc.constant(''),
  fc
    .record({ limit: fc.oneof(fc.integer({ min: -5, max: 1000 }).map(String), fc.string({ maxLength: 5 })), status: fc.string({ maxLength: 12 }) }, { requiredKeys: [] })
    .map((q) => `?${new URLSearchParams(q).toString()}`),
)

let parley: RunningParley
const ids: Record<string, string> = {}

beforeAll(async () => {
  parley = await startParley('sqlite', { overrides: { webhookTransport: transport }, backgroundJobs: false })
  const created = await fetch(`${parley.baseUrl}/parley/v1/webhooks`, {
    method: 'POST',
    headers: { 'api-key': parley.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ url: 'https://hooks.example.com/in', events: ['message.created'] }),
  })
  expect(created.status).toBe(201)
  ids.webhook = ((await created.json()) as { id: string }).id
  const message = await sendAgentMessage(parley.ctx, parley.accountId, { visitorId: 'v-prop', text: 'hello', agentEmail: 'liz@acme.test', agentName: 'Liz', receivedFrom: 'prop' })
  const conversation = await parley.ctx.storage.read.conversations.getByVisitor(parley.accountId, message.visitorId)
  ids.conversation = conversation!.id
  const [delivery] = await parley.ctx.storage.read.webhookDeliveries.list(parley.accountId, ids.webhook, { limit: 1 })
  ids.delivery = delivery.id
})
afterAll(() => parley?.close())

/** An id for a path parameter: a real one, another account's kind of miss, or junk. */
const idFor = (kind: string) =>
  fc.oneof(
    fc.constant(`{${kind}}`),
    fc.constantFrom('x', 'a'.repeat(129), '%00', '%2F..%2F', '..', '%E2%82', '%F0%9F%92%A9'),
    fc.string({ minLength: 1, maxLength: 40 }).map(encodeURIComponent),
  )

const request = fc.constantFrom(...ROUTES).chain((route) =>
  fc.record({
    method: fc.oneof({ weight: 5, arbitrary: fc.constant(route.method) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE') }),
    path: fc
      .tuple(idFor('webhook'), idFor('delivery'), idFor('conversation'))
      .map(([w, d, c]) => route.path.replace('{webhook}', w).replace('{delivery}', d).replace('{conversation}', c)),
    query,
    body: fc.option(body, { nil: undefined }),
    contentType: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', undefined),
    apiKey: fc.constantFrom('valid', 'valid', 'valid', 'wrong', 'none'),
  }),
)

it('answers any request to the webhook API without a 5xx, and refuses with {code, message}', async () => {
  const seen = new Map<number, number>()
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      // Placeholders become the real ids; a deleted webhook is simply another unknown id.
      const path = r.path.replace(/\{(\w+)\}/g, (_, kind: string) => ids[kind])
      const headers: Record<string, string> = {}
      if (r.apiKey === 'valid') headers['api-key'] = parley.apiKey
      if (r.apiKey === 'wrong') headers['api-key'] = `${parley.apiKey}x`
      if (r.contentType && r.body !== undefined) headers['content-type'] = r.contentType
      const sendsBody = r.body !== undefined && r.method !== 'GET'
      const response = await fetch(`${parley.baseUrl}/parley/v1${path}${r.query}`, {
        method: r.method,
        headers,
        body: sendsBody ? r.body : undefined,
      })
      const text = await response.text()
      seen.set(response.status, (seen.get(response.status) ?? 0) + 1)
      expect(response.status, `${r.method} ${path}${r.query} ${r.body ?? ''}: ${text}`).toBeLessThan(500)
      if (response.status >= 400) {
        const parsed = JSON.parse(text) as Record<string, unknown>
        expect(Object.keys(parsed).sort()).toEqual(['code', 'message'])
        expect(parsed.code).toEqual(expect.any(String))
        expect(parsed.message).toEqual(expect.any(String))
      }
    }),
    { numRuns: 300 },
  )
  // The runs reached past authentication and validation: some were accepted, some refused as
  // unknown, some as invalid.
  const statuses = [...seen.keys()]
  expect(statuses.some((s) => s >= 200 && s < 300), JSON.stringify([...seen])).toBe(true)
  expect(statuses).toEqual(expect.arrayContaining([400, 401, 404]))
}, 120_000)
