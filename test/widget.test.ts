import { BrevoClient } from '@getbrevo/brevo'
import type { Browser, BrowserContext, Page, WebSocketRoute } from 'playwright-core'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { generateId } from '../src/domain/ids.js'
import { createGroup } from '../src/services/accounts.js'
import { signVisitorId, updateWidgetSettings } from '../src/services/widget.js'
import { describeBrowser, eventually, launchChromium, openChat, say, shownMessages, widget } from './helpers/browser.js'
import { startParley, type RunningParley } from './helpers/parley.js'

// The widget on Parley's /demo page (Brevo's snippet) in Chromium, against a real Parley, with the
// official Brevo Node SDK as the agent's side.

describeBrowser('the visitor widget on the demo page', () => {
  let parley: RunningParley
  let browser: Browser
  let agent: BrevoClient
  let contexts: BrowserContext[] = []
  let pageErrors: string[] = []
  let dialogs: string[] = []

  beforeAll(async () => {
    ;[parley, browser] = await Promise.all([startParley('sqlite'), launchChromium()])
    agent = new BrevoClient({ apiKey: parley.apiKey, baseUrl: parley.apiUrl, maxRetries: 0 })
  })
  afterAll(async () => {
    await browser?.close()
    await parley?.close()
  })
  afterEach(async () => {
    for (const context of contexts) await context.close()
    contexts = []
    // Whatever a test did, the widget never threw and never opened a dialog.
    expect(pageErrors).toEqual([])
    expect(dialogs).toEqual([])
    pageErrors = []
    dialogs = []
  })

  async function newPage(context?: BrowserContext): Promise<Page> {
    if (!context) {
      context = await browser.newContext()
      contexts.push(context)
    }
    const page = await context.newPage()
    page.on('pageerror', (err) => pageErrors.push(err.message))
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message())
      void dialog.dismiss()
    })
    return page
  }

  const demo = (query: Record<string, string> = {}) => `${parley.baseUrl}/demo?${new URLSearchParams(query)}`
  const newVisitorId = (label: string) => `${label}-${generateId(8)}`

  function agentSays(visitorId: string, text: string) {
    return agent.conversations.sendAMessageAsAnAgent({
      visitorId,
      text,
      agentEmail: 'liz@acme.test',
      agentName: 'Liz',
      receivedFrom: 'widget tests',
    })
  }

  /** The visitor id the widget was given (kept in localStorage under the widget id). */
  function visitorIdOf(page: Page, widgetId = parley.widgetId): Promise<string | undefined> {
    return page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? '{}').visitorId, `parley:${widgetId}`)
  }

  it('sends what the visitor types with Enter, readable through the REST API as a visitor message', async () => {
    const page = await newPage()
    await page.goto(demo())
    await openChat(page)
    await say(page, 'Hello, is this in stock?')
    await widget(page).composer.type('First line')
    await widget(page).composer.press('Shift+Enter')
    await widget(page).composer.type('second line')
    await expect(widget(page).composer.inputValue()).resolves.toBe('First line\nsecond line')
    await widget(page).composer.press('Enter')

    await eventually(() => shownMessages(page).then((list) => list.map((m) => [m.type, m.text, m.id !== null]))).toEqual([
      ['visitor', 'Hello, is this in stock?', true],
      ['visitor', 'First line\nsecond line', true],
    ])
    expect(await widget(page).composer.inputValue()).toBe('')
    const visitorId = await visitorIdOf(page)
    for (const shown of await shownMessages(page)) {
      const stored = await agent.conversations.getAMessage({ id: shown.id! })
      expect(stored).toMatchObject({ id: shown.id, type: 'visitor', text: shown.text, visitorId })
    }
  })

  it('shows agent and pushed messages to the bound visitor live, applies edits and deletions, and keeps the history', async () => {
    const visitorId = newVisitorId('bound')
    const page = await newPage()
    await page.goto(demo({ visitorId }))
    await openChat(page)
    await eventually(() => visitorIdOf(page)).toBe(visitorId)

    const hello = await agentSays(visitorId, 'Hi, I am Liz. How can I help?')
    const pushed = await agent.conversations.sendAnAutomatedMessageToAVisitor({ visitorId, text: 'Free shipping this week!' })
    await eventually(() => shownMessages(page)).toEqual([
      { id: hello.id, type: 'agent', text: 'Hi, I am Liz. How can I help?', edited: false, status: expect.any(String) },
      { id: pushed.id, type: 'agent', text: 'Free shipping this week!', edited: false, status: expect.any(String) },
    ])
    await expect(widget(page).host.locator(`[data-message-id="${hello.id}"] .name`).textContent()).resolves.toBe('Liz')

    await agent.conversations.updateAMessageSentByAnAgent({ id: hello.id!, text: 'Hi, I am Liz from Acme. How can I help?' })
    await eventually(() => shownMessages(page).then((list) => list[0])).toMatchObject({
      id: hello.id,
      text: 'Hi, I am Liz from Acme. How can I help?',
      edited: true,
    })
    await agent.conversations.deleteAnAutomatedMessage({ id: pushed.id! })
    await eventually(() => shownMessages(page).then((list) => list.map((m) => m.id))).toEqual([hello.id])

    await say(page, 'Where is my parcel?')
    await eventually(() => shownMessages(page).then((list) => list.map((m) => m.id !== null))).toEqual([true, true])
    const before = await shownMessages(page)

    await page.reload()
    await openChat(page)
    await eventually(() => shownMessages(page)).toEqual(before)

    // Another page of the same site, same browser.
    const other = await newPage(page.context())
    await other.goto(`${demo({ visitorId })}&page=pricing`)
    await openChat(other)
    await eventually(() => shownMessages(other)).toEqual(before)
  })

  it('brings an anonymous visitor their history back after a reload', async () => {
    const page = await newPage()
    await page.goto(demo())
    await openChat(page)
    await say(page, 'Do you ship to Norway?')
    await eventually(() => shownMessages(page).then((list) => list[0]?.id ?? null)).not.toBeNull()
    const visitorId = await visitorIdOf(page)
    expect(visitorId).toEqual(expect.any(String))
    const answer = await agentSays(visitorId!, 'We do, in 3 to 5 days.')
    await eventually(() => shownMessages(page).then((list) => list.map((m) => m.text))).toEqual([
      'Do you ship to Norway?',
      'We do, in 3 to 5 days.',
    ])

    await page.reload()
    await openChat(page)
    await eventually(() => shownMessages(page).then((list) => list.map((m) => [m.id !== null, m.text]))).toEqual([
      [true, 'Do you ship to Norway?'],
      [true, 'We do, in 3 to 5 days.'],
    ])
    expect((await shownMessages(page))[1].id).toBe(answer.id)
    expect(await visitorIdOf(page)).toBe(visitorId)
  })

  it("routes the page's chats to the group given as groupId", async () => {
    const sales = await createGroup(parley.ctx, parley.accountId, 'Sales')
    const page = await newPage()
    await page.goto(demo({ groupId: sales.id }))
    await openChat(page)
    await say(page, 'I would like a quote for 40 pairs')
    await eventually(() => shownMessages(page).then((list) => list[0]?.id ?? null)).not.toBeNull()
    const visitor = await parley.ctx.storage.read.visitors.get(parley.accountId, (await visitorIdOf(page))!)
    expect(visitor?.groupId).toBe(sales.id)
  })

  it('shows markup in a message as text and runs none of it', async () => {
    const visitorId = newVisitorId('xss')
    const page = await newPage()
    await page.goto(demo({ visitorId }))
    await openChat(page)
    const hostile = '<img src=x onerror=alert(1)>'
    await agentSays(visitorId, hostile)
    await say(page, '<b>bold?</b><script>alert(2)</script>')
    await eventually(() => shownMessages(page).then((list) => list.map((m) => [m.type, m.text, m.id !== null]))).toEqual([
      ['agent', hostile, true],
      ['visitor', '<b>bold?</b><script>alert(2)</script>', true],
    ])
    const elementsInBubbles = await page.evaluate(
      () => document.getElementById('parley-widget')!.shadowRoot!.querySelectorAll('.log img, .log script, .bubble *').length,
    )
    expect(elementsInBubbles).toBe(0)
    const [, mine] = await shownMessages(page)
    expect(await agent.conversations.getAMessage({ id: mine.id! })).toMatchObject({ text: '<b>bold?</b><script>alert(2)</script>' })
  })

  /**
   * The page's sockets to /ws/visitor pass through the test, which can cut them (the server sees
   * the socket close; the page sees it drop) and refuse new ones until it lets them through again.
   */
  async function controlSockets(page: Page) {
    const sent: Array<Record<string, any>> = []
    const received: Array<Record<string, any>> = []
    const live = new Set<{ page: WebSocketRoute; server: WebSocketRoute }>()
    let refuse = false
    await page.routeWebSocket(/\/ws\/visitor/, (ws) => {
      if (refuse) {
        ws.close({ code: 1011, reason: 'test: network down' })
        return
      }
      const server = ws.connectToServer()
      const pair = { page: ws, server }
      live.add(pair)
      ws.onMessage((data) => {
        sent.push(JSON.parse(String(data)))
        server.send(data)
      })
      server.onMessage((data) => {
        received.push(JSON.parse(String(data)))
        ws.send(data)
      })
      ws.onClose(() => live.delete(pair))
      server.onClose(() => live.delete(pair))
    })
    return {
      sent,
      received,
      async cut() {
        refuse = true
        for (const pair of live) {
          await pair.server.close()
          await pair.page.close({ code: 1011, reason: 'test: connection cut' })
        }
        live.clear()
      },
      restore() {
        refuse = false
      },
    }
  }

  it('after a cut connection shows all 20 messages sent meanwhile exactly once, in order, with an edit, and delivers what the visitor wrote', async () => {
    const visitorId = newVisitorId('gapless')
    const context = await browser.newContext()
    contexts.push(context)
    const page = await newPage(context)
    const sockets = await controlSockets(page)
    await page.goto(demo({ visitorId }))
    await openChat(page)
    const first = await agentSays(visitorId, 'Before the outage')
    await eventually(() => shownMessages(page).then((list) => list.map((m) => m.id))).toEqual([first.id])

    await context.setOffline(true)
    await sockets.cut()
    await eventually(() => widget(page).status.textContent()).toBe('Connecting…')

    const sentMeanwhile: string[] = []
    for (let i = 1; i <= 20; i++) {
      const message = await agentSays(visitorId, `Update ${i} of 20`)
      sentMeanwhile.push(message.id!)
    }
    await agent.conversations.updateAMessageSentByAnAgent({ id: sentMeanwhile[6], text: 'Update 7 of 20, corrected' })
    await say(page, 'Written while offline')
    await eventually(() => shownMessages(page).then((list) => list.at(-1))).toMatchObject({ id: null, status: 'Sending…' })
    expect((await shownMessages(page)).filter((m) => m.text.startsWith('Update'))).toEqual([])

    sockets.restore()
    await context.setOffline(false)
    const expected = [first.id, ...sentMeanwhile]
    await eventually(() => shownMessages(page).then((list) => list.filter((m) => m.type === 'agent').map((m) => m.id))).toEqual(expected)
    const agentMessages = (await shownMessages(page)).filter((m) => m.type === 'agent')
    expect(agentMessages.map((m) => m.text)).toEqual([
      'Before the outage',
      ...Array.from({ length: 20 }, (_, i) => (i === 6 ? 'Update 7 of 20, corrected' : `Update ${i + 1} of 20`)),
    ])
    expect(agentMessages.map((m) => m.edited)).toEqual(agentMessages.map((_, i) => i === 7))

    // The reconnect resumed from the last seq: a replay, not the history afresh.
    const hellos = sockets.sent.filter((f) => f.type === 'hello')
    expect(hellos).toHaveLength(2)
    expect(hellos[0].lastSeq).toBeUndefined()
    expect(hellos[1].lastSeq).toEqual(expect.any(Number))
    expect(sockets.received.filter((f) => f.type === 'welcome').map((f) => f.resumed)).toEqual([false, true])

    // What the visitor wrote offline went out once the socket was back, and was stored once.
    await eventually(() => shownMessages(page).then((list) => list.at(-1))).toMatchObject({ type: 'visitor', id: expect.any(String) })
    const conversation = await parley.ctx.storage.read.conversations.getByVisitor(parley.accountId, visitorId)
    const stored = await parley.ctx.storage.read.messages.listLive(parley.accountId, conversation!.id, 100)
    expect(stored.filter((m) => m.text === 'Written while offline')).toHaveLength(1)
  })

  it('keeps a message written offline across a reload and sends it, once, when the network is back', async () => {
    const visitorId = newVisitorId('outbox')
    const context = await browser.newContext()
    contexts.push(context)
    const page = await newPage(context)
    const sockets = await controlSockets(page)
    await page.goto(demo({ visitorId }))
    await openChat(page)
    await eventually(() => widget(page).status.textContent()).toBe('Away')

    await sockets.cut()
    await say(page, 'Please call me back')
    await eventually(() => shownMessages(page)).toEqual([
      { id: null, type: 'visitor', text: 'Please call me back', edited: false, status: 'Sending…' },
    ])
    await page.reload()
    await openChat(page)
    await eventually(() => shownMessages(page)).toEqual([
      { id: null, type: 'visitor', text: 'Please call me back', edited: false, status: 'Sending…' },
    ])

    // The network comes back: the browser says so, and the widget reconnects at once.
    sockets.restore()
    await context.setOffline(true)
    await context.setOffline(false)
    await eventually(() => shownMessages(page).then((list) => list.map((m) => [m.text, m.id !== null]))).toEqual([
      ['Please call me back', true],
    ])
    const [sent] = await shownMessages(page)
    expect(await agent.conversations.getAMessage({ id: sent.id! })).toMatchObject({ type: 'visitor', visitorId })
    const conversation = await parley.ctx.storage.read.conversations.getByVisitor(parley.accountId, visitorId)
    const stored = await parley.ctx.storage.read.messages.listLive(parley.accountId, conversation!.id, 100)
    expect(stored.map((m) => m.text)).toEqual(['Please call me back'])
  })

  it('notices a socket that went silent (a sleeping phone, a dead network) and resumes without losing a message', async () => {
    const visitorId = newVisitorId('silent')
    const context = await browser.newContext()
    contexts.push(context)
    const page = await newPage(context)
    await page.clock.install()
    let blackHole = false
    const sockets: WebSocketRoute[] = []
    await page.routeWebSocket(/\/ws\/visitor/, (ws) => {
      const server = ws.connectToServer()
      sockets.push(ws)
      const dead = () => blackHole && ws === sockets[0]
      ws.onMessage((data) => !dead() && server.send(data))
      server.onMessage((data) => !dead() && ws.send(data))
    })
    await page.goto(demo({ visitorId }))
    await openChat(page)
    await eventually(() => widget(page).status.textContent()).toBe('Away')

    // The first socket stops carrying anything, in either direction, without closing.
    blackHole = true
    const lost = await agentSays(visitorId, 'Sent into the void')
    expect(await shownMessages(page)).toEqual([])
    // A ping is due after 25 s; with no answer 10 s later the widget gives up on the socket.
    await page.clock.fastForward(26_000)
    await page.clock.fastForward(11_000)
    await eventually(() => shownMessages(page).then((list) => list.map((m) => m.id))).toEqual([lost.id])
    expect(sockets.length).toBe(2)
  })

  it('refuses unsigned and mis-signed bindings under verified binding, without showing any history, and accepts a signed one', async () => {
    const shop = await parley.createAccount('Verified shop')
    const { identitySecret } = await updateWidgetSettings(parley.ctx, shop.accountId, { verifiedBinding: true })
    const shopAgent = new BrevoClient({ apiKey: shop.apiKey, baseUrl: parley.apiUrl, maxRetries: 0 })
    const visitorId = newVisitorId('member')
    const secretMessage = 'Your order #1234 has shipped to 1 Main Street'
    await shopAgent.conversations.sendAMessageAsAnAgent({
      visitorId,
      text: secretMessage,
      agentEmail: 'sam@shop.test',
      agentName: 'Sam',
      receivedFrom: 'widget tests',
    })

    const attempts = {
      unsigned: {},
      'signed with another secret': { visitorIdSignature: signVisitorId('not-the-secret', visitorId) },
      'signed for another visitor': { visitorIdSignature: signVisitorId(identitySecret, `${visitorId}-x`) },
    }
    await Promise.all(
      Object.entries(attempts).map(async ([label, extra]) => {
        const page = await newPage()
        await page.goto(demo({ widgetId: shop.widgetId, visitorId, ...extra }))
        await openChat(page)
        await eventually(() => widget(page).notice.textContent()).toContain("We couldn't confirm who you are")
        expect(await widget(page).notice.getAttribute('role'), label).toBe('alert')
        expect(await shownMessages(page), label).toEqual([])
        const shadowText = await page.evaluate(() => document.getElementById('parley-widget')!.shadowRoot!.textContent)
        expect(shadowText, label).not.toContain('1234')
        expect(await widget(page).composer.count(), label).toBe(0)
      }),
    )

    const page = await newPage()
    await page.goto(demo({ widgetId: shop.widgetId, visitorId, visitorIdSignature: signVisitorId(identitySecret, visitorId) }))
    await openChat(page)
    await eventually(() => shownMessages(page).then((list) => list.map((m) => m.text))).toEqual([secretMessage])
    await expect(widget(page).notice.count()).resolves.toBe(0)
  })
})
