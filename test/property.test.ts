import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { generateId } from '../src/domain/ids.js'
import type { Agent, AgentGroup } from '../src/domain/model.js'
import { createAgent, createApiKey, createGroup, revokeApiKey } from '../src/services/accounts.js'
import { deleteAgentMessage, pushMessage, sendAgentMessage, sendVisitorMessage } from '../src/services/messages.js'
import { describeEachDb } from './helpers/databases.js'
import { startParley, type RunningParley, type TestAccount } from './helpers/parley.js'
import { nullPaths } from './helpers/wire.js'

// Random and malformed input against every endpoint of the spec's section 2, over real HTTP.
// Each request is checked for: no 5xx; every non-2xx is a JSON `{code, message}` and nothing else;
// every 2xx has the endpoint's documented shape with no nulls; and a 4xx changed nothing stored.

const ERROR_CODES = [
  'invalid_parameter',
  'missing_parameter',
  'out_of_range',
  'document_not_found',
  'duplicate_parameter',
  'duplicate_request',
  'unauthorized',
  'permission_denied',
  'method_not_allowed',
  'not_acceptable',
  'bad_request',
  'too_many_requests',
]

const MESSAGE_FIELDS: Record<string, string> = {
  id: 'string',
  type: 'string',
  text: 'string',
  html: 'string',
  visitorId: 'string',
  agentId: 'string',
  agentName: 'string',
  agentUserpic: 'string',
  createdAt: 'number',
  isPushed: 'boolean',
  isTrigger: 'boolean',
  isMissed: 'boolean',
  isMissedByVisitor: 'boolean',
  isBot: 'boolean',
  receivedFrom: 'string',
  file: 'object',
}

/** What a 2xx must look like: a message, an empty 201/204, the visitorGroup answer, or (odd paths) any of them. */
type Success = 'message' | 'empty201' | 'empty204' | 'visitorGroup' | 'any'

/**
 * One request. `{agentMsg}`-style placeholders in the path and `{keyA}`-style api-keys are resolved
 * at run time, because fixtures deleted by an earlier run are re-created.
 */
interface Probe {
  method: string
  path: string
  body?: string | Uint8Array
  headers: Record<string, string | undefined>
  success: Success
}

interface Answer {
  status: number
  contentType: string | null
  text: string
}

/** Problems with a ConversationsMessage, as readable strings (empty when it is fine). */
function messageProblems(body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return ['not an object']
  const m = body as Record<string, unknown>
  const problems = nullPaths(m).map((p) => `null at ${p}`)
  for (const [key, value] of Object.entries(m)) {
    if (!(key in MESSAGE_FIELDS)) problems.push(`unknown field ${key}`)
    else if (typeof value !== MESSAGE_FIELDS[key]) problems.push(`${key} is ${typeof value}`)
  }
  for (const key of ['id', 'type', 'text', 'visitorId', 'createdAt']) if (!(key in m)) problems.push(`no ${key}`)
  if (m.type !== 'agent' && m.type !== 'visitor') problems.push(`type ${String(m.type)}`)
  if (!Number.isInteger(m.createdAt) || (m.createdAt as number) < 0) problems.push(`createdAt ${String(m.createdAt)}`)
  return problems
}

function parses(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/** Header-safe text: what fetch can send (bytes, no CR/LF/NUL). */
const headerText = (maxLength: number) =>
  fc.string({
    unit: fc
      .oneof(fc.integer({ min: 0x21, max: 0x7e }), fc.integer({ min: 0xa1, max: 0xff }), fc.constant(0x20))
      .map((c) => String.fromCharCode(c)),
    maxLength,
  })

/** Any UTF-16 code units: NUL, controls and lone surrogates included. */
const codeUnits = (maxLength: number) =>
  fc.string({ unit: fc.nat(0xffff).map((c) => String.fromCharCode(c)), maxLength })

const oddString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  codeUnits(40),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\ud800',
    'x\udfffy',
    '\u202e',
    '\ufeff',
    'null',
    '<script>alert(1)</script>',
    "'; drop table message; --",
    '%00',
    '🙂',
    'x'.repeat(128),
    'x'.repeat(129),
    'x'.repeat(257),
    'é'.repeat(10_000),
    'y'.repeat(10_001),
    'z'.repeat(200_000),
  ),
)

const wrongType = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
)

