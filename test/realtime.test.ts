import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sweepPresence } from '../src/services/agents.js'
import { createAgent } from '../src/services/accounts.js'
import { signVisitorId, updateWidgetSettings } from '../src/services/widget.js'
import type { TestClock } from '../src/services/test-deps.js'
import { describeEachDb } from './helpers/databases.js'
import { startParley, type RunningParley } from './helpers/parley.js'
import { connectVisitor, openSocket, openVisitorSocket, type TestSocket } from './helpers/sockets.js'

async function rest(parley: RunningParley, method: string, path: string, body?: unknown, apiKey = parley.apiKey) {
  const response = await fetch(`${parley.apiUrl}/conversations${path}`, {
    method,
    headers: { 'api-key': apiKey, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, body: text ? JSON.parse(text) : undefined }
}

function agentSays(parley: RunningParley, visitorId: string, text: string) {
  return rest(parley, 'POST', '/messages', {
    visitorId,
    text,
    agentEmail: 'liz@example.com',
    agentName: 'Liz',
    receivedFrom: 'tests',
  })
}

/** Message frames only, as the widget would apply them. */
function messageFrames(socket: TestSocket, from = 0) {
  return socket.frames.slice(from).filter((f) => typeof f.type === 'string' && f.type.startsWith('message.'))
}

describeEachDb('visitor socket', (db) => {
  let parley: RunningParley
  const sockets: TestSocket[] = []
  let clockOffset = 0
  const clock: TestClock = { now: () => Date.now() + clockOffset, advance: (ms) => void (clockOffset += ms) }

  async function visitor(hello: Record<string, unknown> = {}, headers: Record<string, string> = {}, widgetId = parley.widgetId) {
    const opened = await connectVisitor(parley.baseUrl, widgetId, hello, headers)
    sockets.push(opened.socket)
    return opened
  }

  beforeAll(async () => {
    parley = await startParley(db, { overrides: { clock }, config: { visitorMessagesPerMinute: 30 } })
  })
  afterAll(async () => {
    for (const socket of sockets) socket.ws.terminate()
    await parley?.close()
  })

  it('welcomes a new visitor with an id, a token and an empty history', async () => {
    const { welcome } = await visitor({ page: { link: 'https://shop.example/', title: 'Shop' } })
    expect(welcome).toMatchObject({
      type: 'welcome',
      conversationId: null,
      accountName: 'Acme',
      agents: [],
      resumed: false,
      messages: [],
    })
    expect(welcome.visitorId).toMatch(/^[A-Za-z0-9]{32}$/)
    expect(welcome.visitorToken).toMatch(/^v1\./)
    expect(typeof welcome.seq).toBe('number')
  })

  it('stores a visitor message, acknowledges it and streams it back with its seq', async () => {
    const { socket, welcome } = await visitor({ page: { link: 'https://shop.example/help', title: 'Help' } })
    socket.send({ type: 'message', clientId: 'c1', text: 'Hello, anyone there?' })
    const ack = await socket.next((f) => f.type === 'ack')
    expect(ack).toMatchObject({ clientId: 'c1', message: { type: 'visitor', text: 'Hello, anyone there?' } })
    const created = await socket.next((f) => f.type === 'message.created')
    expect(created.message.id).toBe(ack.message.id)
    expect(created.seq).toBeGreaterThan(welcome.seq)

    const stored = await rest(parley, 'GET', `/messages/${ack.message.id}`)
    expect(stored.status).toBe(200)
    expect(stored.body).toMatchObject({ type: 'visitor', text: 'Hello, anyone there?', visitorId: welcome.visitorId })
    const v = await parley.ctx.storage.read.visitors.get(parley.accountId, welcome.visitorId)
    expect(v?.lastPage).toEqual({ link: 'https://shop.example/help', title: 'Help' })
    expect(v?.browser?.ip).toBe('127.0.0.1')
  })

  it('stores a message re-sent with the same clientId once', async () => {
    const { socket, welcome } = await visitor()
    socket.send({ type: 'message', clientId: 'same-1', text: 'once' })
    socket.send({ type: 'message', clientId: 'same-1', text: 'once' })
    await socket.next((f) => f.type === 'ack')
    const second = await socket.next((f) => f.type === 'ack', { from: socket.frames.findIndex((f) => f.type === 'ack') + 1 })
    const first = socket.frames.find((f) => f.type === 'ack')!
    expect(second.message.id).toBe(first.message.id)
    const conversation = await parley.ctx.storage.read.conversations.getByVisitor(parley.accountId, welcome.visitorId)
    const messages = await parley.ctx.storage.read.messages.listLive(parley.accountId, conversation!.id, 10)
    expect(messages.map((m) => m.text)).toEqual(['once'])
  })

  it('shows agent messages, pushed messages, edits and deletions live, never HTML-interpreted', async () => {
    const { socket, welcome } = await visitor()
    const sent = await agentSays(parley, welcome.visitorId, '<img src=x onerror=alert(1)>')
    expect(sent.status).toBe(200)
    const created = await socket.next((f) => f.type === 'message.created')
    expect(created.message).toMatchObject({ id: sent.body.id, type: 'agent', agentName: 'Liz', text: '<img src=x onerror=alert(1)>' })
    expect(created.message).not.toHaveProperty('agentEmail')

    const pushed = await rest(parley, 'POST', '/pushedMessages', { visitorId: welcome.visitorId, text: 'Your order shipped' })
    const pushedFrame = await socket.next((f) => f.type === 'message.created' && f.message.id === pushed.body.id)
    expect(pushedFrame.message).toMatchObject({ isPushed: true, agentName: 'Acme' })

    expect((await rest(parley, 'PUT', `/messages/${sent.body.id}`, { text: 'edited' })).status).toBe(200)
    const updated = await socket.next((f) => f.type === 'message.updated')
    expect(updated.message).toMatchObject({ id: sent.body.id, text: 'edited' })
    expect(updated.message.editedAt).toBeTypeOf('number')

    expect((await rest(parley, 'DELETE', `/messages/${sent.body.id}`)).status).toBe(204)
    const deleted = await socket.next((f) => f.type === 'message.deleted')
    expect(deleted.message.id).toBe(sent.body.id)
    const seqs = messageFrames(socket).map((f) => f.seq)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
  })

  it('sees only its own conversation', async () => {
    const a = await visitor()
    const b = await visitor()
    await agentSays(parley, b.welcome.visitorId, 'for b only')
    await b.socket.next((f) => f.type === 'message.created')
    await agentSays(parley, a.welcome.visitorId, 'for a')
    await a.socket.next((f) => f.type === 'message.created')
    expect(messageFrames(a.socket).map((f) => f.message.text)).toEqual(['for a'])
  })

  it('after a disconnect, replays exactly what was missed, in order, edits included, then streams live', async () => {
    const first = await visitor()
    const visitorId = first.welcome.visitorId
    const before = await agentSays(parley, visitorId, 'before the cut')
    const seen = await first.socket.next((f) => f.type === 'message.created')
    await first.socket.close()

    const missed: string[] = []
    for (let i = 1; i <= 20; i++) missed.push((await agentSays(parley, visitorId, `missed ${i}`)).body.id)
    await rest(parley, 'PUT', `/messages/${missed[4]}`, { text: 'missed 5 (edited)' })
    await rest(parley, 'PUT', `/messages/${before.body.id}`, { text: 'before the cut (edited)' })

    const again = await visitor({ visitorToken: first.welcome.visitorToken, lastSeq: seen.seq })
    expect(again.welcome).toMatchObject({ resumed: true, visitorId, seq: seen.seq, messages: [] })
    const live = await agentSays(parley, visitorId, 'live again')
    await again.socket.next((f) => f.type === 'message.created' && f.message.id === live.body.id)

    const frames = messageFrames(again.socket)
    const created = frames.filter((f) => f.type === 'message.created').map((f) => f.message.id)
    expect(created).toEqual([...missed, live.body.id])
    expect(frames.filter((f) => f.type === 'message.updated').map((f) => f.message.text)).toEqual([
      'missed 5 (edited)',
      'before the cut (edited)',
    ])
    const seqs = frames.map((f) => f.seq)
    expect(new Set(seqs).size).toBe(seqs.length)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
  })

  it('gives a new page the history instead of a replay', async () => {
    const first = await visitor()
    await agentSays(parley, first.welcome.visitorId, 'one')
    await agentSays(parley, first.welcome.visitorId, 'two')
    first.socket.send({ type: 'message', clientId: 'h1', text: 'three' })
    await first.socket.next((f) => f.type === 'ack')
    const reload = await visitor({ visitorToken: first.welcome.visitorToken })
    expect(reload.welcome.resumed).toBe(false)
    expect(reload.welcome.visitorId).toBe(first.welcome.visitorId)
    expect(reload.welcome.conversationId).toMatch(/^[A-Za-z0-9]{17}$/)
    expect(reload.welcome.messages.map((m: { text: string; type: string }) => [m.type, m.text])).toEqual([
      ['agent', 'one'],
      ['agent', 'two'],
      ['visitor', 'three'],
    ])
  })

  it('does not honour a token or a lastSeq that belongs to someone else', async () => {
    const other = await parley.createAccount('Other shop')
    const there = await visitor({}, {}, other.widgetId)
    const here = await visitor({ visitorToken: there.welcome.visitorToken, lastSeq: 0 })
    expect(here.welcome.visitorId).not.toBe(there.welcome.visitorId)
    expect(here.welcome.resumed).toBe(false)
    const forged = await visitor({ visitorToken: 'v1.c29tZW9uZQ.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })
    expect(forged.welcome.visitorId).not.toBe('someone')
  })

  it('binds a site-given visitorId and shows the REST history of that visitor', async () => {
    await agentSays(parley, 'customer-42', 'Welcome back!')
    const { welcome } = await visitor({ visitorId: 'customer-42' })
    expect(welcome.visitorId).toBe('customer-42')
    expect(welcome.messages.map((m: { text: string }) => m.text)).toEqual(['Welcome back!'])
  })

  it('refuses unsigned and mis-signed bindings when verified binding is on', async () => {
    const shop = await parley.createAccount('Signed shop')
    const settings = await updateWidgetSettings(parley.ctx, shop.accountId, { verifiedBinding: true })
    await rest(parley, 'POST', '/pushedMessages', { visitorId: 'vip-7', text: 'private history' }, shop.apiKey)

    const unsigned = await visitor({ visitorId: 'vip-7' }, {}, shop.widgetId)
    expect(unsigned.welcome).toMatchObject({ type: 'error', code: 'binding_refused' })
    expect(await unsigned.socket.closed).toBe(4401)
    expect(unsigned.socket.frames.some((f) => f.type === 'welcome')).toBe(false)

    const wrong = await visitor({ visitorId: 'vip-7', visitorIdSignature: signVisitorId('not the secret', 'vip-7') }, {}, shop.widgetId)
    expect(wrong.welcome).toMatchObject({ type: 'error', code: 'binding_refused' })
    expect(await wrong.socket.closed).toBe(4401)

    const signed = await visitor({ visitorId: 'vip-7', visitorIdSignature: signVisitorId(settings.identitySecret, 'vip-7') }, {}, shop.widgetId)
    expect(signed.welcome).toMatchObject({ type: 'welcome', visitorId: 'vip-7' })
    expect(signed.welcome.messages.map((m: { text: string }) => m.text)).toEqual(['private history'])

    // Anonymous visitors still chat: only bindings need a signature.
    const anonymous = await visitor({}, {}, shop.widgetId)
    expect(anonymous.welcome.type).toBe('welcome')
  })

  it('admits only the allowed origins when the account lists some', async () => {
    const shop = await parley.createAccount('Origin shop')
    await updateWidgetSettings(parley.ctx, shop.accountId, { allowedOrigins: ['https://shop.example'] })
    const refused = await openVisitorSocket(parley.baseUrl, shop.widgetId, { origin: 'https://evil.example' })
    sockets.push(refused)
    expect(await refused.next((f) => f.type === 'error')).toMatchObject({ code: 'origin_refused' })
    expect(await refused.closed).toBe(4403)
    const allowed = await visitor({}, { origin: 'https://shop.example' }, shop.widgetId)
    expect(allowed.welcome.type).toBe('welcome')
  })

  it('closes with 4404 for an unknown widget id', async () => {
    const socket = await openVisitorSocket(parley.baseUrl, 'no-such-widget')
    sockets.push(socket)
    expect(await socket.next((f) => f.type === 'error')).toMatchObject({ code: 'unknown_widget' })
    expect(await socket.closed).toBe(4404)
  })

  it('answers malformed frames with a clear error and keeps the socket open', async () => {
    const socket = await openVisitorSocket(parley.baseUrl, parley.widgetId)
    sockets.push(socket)
    const cases: Array<[string | Buffer, RegExp, string]> = [
      ['not json', /not valid JSON/, 'invalid_frame'],
      ['[1,2]', /needs a "type"/, 'invalid_frame'],
      ['{"type":"dance"}', /needs a "type"/, 'invalid_frame'],
      ['{"type":"message","clientId":"x","text":"early"}', /hello/, 'hello_required'],
      [Buffer.from([1, 2, 3]), /binary/, 'invalid_frame'],
      ['{"type":"hello","lastSeq":-1}', /lastSeq/, 'invalid_frame'],
      ['{"type":"hello","visitorId":"a\\u0000b"}', /visitorId/, 'invalid_frame'],
    ]
    for (const [raw, message, code] of cases) {
      const from = socket.frames.length
      if (typeof raw === 'string') socket.sendRaw(raw)
      else socket.ws.send(raw, { binary: true })
      const error = await socket.next((f) => f.type === 'error', { from })
      expect(error.code).toBe(code)
      expect(error.message).toMatch(message)
    }
    socket.send({ type: 'hello' })
    await socket.next((f) => f.type === 'welcome')
    const cases2: Array<[unknown, RegExp]> = [
      [{ type: 'message', clientId: 'ok', text: '' }, /text/],
      [{ type: 'message', clientId: 'ok', text: 'x'.repeat(10_001) }, /text/],
      [{ type: 'message', clientId: 'no spaces', text: 'x' }, /clientId/],
      [{ type: 'message', clientId: 'ok', text: 'x', extra: 1 }, /additional/],
      [{ type: 'hello' }, /already/],
      [{ type: 'typing', isTyping: 'yes' }, /isTyping/],
      [{ type: 'integrationData', data: { nested: { no: 1 } } }, /data/],
    ]
    for (const [frame, message] of cases2) {
      const from = socket.frames.length
      socket.send(frame)
      const error = await socket.next((f) => f.type === 'error', { from })
      expect(error.message).toMatch(message)
    }
    socket.send({ type: 'ping' })
    await socket.next((f) => f.type === 'pong')
    expect(socket.ws.readyState).toBe(socket.ws.OPEN)
  })

  it('closes a socket that sends a frame over the size limit', async () => {
    const { socket } = await visitor()
    socket.sendRaw(JSON.stringify({ type: 'message', clientId: 'big', text: 'x'.repeat(70_000) }))
    expect(await socket.closed).toBe(1009)
  })

  it('limits how fast one visitor sends, with a clear message and the time to wait', async () => {
    const slow = await startParley(db, { config: { visitorMessagesPerMinute: 3 }, backgroundJobs: false })
    try {
      const { socket, welcome } = await connectVisitor(slow.baseUrl, slow.widgetId)
      sockets.push(socket)
      for (let i = 1; i <= 4; i++) socket.send({ type: 'message', clientId: `m${i}`, text: `message ${i}` })
      const refused = await socket.next((f) => f.type === 'error')
      expect(refused).toMatchObject({ code: 'rate_limited', clientId: 'm4' })
      expect(refused.message).toMatch(/too quickly/)
      expect(refused.retryAfterMs).toBeGreaterThan(0)
      expect(socket.frames.filter((f) => f.type === 'ack').map((f) => f.clientId)).toEqual(['m1', 'm2', 'm3'])
      // Re-sent after a reconnect (their acks lost), stored messages cost nothing: acked again,
      // not refused, though the bucket is empty.
      for (let i = 1; i <= 3; i++) socket.send({ type: 'message', clientId: `m${i}`, text: `message ${i}` })
      await socket.next((f) => f.type === 'ack' && f.clientId === 'm3', { from: socket.frames.indexOf(refused) + 1 })
      expect(socket.frames.filter((f) => f.type === 'error')).toHaveLength(1)
      const conversation = await slow.ctx.storage.read.conversations.getByVisitor(slow.accountId, welcome.visitorId)
      expect(await slow.ctx.storage.read.messages.listLive(slow.accountId, conversation!.id, 10)).toHaveLength(3)
    } finally {
      await slow.close()
    }
  })

  it('shows agents coming online and going offline', async () => {
    const { socket, welcome } = await visitor()
    expect(welcome.agents).toEqual([])
    const agent = await createAgent(parley.ctx, parley.accountId, { email: 'sam@example.com', name: 'Sam' })
    expect((await rest(parley, 'POST', '/agentOnlinePing', { agentId: agent.id })).status).toBe(201)
    const online = await socket.next((f) => f.type === 'presence')
    expect(online.agents).toEqual([{ id: agent.id, name: 'Sam' }])
    const later = await visitor()
    expect(later.welcome.agents).toEqual([{ id: agent.id, name: 'Sam' }])

    clock.advance(151_000)
    expect(await sweepPresence(parley.ctx)).toBe(1)
    const offline = await socket.next((f) => f.type === 'presence', { from: socket.frames.indexOf(online) + 1 })
    expect(offline.agents).toEqual([])
  })

  it('carries typing both ways between the widget and an agent socket', async () => {
    const { socket, welcome } = await visitor()
    const agent = await openSocket(`${parley.baseUrl.replace('http', 'ws')}/ws/agent`, { 'api-key': parley.apiKey })
    sockets.push(agent)
    agent.send({ type: 'hello' })
    await agent.next((f) => f.type === 'welcome')
    socket.send({ type: 'typing', isTyping: true })
    expect(await agent.next((f) => f.type === 'typing')).toEqual({ type: 'typing', visitorId: welcome.visitorId, isTyping: true })

    const liz = await createAgent(parley.ctx, parley.accountId, { email: 'liz2@example.com', name: 'Liz T' })
    agent.send({ type: 'typing', visitorId: welcome.visitorId, isTyping: true, agentId: liz.id })
    expect(await socket.next((f) => f.type === 'typing')).toEqual({ type: 'typing', isTyping: true, agentName: 'Liz T' })
  })

  it('keeps integration data from the site on the visitor', async () => {
    const { socket, welcome } = await visitor()
    socket.send({ type: 'integrationData', data: { email: 'ann@example.com', firstName: 'Ann', plan: 'pro' } })
    socket.send({ type: 'integrationData', data: { plan: null, orders: 3 } })
    socket.send({ type: 'ping' })
    await socket.next((f) => f.type === 'pong')
    const stored = await parley.ctx.storage.read.visitors.get(parley.accountId, welcome.visitorId)
    expect(stored?.attributes).toEqual({ email: 'ann@example.com', firstName: 'Ann', orders: 3 })
  })

  it('stores an automatic message marked as such', async () => {
    const { socket } = await visitor()
    socket.send({ type: 'autoMessage', clientId: 'auto-1', text: 'Need help choosing a size?' })
    const ack = await socket.next((f) => f.type === 'ack')
    expect(ack.message).toMatchObject({ type: 'agent', isTrigger: true, agentName: 'Acme' })
    const stored = await rest(parley, 'GET', `/messages/${ack.message.id}`)
    expect(stored.body).toMatchObject({ type: 'agent', isTrigger: true })
  })
})

describeEachDb('agent socket', (db) => {
  let parley: RunningParley
  beforeAll(async () => {
    parley = await startParley(db, { backgroundJobs: false })
  })
  afterAll(async () => {
    await parley?.close()
  })

  it('refuses a bad key and streams every event of the account to a good one, resuming by seq', async () => {
    const url = `${parley.baseUrl.replace('http', 'ws')}/ws/agent`
    const bad = await openSocket(url)
    bad.send({ type: 'hello', apiKey: 'xkeysib-wrong' })
    expect(await bad.next((f) => f.type === 'error')).toMatchObject({ code: 'unauthorized' })
    await bad.closed

    const agent = await openSocket(url)
    agent.send({ type: 'hello', apiKey: parley.apiKey })
    const welcome = await agent.next((f) => f.type === 'welcome')
    expect(welcome.accountId).toBe(parley.accountId)
    const sent = await agentSays(parley, 'v-1', 'hi')
    const event = await agent.next((f) => f.type === 'event')
    expect(event).toMatchObject({ event: 'message.created', seq: welcome.seq + 1, payload: { message: { id: sent.body.id } } })
    await agent.close()

    await agentSays(parley, 'v-2', 'while away')
    await rest(parley, 'PUT', `/messages/${sent.body.id}`, { text: 'hi!' })
    const back = await openSocket(url, { 'api-key': parley.apiKey })
    back.send({ type: 'hello', lastSeq: event.seq })
    await back.next((f) => f.type === 'event' && f.event === 'message.updated')
    expect(back.frames.filter((f) => f.type === 'event').map((f) => [f.seq, f.event])).toEqual([
      [event.seq + 1, 'message.created'],
      [event.seq + 2, 'message.updated'],
    ])
    await back.close()
  })
})

describe('heartbeat', () => {
  it('drops a socket that stops answering pings and one that never says hello, and keeps a live one', async () => {
    const parley = await startParley('sqlite', { backgroundJobs: false, config: { heartbeatMs: 200 } })
    try {
      const live = await connectVisitor(parley.baseUrl, parley.widgetId)
      const silent = await openVisitorSocket(parley.baseUrl, parley.widgetId)
      // A peer that vanished without closing: it never answers the server's pings.
      const deaf = await connectVisitor(parley.baseUrl, parley.widgetId, {}, {}, { autoPong: false })
      expect(await silent.closed).toBe(4400)
      expect(silent.frames.at(-1)).toMatchObject({ type: 'error', code: 'hello_required' })
      expect(await deaf.socket.closed).toBe(1006)
      live.socket.send({ type: 'ping' })
      await live.socket.next((f) => f.type === 'pong')
      expect(live.socket.ws.readyState).toBe(live.socket.ws.OPEN)
      await live.socket.close()
    } finally {
      await parley.close()
    }
  })

  it('pings a silent socket every period and spares one that keeps sending frames, as the widget does', async () => {
    const parley = await startParley('sqlite', { backgroundJobs: false, config: { heartbeatMs: 300 } })
    try {
      const talking = await connectVisitor(parley.baseUrl, parley.widgetId)
      const silent = await connectVisitor(parley.baseUrl, parley.widgetId)
      const pings = { talking: 0, silent: 0 }
      talking.socket.ws.on('ping', () => pings.talking++)
      silent.socket.ws.on('ping', () => pings.silent++)
      // Twelve periods; the talking socket sends a frame about every 120 ms (the widget: one per 25 s
      // against the server's 30), well inside the frame rate limit.
      for (let i = 0; i < 30; i++) {
        talking.socket.send({ type: 'ping' })
        await new Promise((resolve) => setTimeout(resolve, 120))
      }
      expect(pings.silent).toBeGreaterThanOrEqual(8)
      // One ping at most, should this process stall for a whole period between two frames.
      expect(pings.talking).toBeLessThanOrEqual(1)
      expect(talking.socket.frames.filter((f) => f.type === 'pong')).toHaveLength(30)
      expect(talking.socket.ws.readyState).toBe(talking.socket.ws.OPEN)
      expect(silent.socket.ws.readyState).toBe(silent.socket.ws.OPEN)
      await Promise.all([talking.socket.close(), silent.socket.close()])
    } finally {
      await parley.close()
    }
  })
})
