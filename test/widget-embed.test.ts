import { BrevoClient } from '@getbrevo/brevo'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { generateId } from '../src/domain/ids.js'
import { createAgent } from '../src/services/accounts.js'
import type { TestClock } from '../src/services/test-deps.js'
import { describeBrowser, eventually, launchChromium, openChat, say, shownMessages, startSite, widget, type Site } from './helpers/browser.js'
import { startParley, type RunningParley, type TestAccount } from './helpers/parley.js'
import { openSocket, type TestSocket } from './helpers/sockets.js'

// The widget embedded in other sites' pages: Brevo's snippet and command queue, the legacy
// Sendinblue names, a hostile stylesheet and a strict CSP, the visitor's rate limit, presence,
// typing, the keyboard and a phone-sized screen.

describeBrowser('the visitor widget on a website', () => {
  let parley: RunningParley
  let browser: Browser
  let website: Site
  let agent: BrevoClient
  let contexts: BrowserContext[] = []
  let pageErrors: string[] = []
  const sockets: TestSocket[] = []
  let clockOffset = 0
  const clock: TestClock = { now: () => Date.now() + clockOffset, advance: (ms) => void (clockOffset += ms) }

  beforeAll(async () => {
    ;[parley, browser, website] = await Promise.all([
      startParley('sqlite', { overrides: { clock }, config: { visitorMessagesPerMinute: 3 } }),
      launchChromium(),
      startSite(),
    ])
    agent = new BrevoClient({ apiKey: parley.apiKey, baseUrl: parley.apiUrl, maxRetries: 0 })
  })
  afterAll(async () => {
    for (const socket of sockets) socket.ws.terminate()
    await browser?.close()
    await website?.close()
    await parley?.close()
  })
  afterEach(async () => {
    for (const context of contexts) await context.close()
    contexts = []
    expect(pageErrors).toEqual([])
    pageErrors = []
  })

  async function newPage(options: Parameters<Browser['newContext']>[0] = {}): Promise<Page> {
    const context = await browser.newContext(options)
    contexts.push(context)
    const page = await context.newPage()
    page.on('pageerror', (err) => pageErrors.push(err.message))
    return page
  }

  /** A page of another website (another origin than Parley's) that carries the snippet. */
  async function visitSite(page: Page, html: string, headers: Record<string, string> = {}, hash = ''): Promise<void> {
    await page.goto(website.page(html, headers) + hash)
  }

  function snippet(options: { legacy?: boolean; widgetId?: string } = {}): string {
    const prefix = options.legacy ? 'Sib' : 'Brevo'
    const file = options.legacy ? 'sib-conversations.js' : 'brevo-conversations.js'
    return `(function(d, w, c) {
  w.${prefix}ConversationsID = '${options.widgetId ?? parley.widgetId}';
  w[c] = w[c] || function() { (w[c].q = w[c].q || []).push(arguments); };
  var s = d.createElement('script'); s.async = true;
  s.src = '${parley.baseUrl}/${file}';
  if (d.head) d.head.appendChild(s);
})(document, window, '${prefix}Conversations');`
  }

  function site(script: string, body = '<h1>Acme shoes</h1>', head = ''): string {
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme shoes</title>${head}<script>${script}</script></head><body>${body}</body></html>`
  }

  const box = (page: Page, selector: string) => widget(page).host.locator(selector).boundingBox()
  const style = (page: Page, selector: string, property: string) =>
    widget(page)
      .host.locator(selector)
      .first()
      .evaluate((el, p) => getComputedStyle(el).getPropertyValue(p), property)
  const visitorIdOf = (page: Page, widgetId = parley.widgetId) =>
    page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? '{}').visitorId as string | undefined, `parley:${widgetId}`)

  it('honours the setup keys and the calls queued before the script loaded, then obeys the live command queue', async () => {
    const page = await newPage({ viewport: { width: 1200, height: 800 } })
    const setup = {
      buttonStyle: 'tab',
      buttonPosition: 'bl',
      chatWidth: 420,
      chatHeight: 500,
      zIndex: 12345,
      colors: { buttonBg: 'rgb(200, 0, 100)', buttonText: 'rgb(255, 255, 0)' },
    }
    await visitSite(
      page,
      site(`window.BrevoConversationsSetup = ${JSON.stringify(setup)};
${snippet()}
BrevoConversations('openChat', true);
BrevoConversations('updateIntegrationData', { email: 'ann@example.com', firstName: 'Ann' });
BrevoConversations('sendAutoMessage', 'Need help choosing a size?');`),
    )
    const w = widget(page)
    await w.panel.waitFor({ state: 'visible' })
    await eventually(() => shownMessages(page).then((list) => list.map((m) => [m.type, m.text, m.id !== null]))).toEqual([
      ['agent', 'Need help choosing a size?', true],
    ])
    const [auto] = await shownMessages(page)
    expect(await agent.conversations.getAMessage({ id: auto.id! })).toMatchObject({ type: 'agent', isTrigger: true })
    const visitorId = (await visitorIdOf(page))!
    await eventually(async () => (await parley.ctx.storage.read.visitors.get(parley.accountId, visitorId))?.attributes).toEqual({
      email: 'ann@example.com',
      firstName: 'Ann',
    })

    expect(await w.launcher.textContent()).toBe('Chat')
    expect(await style(page, '.launcher', 'background-color')).toBe('rgb(200, 0, 100)')
    expect(await style(page, '.launcher', 'color')).toBe('rgb(255, 255, 0)')
    const tab = (await box(page, '.launcher'))!
    expect(tab.x).toBeLessThan(60)
    expect(tab.y + tab.height).toBe(800)
    expect((await box(page, '.panel'))!.width).toBe(420)
    expect((await box(page, '.panel'))!.height).toBe(500)
    expect(await style(page, '.panel', 'z-index')).toBe('12345')

    await page.evaluate(() => (window as any).BrevoConversations('openChat', false))
    await w.panel.waitFor({ state: 'hidden' })
    await page.evaluate(() => {
      const chat = (window as any).BrevoConversations
      chat('setButtonPosition', 'rt')
      chat('setColors', { buttonBg: 'rgb(0, 128, 0)' })
      chat('setZIndex', 7)
    })
    await eventually(() => style(page, '.launcher', 'background-color')).toBe('rgb(0, 128, 0)')
    const moved = (await box(page, '.launcher'))!
    expect(moved.x + moved.width).toBe(1200)
    expect(moved.y).toBeLessThan(60)
    expect(await style(page, '.launcher', 'z-index')).toBe('7')

    await page.evaluate(() => (window as any).BrevoConversations('hide'))
    await eventually(() => w.launcher.count()).toBe(0)
    await page.evaluate(() => (window as any).BrevoConversations('show'))
    await w.launcher.waitFor({ state: 'visible' })
    await page.evaluate(() => (window as any).BrevoConversations('openChat', true))
    await w.panel.waitFor({ state: 'visible' })

    await page.evaluate(() => (window as any).BrevoConversations('kill'))
    await eventually(() => w.host.count()).toBe(0)
    await page.evaluate(() => (window as any).BrevoConversations('openChat', true))
    expect(await w.host.count()).toBe(0)
  })

  it('starts hidden when asked, sizes the round button, and opens for the page’s own chat button', async () => {
    const page = await newPage()
    const setup = { startHidden: true, buttonSize: 80, customWidgetButton: '.chat-with-us' }
    await visitSite(
      page,
      site(`window.BrevoConversationsSetup = ${JSON.stringify(setup)};\n${snippet()}`, '<button class="chat-with-us">Chat with us</button>'),
    )
    const w = widget(page)
    await w.host.waitFor({ state: 'attached' })
    expect(await w.launcher.count()).toBe(0)
    await page.evaluate(() => (window as any).BrevoConversations('show'))
    // The page's own button replaces the launcher.
    await w.panel.waitFor({ state: 'attached' })
    expect(await w.launcher.count()).toBe(0)
    await page.getByRole('button', { name: 'Chat with us' }).click()
    await w.panel.waitFor({ state: 'visible' })
    await w.panel.press('Escape')
    await w.panel.waitFor({ state: 'hidden' })
    // Focus goes back to the page's button that opened the chat.
    await eventually(() => page.evaluate(() => document.activeElement?.className)).toBe('chat-with-us')

    const round = await newPage()
    await visitSite(round, site(`window.BrevoConversationsSetup = { buttonSize: 80 };\n${snippet()}`))
    await widget(round).launcher.waitFor({ state: 'visible' })
    expect(await box(round, '.launcher')).toMatchObject({ width: 80, height: 80 })
    await round.evaluate(() => (window as any).BrevoConversations('setButtonSize', 48))
    await eventually(() => box(round, '.launcher')).toMatchObject({ width: 48, height: 48 })
  })

  it('opens on a link to #brevoConversationsExpanded, and on a page loaded with that address', async () => {
    const page = await newPage()
    await visitSite(page, site(snippet(), '<p><a href="#brevoConversationsExpanded">Talk to us</a></p>'))
    await widget(page).launcher.waitFor({ state: 'visible' })
    expect(await widget(page).panel.isVisible()).toBe(false)
    await page.getByRole('link', { name: 'Talk to us' }).click()
    await widget(page).panel.waitFor({ state: 'visible' })

    const landing = await newPage()
    await visitSite(landing, site(snippet()), {}, '#brevoConversationsExpanded')
    await widget(landing).panel.waitFor({ state: 'visible' })
  })

  it('works under the legacy Sendinblue names and /sib-conversations.js, in the language asked for', async () => {
    const visitorId = `sib-${generateId(8)}`
    const page = await newPage()
    await visitSite(
      page,
      site(`window.SibConversationsSetup = { visitorId: '${visitorId}', language: 'fr' };
${snippet({ legacy: true })}
SibConversations('openChat', true);`),
    )
    await widget(page).panel.waitFor({ state: 'visible' })
    expect(await widget(page).composer.getAttribute('placeholder')).toBe('Écrivez un message…')
    expect(await widget(page).launcher.getAttribute('aria-label')).toBe('Fermer le chat')
    await say(page, 'Hello from an old Sendinblue snippet')
    await eventually(() => shownMessages(page).then((list) => list[0]?.id ?? null)).not.toBeNull()
    const [sent] = await shownMessages(page)
    expect(await agent.conversations.getAMessage({ id: sent.id! })).toMatchObject({ type: 'visitor', visitorId })
  })

  it("is not changed by the page's CSS, does not change the page, and works under a strict Content-Security-Policy", async () => {
    const page = await newPage()
    const hostile = `
      parley-widget, #parley-widget { display: none !important; opacity: 0 !important; position: absolute !important; left: -9999px !important; }
      body * { color: rgb(255, 0, 0) !important; font: 40px serif !important; }
      div, p, button, section, textarea, header { background: rgb(255, 255, 0) !important; border: 5px solid red !important; }
      .launcher, .panel, .bubble, .msg, .log { display: none !important; }`
    const csp = [
      "default-src 'none'",
      `script-src 'nonce-site' ${parley.baseUrl}`,
      "style-src 'nonce-site'",
      `connect-src ${parley.baseUrl.replace('http', 'ws')}`,
    ].join('; ')
    const html = `<!doctype html><html><head><style nonce="site">${hostile}</style>
<script nonce="site">${snippet()}</script></head>
<body><div class="bubble">The page's own bubble</div><button class="launcher">The page's own launcher</button></body></html>`
    await visitSite(page, html, { 'content-security-policy': csp })
    const w = widget(page)
    await w.launcher.waitFor({ state: 'visible' })
    const launcher = (await w.launcher.boundingBox())!
    expect(launcher).toMatchObject({ width: 60, height: 60 })
    await openChat(page)
    await say(page, 'Styled by the widget alone')
    await eventually(() => shownMessages(page).then((list) => list.map((m) => m.id !== null))).toEqual([true])
    expect(await style(page, '.bubble', 'color')).toBe('rgb(255, 255, 255)')
    expect(await style(page, '.bubble', 'font-size')).toBe('14px')
    expect(await style(page, '.panel', 'background-color')).toBe('rgb(255, 255, 255)')
    expect(await style(page, '.msg', 'display')).toBe('flex')

    const own = await page.evaluate(() => {
      const bubble = getComputedStyle(document.querySelector('body > div.bubble')!)
      const button = getComputedStyle(document.querySelector('body > button.launcher')!)
      return { radius: bubble.borderTopLeftRadius, padding: bubble.paddingTop, position: button.position }
    })
    expect(own).toEqual({ radius: '0px', padding: '0px', position: 'static' })
  })

  it('tells a visitor who writes too fast to wait, keeps the text, and sends it on retry', async () => {
    const page = await newPage()
    await page.goto(`${parley.baseUrl}/demo?visitorId=fast-${generateId(8)}`)
    await openChat(page)
    // This server lets one visitor send 3 messages at once, then one every 20 s.
    for (const text of ['One', 'Two', 'Three']) await say(page, text)
    await eventually(() => shownMessages(page).then((list) => list.filter((m) => m.id !== null).length)).toBe(3)
    await say(page, 'Four, right away')
    const w = widget(page)
    await eventually(() => w.notice.textContent()).toMatch(/^You're sending messages too quickly — try again in \d+ s$/)
    const wait = Number(/(\d+) s$/.exec((await w.notice.textContent())!)![1])
    expect(wait).toBeGreaterThanOrEqual(1)
    expect(wait).toBeLessThanOrEqual(20)
    expect(await w.notice.getAttribute('role')).toBe('alert')
    await eventually(() => shownMessages(page).then((list) => list.map((m) => [m.text, m.id !== null, m.status.startsWith('Not sent')]))).toEqual([
      ['One', true, false],
      ['Two', true, false],
      ['Three', true, false],
      ['Four, right away', false, true],
    ])
    expect((await shownMessages(page))[3].status).toBe('Not sent. Retry')

    clock.advance(21_000)
    await w.host.getByRole('button', { name: 'Retry' }).click()
    await eventually(() => shownMessages(page).then((list) => list[3])).toMatchObject({ text: 'Four, right away', id: expect.any(String) })
    expect((await shownMessages(page))[3].status).not.toContain('Not sent')
  })

  async function otherShop(name: string): Promise<{ shop: TestAccount; shopAgent: BrevoClient }> {
    const shop = await parley.createAccount(name)
    return { shop, shopAgent: new BrevoClient({ apiKey: shop.apiKey, baseUrl: parley.apiUrl, maxRetries: 0 }) }
  }

  it('says when nobody is online and takes an e-mail, then shows an agent coming online live', async () => {
    const { shop, shopAgent } = await otherShop('Quiet shop')
    const page = await newPage()
    await page.goto(`${parley.baseUrl}/demo?widgetId=${shop.widgetId}`)
    await openChat(page)
    const w = widget(page)
    await eventually(() => w.status.textContent()).toBe('Away')
    expect(await w.host.locator('h2').textContent()).toBe('Quiet shop')
    await w.host.getByText("We're away right now — leave your e-mail and we'll reply").waitFor()
    await w.host.getByRole('textbox', { name: "We're away right now — leave your e-mail and we'll reply" }).fill('ann@example.com')
    await w.host.getByRole('button', { name: 'Save' }).click()
    await w.host.getByText("Thanks! We'll reply to ann@example.com.").waitFor()
    const visitorId = (await visitorIdOf(page, shop.widgetId))!
    await eventually(async () => (await parley.ctx.storage.read.visitors.get(shop.accountId, visitorId))?.attributes).toEqual({
      email: 'ann@example.com',
    })

    await shopAgent.conversations.setsAgentsStatusToOnlineFor23Minutes({
      agentEmail: 'sam@quiet.test',
      agentName: 'Sam',
      receivedFrom: 'widget tests',
    })
    await eventually(() => w.status.textContent()).toBe('Online')
    expect(await w.host.locator('form.away, p.away').count()).toBe(0)
  })

  it('shows the agent typing and tells the agent when the visitor types', async () => {
    const { shop, shopAgent } = await otherShop('Chatty shop')
    const liz = await createAgent(parley.ctx, shop.accountId, { email: 'liz@chatty.test', name: 'Liz' })
    const inbox = await openSocket(`${parley.baseUrl.replace('http', 'ws')}/ws/agent`, { 'api-key': shop.apiKey })
    sockets.push(inbox)
    inbox.send({ type: 'hello' })
    await inbox.next((f) => f.type === 'welcome')

    const visitorId = `typing-${generateId(8)}`
    const page = await newPage()
    await page.goto(`${parley.baseUrl}/demo?widgetId=${shop.widgetId}&visitorId=${visitorId}`)
    await openChat(page)
    await eventually(() => widget(page).status.textContent()).not.toBe('Connecting…')
    await widget(page).composer.type('Hel')
    expect(await inbox.next((f) => f.type === 'typing')).toEqual({ type: 'typing', visitorId, isTyping: true })

    inbox.send({ type: 'typing', visitorId, isTyping: true, agentId: liz.id })
    const indicator = widget(page).host.locator('.typing')
    await eventually(() => indicator.textContent()).toBe('Liz is typing…')
    await shopAgent.conversations.sendAMessageAsAnAgent({ agentId: liz.id, visitorId, text: 'Hello! How can I help?' })
    await eventually(() => shownMessages(page).then((list) => list.map((m) => m.text))).toEqual(['Hello! How can I help?'])
    expect(await indicator.textContent()).toBe('')
  })

  it('counts unread agent messages on the launcher while the chat is closed', async () => {
    const visitorId = `unread-${generateId(8)}`
    const page = await newPage()
    await page.goto(`${parley.baseUrl}/demo?visitorId=${visitorId}`)
    const w = widget(page)
    await eventually(() => w.status.textContent()).not.toBe('Connecting…')
    for (const text of ['Are you still there?', 'We have your size in stock.']) {
      await agent.conversations.sendAMessageAsAnAgent({ visitorId, text, agentEmail: 'liz@acme.test', agentName: 'Liz', receivedFrom: 'tests' })
    }
    const badge = w.host.locator('.badge')
    await eventually(() => badge.textContent()).toBe('2')
    expect(await w.launcher.getAttribute('aria-label')).toBe('Open chat (2 unread)')
    await openChat(page)
    expect(await badge.count()).toBe(0)
    await w.host.getByRole('button', { name: 'Close chat' }).first().click()
    await page.reload()
    await w.launcher.waitFor({ state: 'visible' })
    await eventually(() => w.status.textContent()).not.toBe('Connecting…')
    expect(await badge.count()).toBe(0)
  })

  it('is usable with the keyboard alone', async () => {
    const page = await newPage()
    await page.goto(`${parley.baseUrl}/demo`)
    const w = widget(page)
    await w.launcher.waitFor({ state: 'visible' })
    const focused = () =>
      page.evaluate(() => {
        const inner = document.getElementById('parley-widget')?.shadowRoot?.activeElement
        return inner ? inner.className || inner.tagName.toLowerCase() : null
      })
    for (let i = 0; i < 10 && (await focused()) !== 'launcher'; i++) await page.keyboard.press('Tab')
    expect(await focused()).toBe('launcher')
    expect(await style(page, '.launcher', 'outline-style')).toBe('solid')
    expect(await w.launcher.getAttribute('aria-expanded')).toBe('false')

    await page.keyboard.press('Enter')
    await w.panel.waitFor({ state: 'visible' })
    expect(await w.launcher.getAttribute('aria-expanded')).toBe('true')
    expect(await w.panel.getAttribute('role')).toBe('dialog')
    const log = w.host.locator('[role="log"]')
    expect(await log.getAttribute('aria-live')).toBe('polite')
    await eventually(focused).toBe('textarea')
    await page.keyboard.type('Typed without a mouse')
    await page.keyboard.press('Enter')
    await eventually(() => shownMessages(page).then((list) => list.map((m) => m.text))).toEqual(['Typed without a mouse'])
    await page.keyboard.press('Tab')
    expect(await focused()).toBe('send')

    await page.keyboard.press('Escape')
    await w.panel.waitFor({ state: 'hidden' })
    await eventually(focused).toBe('launcher')
  })

  it('fills a phone-sized screen', async () => {
    const page = await newPage({ viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true })
    await page.goto(`${parley.baseUrl}/demo`)
    await widget(page).launcher.tap()
    await widget(page).panel.waitFor({ state: 'visible' })
    expect(await widget(page).panel.boundingBox()).toEqual({ x: 0, y: 0, width: 375, height: 667 })
    await widget(page).host.getByRole('button', { name: 'Close chat' }).click()
    await widget(page).panel.waitFor({ state: 'hidden' })
    await widget(page).launcher.waitFor({ state: 'visible' })
  })
})