/** A field that is usually right, sometimes an odd string and sometimes not a string at all. */
function field<T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 6, arbitrary: good },
    { weight: 1, arbitrary: oddString },
    { weight: 1, arbitrary: wrongType },
  )
}

/** A body with its required fields present except, now and then, one; optional fields present or not. */
function bodyOf(
  required: Record<string, fc.Arbitrary<unknown>>,
  optional: Record<string, fc.Arbitrary<unknown>> = {},
): fc.Arbitrary<Record<string, unknown>> {
  const names = Object.keys(required)
  const dropped =
    names.length === 0
      ? fc.constant(undefined)
      : fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...names) })
  return fc.tuple(fc.record(required), fc.record(optional, { requiredKeys: [] }), dropped).map(([req, opt, drop]) => {
    const body: Record<string, unknown> = { ...req, ...opt }
    if (drop !== undefined) delete body[drop]
    return body
  })
}

const goodText = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 120 }) },
  { weight: 1, arbitrary: fc.constantFrom('line one\nline two', '<b>&"\'', 'w'.repeat(10_000)) },
)
const goodVisitorId = fc.oneof(
  fc.constantFrom('v-fixture', 'v-other', 'kZMvWhf8npAu3H6qd57w2Hv6nh6rnxvg'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
  fc.constant('v'.repeat(128)),
)
const goodName = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 })

const MESSAGE_TOKENS = ['{agentMsg}', '{pushedMsg}', '{visitorMsg}', '{deletedMsg}', '{otherMsg}', '{unknownMsg}']
const messageToken = fc.constantFrom(...MESSAGE_TOKENS)

interface Endpoint {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  path: string
  success: Success
}

const ENDPOINTS: Endpoint[] = [
  { method: 'POST', path: '/conversations/messages', success: 'message' },
  { method: 'GET', path: '/conversations/messages/{id}', success: 'message' },
  { method: 'PUT', path: '/conversations/messages/{id}', success: 'message' },
  { method: 'DELETE', path: '/conversations/messages/{id}', success: 'empty204' },
  { method: 'POST', path: '/conversations/pushedMessages', success: 'message' },
  { method: 'GET', path: '/conversations/pushedMessages/{id}', success: 'message' },
  { method: 'PUT', path: '/conversations/pushedMessages/{id}', success: 'message' },
  { method: 'DELETE', path: '/conversations/pushedMessages/{id}', success: 'empty204' },
  { method: 'POST', path: '/conversations/agentOnlinePing', success: 'empty201' },
  { method: 'PUT', path: '/conversations/visitorGroup', success: 'visitorGroup' },
]

const endpointPath = (endpoint: Endpoint) =>
  endpoint.path.includes('{id}')
    ? messageToken.map((t) => endpoint.path.replace('{id}', t))
    : fc.constant(endpoint.path)

// A failing property shrinks over real HTTP; cap the time it may take before reporting.
fc.configureGlobal({ interruptAfterTimeLimit: 90_000 })

describeEachDb('property: random and malformed input', (db) => {
  // Fewer runs on PostgreSQL: each request costs a few round trips there, and SQLite already covers the space.
  const runs = db === 'sqlite' ? 150 : 60
  const timeout = 120_000

  let parley: RunningParley
  let other: TestAccount
  let agentA: Agent
  let agentB: Agent
  let groupA: AgentGroup
  let groupB: AgentGroup
  let revokedKey: string
  const fixtures: Record<string, string> = {}
  const marks = new Map<string, number>()

  /** A visitor's own message: the API cannot create one, the widget does. */
  async function insertVisitorMessage(accountId: string, visitorId: string, text: string): Promise<string> {
    return (await sendVisitorMessage(parley.ctx, accountId, { visitorId, text })).id
  }

  const isLive = async (accountId: string, id: string | undefined) => {
    if (!id) return false
    const message = await parley.ctx.storage.read.messages.get(accountId, id)
    return message !== undefined && message.deletedAt === undefined
  }

  /** Re-creates the fixture messages an earlier successful DELETE removed. */
  async function ensureFixtures(): Promise<void> {
    const ctx = parley.ctx
    if (!(await isLive(parley.accountId, fixtures.agentMsg))) {
      fixtures.agentMsg = (
        await sendAgentMessage(ctx, parley.accountId, {
          visitorId: 'v-fixture',
          text: 'agent fixture',
          agentId: agentA.id,
        })
      ).id
    }
    if (!(await isLive(parley.accountId, fixtures.pushedMsg))) {
      fixtures.pushedMsg = (
        await pushMessage(ctx, parley.accountId, { visitorId: 'v-fixture', text: 'pushed fixture', groupId: groupA.id })
      ).id
    }
    if (!(await isLive(other.accountId, fixtures.otherMsg))) {
      fixtures.otherMsg = (
        await sendAgentMessage(ctx, other.accountId, {
          visitorId: 'v-fixture',
          text: 'other account',
          agentId: agentB.id,
        })
      ).id
    }
    await advanceMarks()
  }

  /** Everything a rejected request must leave alone, for both accounts. */
  async function snapshot(idempotencyKey?: string) {
    const read = parley.ctx.storage.read
    const now = parley.ctx.clock.now()
    return Promise.all(
      [parley.accountId, other.accountId].map(async (accountId) => ({
        messageCount: await read.messages.count(accountId),
        agents: await read.agents.list(accountId),
        groups: await read.groups.list(accountId),
        // @NOTE The event log is append-only with a per-account sequence, so "unchanged" means
        // "nothing after the last sequence number seen"; reading only the tail keeps each snapshot cheap.
        newEvents: await read.events.listAfter(accountId, marks.get(accountId) ?? 0, 100_000),
        fixtures: await Promise.all(Object.values(fixtures).map((id) => read.messages.get(accountId, id))),
        visitors: await Promise.all(['v-fixture', 'v-other'].map((id) => read.visitors.get(accountId, id))),
        online: (await parley.ctx.presence.onlineAgents(accountId, now)).sort(),
        idempotency:
          idempotencyKey === undefined
            ? []
            : await Promise.all(
                ['POST /conversations/messages', 'POST /conversations/pushedMessages'].map((scope) =>
                  read.idempotency.get(accountId, scope, idempotencyKey),
                ),
              ),
      })),
    )
  }

  async function advanceMarks(): Promise<void> {
    for (const accountId of [parley.accountId, other.accountId]) {
      const events = await parley.ctx.storage.read.events.listAfter(accountId, marks.get(accountId) ?? 0, 100_000)
      if (events.length > 0) marks.set(accountId, events[events.length - 1].seq)
    }
  }

  function resolve(text: string): string {
    return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
      if (name === 'keyA') return parley.apiKey
      if (name === 'keyB') return other.apiKey
      if (name === 'revokedKey') return revokedKey
      return fixtures[name] ?? whole
    })
  }

  async function send(probe: Probe): Promise<Answer> {
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(probe.headers)) if (value !== undefined) headers[name] = resolve(value)
    const res = await fetch(`${parley.apiUrl}${resolve(probe.path)}`, {
      method: probe.method,
      headers,
      body:
        probe.method === 'GET' || probe.body === undefined
          ? undefined
          : typeof probe.body === 'string'
            ? probe.body
            : Buffer.from(probe.body),
    })
    return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() }
  }

  /** The invariants every answer must satisfy, whatever was sent. */
  function expectWellFormed(probe: Probe, answer: Answer): unknown {
    expect(answer.status, answer.text).toBeLessThan(500)
    if (answer.status < 200 || answer.status >= 300) {
      expect(answer.contentType).toMatch(/^application\/json/)
      const body = JSON.parse(answer.text) as Record<string, unknown>
      expect(Object.keys(body).sort()).toEqual(['code', 'message'])
      expect(typeof body.message).toBe('string')
      expect(ERROR_CODES).toContain(body.code)
      return body
    }
    const success = probe.success === 'any' ? (answer.text === '' ? 'empty' : 'message') : probe.success
    switch (success) {
      case 'empty':
        expect([201, 204]).toContain(answer.status)
        return undefined
      case 'empty201':
      case 'empty204':
        expect(answer.status).toBe(success === 'empty201' ? 201 : 204)
        expect(answer.text).toBe('')
        return undefined
      case 'message': {
        expect(answer.status).toBe(200)
        const body = JSON.parse(answer.text)
        expect(messageProblems(body)).toEqual([])
        return body
      }
      case 'visitorGroup': {
        expect(answer.status).toBe(200)
        const body = JSON.parse(answer.text) as Record<string, unknown>
        expect(nullPaths(body)).toEqual([])
        expect(typeof body.visitorId).toBe('string')
        expect(['string', 'undefined']).toContain(typeof body.groupId)
        expect(Object.keys(body).filter((k) => k !== 'visitorId' && k !== 'groupId')).toEqual([])
        return body
      }
    }
  }

  /** Sends one probe and checks every invariant, the "rejected changes nothing" one included. */
  async function exercise(probe: Probe): Promise<{ answer: Answer; body: unknown }> {
    await ensureFixtures()
    const idempotencyKey = probe.headers['idempotency-key']
    const before = await snapshot(idempotencyKey)
    const answer = await send(probe)
    const body = expectWellFormed(probe, answer)
    if (answer.status >= 400 && answer.status < 500) expect(await snapshot(idempotencyKey)).toEqual(before)
    await advanceMarks()
    return { answer, body }
  }

  const json = { 'api-key': '{keyA}', 'content-type': 'application/json' }

  beforeAll(async () => {
    parley = await startParley(db)
    other = await parley.createAccount('Other tenant')
    const ctx = parley.ctx
    agentA = await createAgent(ctx, parley.accountId, { email: 'liz@acme.test', name: 'Liz' })
    agentB = await createAgent(ctx, other.accountId, { email: 'bob@other.test', name: 'Bob' })
    groupA = await createGroup(ctx, parley.accountId, 'Sales')
    groupB = await createGroup(ctx, other.accountId, 'Support')
    const second = await createApiKey(ctx, parley.accountId)
    await revokeApiKey(ctx, parley.accountId, second.key.id)
    revokedKey = second.apiKey
    fixtures.visitorMsg = await insertVisitorMessage(parley.accountId, 'v-fixture', 'hello from the visitor')
    fixtures.deletedMsg = (
      await sendAgentMessage(ctx, parley.accountId, { visitorId: 'v-fixture', text: 'gone', agentId: agentA.id })
    ).id
    await deleteAgentMessage(ctx, parley.accountId, fixtures.deletedMsg)
    fixtures.unknownMsg = generateId()
    await insertVisitorMessage(other.accountId, 'v-other', 'a visitor of the other tenant')
    await ensureFixtures()
  })
  afterAll(() => parley?.close())

  it(
    'survives any JSON value as the body of every endpoint',
    async () => {
      const bodies = fc.oneof(
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc
          .anything({
            withBoxedValues: true,
            withMap: true,
            withSet: true,
            withDate: true,
            withTypedArray: true,
            withSparseArray: true,
            withNullPrototype: true,
          })
          .map((v) => JSON.stringify(v) ?? ''),
      )
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...ENDPOINTS).chain((e) => fc.tuple(fc.constant(e), endpointPath(e))),
          bodies,
          async ([endpoint, path], body) => {
            await exercise({ method: endpoint.method, path, body, headers: json, success: endpoint.success })
          },
        ),
        { numRuns: runs },
      )
    },
    timeout,
  )

  it(
    'answers right field names with wrong types, odd strings and huge values as the contract says',
    async () => {
      const agentIds = fc.constantFrom(agentA.id, agentA.id, agentB.id, groupA.id, 'no-such-agent')
      const groupIds = fc.constantFrom(groupA.id, groupA.id, groupB.id, agentA.id, 'no-such-group')
      const email = fc.oneof(
        fc.emailAddress(),
        fc.constantFrom(agentA.email, agentB.email, 'LIZ@ACME.TEST', 'not-an-email'),
      )
      type Case = { endpoint: Endpoint; path: string; body: Record<string, unknown>; required: string[] }
      const cases: fc.Arbitrary<Case> = fc.oneof(
        bodyOf(
          { visitorId: field(goodVisitorId), text: field(goodText) },
          {
            agentId: field(agentIds),
            receivedFrom: field(goodName),
            agentEmail: field(email),
            agentName: field(goodName),
          },
        ).map((body) => ({ endpoint: ENDPOINTS[0], path: ENDPOINTS[0].path, body, required: ['visitorId', 'text'] })),
        bodyOf(
          { visitorId: field(goodVisitorId), text: field(goodText) },
          { agentId: field(agentIds), groupId: field(groupIds) },
        ).map((body) => ({ endpoint: ENDPOINTS[4], path: ENDPOINTS[4].path, body, required: ['visitorId', 'text'] })),
        fc
          .tuple(fc.constantFrom(ENDPOINTS[2], ENDPOINTS[6]), messageToken, bodyOf({ text: field(goodText) }))
          .map(([endpoint, token, body]) => ({
            endpoint,
            path: endpoint.path.replace('{id}', token),
            body,
            required: ['text'],
          })),
        bodyOf(
          {},
          {
            agentId: field(agentIds),
            receivedFrom: field(goodName),
            agentEmail: field(email),
            agentName: field(goodName),
          },
        ).map((body) => ({ endpoint: ENDPOINTS[8], path: ENDPOINTS[8].path, body, required: [] })),
        bodyOf({
          visitorId: field(fc.constantFrom('v-fixture', 'v-other', 'never-seen')),
          groupId: field(fc.oneof(groupIds, fc.constant(null))),
        }).map((body) => ({
          endpoint: ENDPOINTS[9],
          path: ENDPOINTS[9].path,
          body,
          required: ['visitorId', 'groupId'],
        })),
      )
      await fc.assert(
        fc.asyncProperty(cases, async ({ endpoint, path, body, required }) => {
          const { answer, body: reply } = await exercise({
            method: endpoint.method,
            path,
            body: JSON.stringify(body),
            headers: json,
            success: endpoint.success,
          })
          const nullable = endpoint === ENDPOINTS[9] ? ['groupId'] : []
          const wrongTyped = Object.entries(body).some(
            ([k, v]) => typeof v !== 'string' && !(v === null && nullable.includes(k)),
          )
          const missing = required.some((k) => !(k in body))
          if (wrongTyped || missing) expect(answer.status, answer.text).toBe(400)
          if (answer.status === 200 && endpoint.method === 'POST') {
            // What the caller was told is what was stored.
            const message = reply as Record<string, unknown>
            expect(message.text).toBe(body.text)
            expect(message.visitorId).toBe(body.visitorId)
            expect(message.isPushed).toBe(endpoint === ENDPOINTS[4])
            const stored = await send({
              method: 'GET',
              path: `/conversations/messages/${String(message.id)}`,
              headers: json,
              success: 'message',
            })
            expect(stored.status).toBe(200)
            expect(JSON.parse(stored.text)).toEqual(message)
          }
        }),
        {
          numRuns: runs,
          // Found by this property: NUL was a 500 on PostgreSQL, an unpaired surrogate was stored as U+FFFD.
          examples: [
            [
              {
                endpoint: ENDPOINTS[9],
                path: ENDPOINTS[9].path,
                body: { visitorId: 'a\u0000b', groupId: groupA.id },
                required: ['visitorId', 'groupId'],
              },
            ],
            [
              {
                endpoint: ENDPOINTS[0],
                path: ENDPOINTS[0].path,
                body: { visitorId: 'v-fixture', text: 'a\u0000', agentId: agentA.id },
                required: ['visitorId', 'text'],
              },
            ],
            [
              {
                endpoint: ENDPOINTS[0],
                path: ENDPOINTS[0].path,
                body: { visitorId: 'v-fixture', text: 'a\ud800b', agentId: agentA.id },
                required: ['visitorId', 'text'],
              },
            ],
            [
              {
                endpoint: ENDPOINTS[4],
                path: ENDPOINTS[4].path,
                body: { visitorId: 'v-fixture', text: 'ok', groupId: 'g\u0000' },
                required: ['visitorId', 'text'],
              },
            ],
            [
              {
                endpoint: ENDPOINTS[8],
                path: ENDPOINTS[8].path,
                body: { agentEmail: 'x@acme.test', agentName: 'N\udc00', receivedFrom: 'r' },
                required: [],
              },
            ],
            [
              {
                endpoint: ENDPOINTS[6],
                path: '/conversations/pushedMessages/{pushedMsg}',
                body: { text: '\u0000' },
                required: ['text'],
              },
            ],
          ],
        },
      )
    },
    timeout,
  )

  it(
    'rejects malformed JSON with bad_request and survives invalid UTF-8 and wrong content types',
    async () => {
      const good = JSON.stringify({ visitorId: 'v-fixture', text: 'hello', agentId: 'AGENT' })
      const utf8 = (s: string) => new TextEncoder().encode(s)
      const withBytes = (prefix: string, bytes: Uint8Array, suffix: string) => {
        const a = utf8(prefix)
        const c = utf8(suffix)
        const out = new Uint8Array(a.length + bytes.length + c.length)
        out.set(a)
        out.set(bytes, a.length)
        out.set(c, a.length + bytes.length)
        return out
      }
      const invalidUtf8 = fc.oneof(
        fc.constantFrom(
          Uint8Array.of(0xff),
          Uint8Array.of(0xc0, 0xaf),
          Uint8Array.of(0xed, 0xa0, 0x80),
          Uint8Array.of(0xf4, 0x90, 0x80, 0x80),
          Uint8Array.of(0xe2, 0x82),
          Uint8Array.of(0x00),
        ),
        fc.uint8Array({ minLength: 1, maxLength: 12 }),
      )
      const bodies: fc.Arbitrary<string | Uint8Array> = fc.oneof(
        fc.string({ unit: 'binary', maxLength: 80 }),
        codeUnits(80),
        fc.nat(good.length - 1).map((n) => good.slice(0, n)),
        fc.string({ minLength: 1, maxLength: 10 }).map((junk) => good + junk),
        fc.constantFrom(
          "{'visitorId':'v','text':'t'}",
          '{"visitorId":"v","text":"t",}',
          '{"visitorId":"v" /* c */,"text":"t"}',
          '{"visitorId":NaN}',
          '\ufeff' + good,
          '{"text":"\\ud800","visitorId":"v","agentId":"AGENT"}',
          '{"text":"a\\u0000b","visitorId":"v","agentId":"AGENT"}',
          '{"text":"t","visitorId":"\\u0000","agentId":"AGENT"}',
          '{"text":"t","visitorId":"v","agentEmail":"a\\u0000@b.co","agentName":"n\\u0000","receivedFrom":"\\u0000"}',
          '{"__proto__":{"text":"t"},"visitorId":"v"}',
          '{"constructor":{"prototype":{"polluted":true}},"visitorId":"v","text":"t","agentId":"AGENT"}',
          '{"visitorId":"v","visitorId":"w","text":"t","agentId":"AGENT"}',
          '['.repeat(5000) + ']'.repeat(5000),
          '{"visitorId":"v","text":"t","agentId":"AGENT","deep":' + '['.repeat(20_000) + ']'.repeat(20_000) + '}',
          '{"visitorId":"v","text":"' + 'a'.repeat(1_100_000) + '","agentId":"AGENT"}',
          '',
          'null',
          '"just a string"',
          '12e999',
        ),
        fc.uint8Array({ maxLength: 80 }),
        invalidUtf8.map((bytes) => withBytes('{"visitorId":"v-bytes","text":"', bytes, `","agentId":"${agentA.id}"}`)),
      )
      const contentTypes: fc.Arbitrary<string | undefined> = fc.constantFrom(
        undefined,
        'application/json',
        'application/json',
        'application/json; charset=utf-8',
        'application/json; charset=latin1',
        'Application/JSON',
        'application/json;',
        'text/plain',
        'text/plain; charset=utf-8',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=xyz',
        'application/xml',
        'application/jsonx',
        'application/merge-patch+json',
        '*/*',
        'garbage',
        ';;;',
      )
      const endpoints = fc.constantFrom(...ENDPOINTS).chain((e) => fc.tuple(fc.constant(e), endpointPath(e)))
      const idempotencyKeys: fc.Arbitrary<string | undefined> = fc.option(
        fc.constantFrom('malformed-1', 'malformed-2'),
        { nil: undefined },
      )
      await fc.assert(
        fc.asyncProperty(
          endpoints,
          bodies,
          contentTypes,
          idempotencyKeys,
          async ([endpoint, path], rawBody, contentType, key) => {
            const body = typeof rawBody === 'string' ? rawBody.replaceAll('AGENT', agentA.id) : rawBody
            const { answer, body: reply } = await exercise({
              method: endpoint.method,
              path,
              body,
              headers: { 'api-key': '{keyA}', 'content-type': contentType, 'idempotency-key': key },
              success: endpoint.success,
            })
            const text = typeof body === 'string' ? body : new TextDecoder().decode(body)
            const small = new TextEncoder().encode(text).length < parley.ctx.config.bodyLimit
            if (
              endpoint.method !== 'GET' &&
              contentType === 'application/json' &&
              text !== '' &&
              small &&
              !parses(text)
            ) {
              expect(answer.status).toBe(400)
              expect((reply as { code: string }).code).toBe('bad_request')
            }
          },
        ),
        { numRuns: runs },
      )
    },
    timeout,
  )

  it(
    'answers random and odd ids in the path with 4xx, never 5xx',
    async () => {
      const percentBytes = fc
        .uint8Array({ minLength: 1, maxLength: 24 })
        .map((bytes) => Array.from(bytes, (b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join(''))
      const segments = fc.oneof(
        messageToken,
        fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }).map(encodeURIComponent),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).map(encodeURIComponent),
        percentBytes,
        fc.constantFrom(
          '%',
          '%2',
          '%zz',
          '%00',
          'a%00b',
          '%ED%A0%80',
          '%C0%AF',
          '%FF',
          '%2F',
          'a%2Fb',
          '%2e%2e',
          '.',
          '%20',
          '+',
          '%25',
          '%E2%80%AE',
          '🙂',
          '{agentMsg}%00',
          '{agentMsg}/',
          '{agentMsg}?x=1',
          '{agentMsg}#frag',
          '{agentMsg}%20',
        ),
        fc.constantFrom(17, 99, 100, 101, 128, 129, 1000, 8000, 20_000).map((n) => 'x'.repeat(n)),
        messageToken.map((t) => t.toUpperCase()),
      )
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('messages', 'pushedMessages'),
          segments,
          fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'POST'),
          fc.option(goodText, { nil: undefined }),
          async (collection, segment, method, text) => {
            const success: Success =
              method === 'DELETE' ? 'empty204' : method === 'GET' || method === 'PUT' ? 'message' : 'any'
            await exercise({
              method,
              path: `/conversations/${collection}/${segment}`,
              body: text === undefined ? undefined : JSON.stringify({ text }),
              headers: json,
              success: segment.includes('?') || segment === '.' ? 'any' : success,
            })
          },
        ),
        {
          numRuns: runs,
          // Found by this property: %00 was a 500 on PostgreSQL; a bad escape and an id over 100
          // characters were answered in Fastify's error shape, not `{code, message}`.
          examples: [
            ['messages', '%00', 'GET', undefined],
            ['pushedMessages', 'a%00b', 'DELETE', undefined],
            ['messages', '%', 'GET', undefined],
            ['messages', '%ED%A0%80', 'PUT', 'edited'],
            ['pushedMessages', 'x'.repeat(101), 'GET', undefined],
            ['messages', 'x'.repeat(129), 'DELETE', undefined],
          ],
        },
      )
    },
    timeout,
  )

  it(
    'answers a missing, empty, random, revoked or foreign api-key with the right 401 and nothing else',
    async () => {
      const keys = fc.oneof(
        fc.constantFrom(
          undefined,
          '',
          '{keyA}',
          '{keyB}',
          '{revokedKey}',
          'xkeysib-',
          '{keyA}x',
          'x{keyA}',
          '{keyA}{keyA}',
          'k'.repeat(20_000),
        ),
        headerText(120),
        headerText(20).map((s) => `xkeysib-${s}`),
        fc.nat(70).map((n) => `{prefix${n}}`),
      )
      const bodies = fc.constantFrom(
        JSON.stringify({ visitorId: 'v-keys', text: 'hi', agentId: 'AGENT' }),
        JSON.stringify({ visitorId: 'v-keys', text: 'hi' }),
        JSON.stringify({ text: 'edited' }),
        JSON.stringify({ visitorId: 'v-fixture', groupId: null }),
        JSON.stringify({ agentEmail: 'pinger@acme.test', agentName: 'Pinger', receivedFrom: 'prop' }),
        '{not json',
        '',
      )
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...ENDPOINTS).chain((e) => fc.tuple(fc.constant(e), endpointPath(e))),
          keys,
          fc.option(headerText(40), { nil: undefined }),
          bodies,
          async ([endpoint, path], key, partnerKey, body) => {
            // `{prefixN}`: the first N characters of account A's key, a near miss.
            const apiKey = key?.replace(/^\{prefix(\d+)\}$/, (_, n: string) => parley.apiKey.slice(0, Number(n)))
            const { answer, body: reply } = await exercise({
              method: endpoint.method,
              path,
              body: body.replaceAll('AGENT', agentA.id),
              headers: { 'api-key': apiKey, 'partner-key': partnerKey, 'content-type': 'application/json' },
              success: endpoint.success,
            })
            // fetch and Node both trim surrounding whitespace from header values.
            const sent = apiKey === undefined ? undefined : resolve(apiKey).trim()
            if (sent !== undefined && sent.length > 16_000) {
              // Beyond Node's header limit the request never reaches a route.
              expect(reply).toEqual({ code: 'out_of_range', message: 'request headers are too large' })
            } else if (sent === undefined || sent === '') {
              expect(answer.status).toBe(401)
              expect(reply).toEqual({ code: 'unauthorized', message: 'authentication not found in headers' })
            } else if (sent !== parley.apiKey && sent !== other.apiKey) {
              expect(answer.status).toBe(401)
              expect(reply).toEqual({ code: 'unauthorized', message: 'Key not found' })
            } else {
              expect(answer.status).not.toBe(401)
            }
          },
        ),
        { numRuns: runs },
      )
    },
    timeout,
  )

  it(
    'honours random Idempotency-Key headers: bad keys are 400s, a retry never stores twice, a changed body is refused',
    async () => {
      const endpoints = fc.constantFrom(
        { endpoint: ENDPOINTS[0], body: { visitorId: 'v-idem', text: 'once', agentId: 'AGENT' } },
        {
          endpoint: ENDPOINTS[0],
          body: {
            visitorId: 'v-idem',
            text: 'once',
            agentEmail: 'idem@acme.test',
            agentName: 'Idem',
            receivedFrom: 'prop',
          },
        },
        { endpoint: ENDPOINTS[4], body: { visitorId: 'v-idem', text: 'once' } },
        { endpoint: ENDPOINTS[4], body: { visitorId: 'v-idem', text: 'once', groupId: 'GROUP' } },
      )
      const idempotencyKeys = fc.oneof(
        { weight: 4, arbitrary: headerText(60) },
        {
          weight: 1,
          arbitrary: fc
            .constantFrom(254, 255, 256, 1000)
            .chain((n) => headerText(3).map((s) => (s + 'k'.repeat(n)).slice(0, n))),
        },
        { weight: 1, arbitrary: fc.uuid() },
      )
      await fc.assert(
        fc.asyncProperty(
          endpoints,
          idempotencyKeys,
          fc.string({ minLength: 1, maxLength: 20 }),
          async ({ endpoint, body }, rawKey, salt) => {
            const key = `${rawKey}`
            const payload = JSON.stringify({ ...body, text: `${body.text} ${salt}` })
              .replaceAll('AGENT', agentA.id)
              .replaceAll('GROUP', groupA.id)
            const probe: Probe = {
              method: 'POST',
              path: endpoint.path,
              body: payload,
              headers: { ...json, 'idempotency-key': key },
              success: 'message',
            }
            const first = await exercise(probe)
            const sent = key.trim()
            if (sent.length > 255) expect(first.answer.status).toBe(400)
            if (first.answer.status !== 200) return
            const count = await parley.ctx.storage.read.messages.count(parley.accountId)
            const retry = await exercise(probe)
            if (sent !== '') {
              // A retry with the same key and body is the same message, not a second one.
              expect(retry.answer.status).toBe(200)
              expect(retry.body).toEqual(first.body)
              expect(await parley.ctx.storage.read.messages.count(parley.accountId)).toBe(count)
              const changed = await exercise({ ...probe, body: payload.replace('once', 'twice') })
              expect(changed.answer.status).toBe(400)
              expect((changed.body as { code: string }).code).toBe('duplicate_request')
            }
          },
        ),
        { numRuns: Math.ceil(runs / 2) },
      )
    },
    timeout,
  )

  // Inputs too large to shrink quickly, kept out of the properties that first found them.
  it('keeps the large counterexamples the properties found answered with a 4xx', async () => {
    const deep = `{"visitorId":"v-deep","text":"t","agentId":"${agentA.id}","x":${'['.repeat(200_000)}${']'.repeat(200_000)}}`
    const probes: Probe[] = [
      // With an Idempotency-Key, hashing a deeply nested unknown field overflowed the stack: a 500.
      {
        method: 'POST',
        path: '/conversations/messages',
        body: deep,
        headers: { ...json, 'idempotency-key': 'deep-1' },
        success: 'message',
      },
      {
        method: 'POST',
        path: '/conversations/pushedMessages',
        body: deep,
        headers: { ...json, 'idempotency-key': 'deep-2' },
        success: 'message',
      },
      // Over Node's header limit the answer was Fastify's `{error, message, statusCode}`.
      { method: 'GET', path: `/conversations/messages/${'x'.repeat(20_000)}`, headers: json, success: 'message' },
      {
        method: 'POST',
        path: '/conversations/agentOnlinePing',
        body: '{}',
        headers: { ...json, 'api-key': 'k'.repeat(20_000) },
        success: 'empty201',
      },
    ]
    for (const probe of probes) {
      const { answer, body } = await exercise(probe)
      expect(answer.status).toBe(400)
      expect((body as { code: string }).code).toBe('out_of_range')
    }
  })
})
