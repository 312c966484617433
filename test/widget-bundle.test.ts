import { createHash } from 'node:crypto'
import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { createContext } from '../src/context.js'
import { buildApp } from '../src/http/app.js'
import { acceptsEncoding } from '../src/http/routes/widget.js'
import { CloseCode, PROTOCOL_VERSION, WIDGET_PING_MS } from '../src/realtime/protocol.js'
import * as widgetProtocol from '../web/widget/protocol.js'
import { startParley, type RunningParley } from './helpers/parley.js'

const BUDGET_BYTES = 15 * 1024

describe('the widget script', () => {
  let parley: RunningParley

  beforeAll(async () => {
    parley = await startParley('sqlite', { backgroundJobs: false })
  })
  afterAll(() => parley?.close())

  const get = (url: string, headers: Record<string, string> = {}) => parley.app.inject({ method: 'GET', url, headers })

  it(`is at most 15 KB gzipped, measured on exactly the bytes served`, async () => {
    const response = await get('/brevo-conversations.js', { 'accept-encoding': 'identity' })
    expect(response.statusCode).toBe(200)
    const served = response.rawPayload
    const gzipped = gzipSync(served, { level: 9 }).length
    expect(gzipped, `${served.length} bytes raw, ${gzipped} gzipped`).toBeLessThanOrEqual(BUDGET_BYTES)
    // TypeBox stays on the server: the widget imports only the protocol's types.
    expect(served.toString().includes('~kind')).toBe(false)
  })

  it('is served without an api-key, cacheable, loadable from any site, under both of Brevo names', async () => {
    const brevo = await get('/brevo-conversations.js', { 'accept-encoding': 'identity' })
    const sib = await get('/sib-conversations.js', { 'accept-encoding': 'identity' })
    expect(brevo.headers).toMatchObject({
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'public, max-age=300, must-revalidate',
      'cross-origin-resource-policy': 'cross-origin',
      'access-control-allow-origin': '*',
      vary: 'Accept-Encoding',
      etag: expect.stringMatching(/^"[A-Za-z0-9_-]{22}"$/),
    })
    expect(brevo.headers['content-encoding']).toBeUndefined()
    expect(sib.rawPayload.equals(brevo.rawPayload)).toBe(true)
    expect(sib.headers.etag).toBe(brevo.headers.etag)
    // One self-contained IIFE: nothing leaks into the page's global scope.
    expect(/^("use strict";)?\(\(\)=>\{/.test(brevo.rawPayload.toString())).toBe(true)
  })

  it('is precompressed with brotli or gzip as the client accepts, each with its own ETag', async () => {
    const plain = await get('/brevo-conversations.js')
    const gz = await get('/brevo-conversations.js', { 'accept-encoding': 'gzip, deflate' })
    const br = await get('/brevo-conversations.js', { 'accept-encoding': 'gzip, deflate, br' })
    const brRefused = await get('/brevo-conversations.js', { 'accept-encoding': 'br;q=0, gzip' })
    expect(plain.headers['content-encoding']).toBeUndefined()
    expect(gz.headers['content-encoding']).toBe('gzip')
    expect(br.headers['content-encoding']).toBe('br')
    expect(brRefused.headers['content-encoding']).toBe('gzip')
    expect(gunzipSync(gz.rawPayload).equals(plain.rawPayload)).toBe(true)
    expect(brotliDecompressSync(br.rawPayload).equals(plain.rawPayload)).toBe(true)
    expect(new Set([plain.headers.etag, gz.headers.etag, br.headers.etag]).size).toBe(3)
  })

  it('answers a revalidation with 304 and no body', async () => {
    const first = await get('/brevo-conversations.js', { 'accept-encoding': 'gzip' })
    const again = await get('/brevo-conversations.js', { 'accept-encoding': 'gzip', 'if-none-match': String(first.headers.etag) })
    expect(again.statusCode).toBe(304)
    expect(again.rawPayload.length).toBe(0)
    expect(again.headers.etag).toBe(first.headers.etag)
    const weak = await get('/brevo-conversations.js', { 'accept-encoding': 'gzip', 'if-none-match': `W/${first.headers.etag}` })
    expect(weak.statusCode).toBe(304)
    const stale = await get('/brevo-conversations.js', { 'accept-encoding': 'gzip', 'if-none-match': '"someOlderVersion"' })
    expect(stale.statusCode).toBe(200)
    // The gzip copy's tag names another representation than the brotli one this client gets now.
    const otherEncoding = await get('/brevo-conversations.js', { 'accept-encoding': 'br', 'if-none-match': String(first.headers.etag) })
    expect(otherEncoding.statusCode).toBe(200)
    expect(otherEncoding.headers['content-encoding']).toBe('br')
  })

  it('speaks the protocol version, close codes and ping interval of the server', () => {
    expect(widgetProtocol.PROTOCOL_VERSION).toBe(PROTOCOL_VERSION)
    expect(widgetProtocol.WIDGET_PING_MS).toBe(WIDGET_PING_MS)
    expect(widgetProtocol.FINAL_CLOSE_CODES.sort()).toEqual(
      [CloseCode.bindingRefused, CloseCode.originRefused, CloseCode.unknownWidget].sort(),
    )
  })
})

describe('Accept-Encoding', () => {
  it('honours q-values, wildcards and explicit refusals', () => {
    expect(acceptsEncoding(undefined, 'gzip')).toBe(false)
    expect(acceptsEncoding('gzip, br', 'br')).toBe(true)
    expect(acceptsEncoding('GZIP;q=0.5', 'gzip')).toBe(true)
    expect(acceptsEncoding('gzip;q=0', 'gzip')).toBe(false)
    expect(acceptsEncoding('*', 'br')).toBe(true)
    expect(acceptsEncoding('*;q=0, gzip', 'br')).toBe(false)
    expect(acceptsEncoding('*, br;q=0', 'br')).toBe(false)
  })
})

describe('the demo page', () => {
  let parley: RunningParley

  beforeAll(async () => {
    parley = await startParley('sqlite', { backgroundJobs: false })
  })
  afterAll(() => parley?.close())

  /** The page's one inline script, and the CSP hash it must match. */
  function inlineScript(html: string): string {
    const match = /<script>([\s\S]*?)<\/script>/.exec(html)
    if (!match) throw new Error('no inline script')
    return match[1]
  }

  it("embeds the first account's widget with Brevo's snippet, changed only in id and address", async () => {
    const response = await parley.app.inject({ method: 'GET', url: '/demo', headers: { host: 'chat.example:8080' } })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8')
    const script = inlineScript(response.body)
    expect(script).toBe(
      [
        '',
        '(function(d, w, c) {',
        `  w.BrevoConversationsID = "${parley.widgetId}";`,
        '  w[c] = w[c] || function() { (w[c].q = w[c].q || []).push(arguments); };',
        "  var s = d.createElement('script'); s.async = true;",
        '  s.src = "//chat.example:8080/brevo-conversations.js";',
        '  if (d.head) d.head.appendChild(s);',
        "})(document, window, 'BrevoConversations');",
        '',
      ].join('\n'),
    )
    const hash = createHash('sha256').update(script).digest('base64')
    expect(response.headers['content-security-policy']).toContain(`script-src 'self' 'sha256-${hash}'`)
    // The page shows the snippet it runs.
    expect(response.body).toContain('w.BrevoConversationsID = &#34;')
  })

  it('takes another widget id and the binding parameters, which reach BrevoConversationsSetup', async () => {
    const other = await parley.createAccount('Other shop')
    const url = `/demo?widgetId=${other.widgetId}&visitorId=user-42&visitorIdSignature=abc123&groupId=sales`
    const response = await parley.app.inject({ method: 'GET', url })
    const script = inlineScript(response.body)
    expect(script).toContain(`w.BrevoConversationsID = "${other.widgetId}";`)
    expect(script).toContain(
      'window.BrevoConversationsSetup = {"visitorId":"user-42","visitorIdSignature":"abc123","groupId":"sales"};',
    )
  })

  it('cannot be made to run script through its parameters', async () => {
    const hostile = '</script><script>alert(1)</script>'
    const response = await parley.app.inject({ method: 'GET', url: `/demo?visitorId=${encodeURIComponent(hostile)}` })
    expect(response.statusCode).toBe(200)
    expect(response.body).not.toContain(hostile)
    expect(response.body.match(/<script>/g)).toHaveLength(1)
    expect(inlineScript(response.body)).toContain('"visitorId":"\\u003c/script>\\u003cscript>alert(1)\\u003c/script>"')
    const badHost = await parley.app.inject({ method: 'GET', url: '/demo', headers: { host: 'x"><script>' } })
    expect(badHost.body).not.toContain('x"><script>')
  })

  it('refuses a malformed widget id with a clear error', async () => {
    const response = await parley.app.inject({ method: 'GET', url: '/demo?widgetId=%3Cb%3E' })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ code: expect.any(String), message: expect.stringContaining('widgetId') })
  })

  it('says how to create an account when there is none', async () => {
    const ctx = await createContext({ ...loadConfig({}), databaseUrl: 'sqlite::memory:', logLevel: 'silent' })
    const app = await buildApp(ctx)
    try {
      const response = await app.inject({ method: 'GET', url: '/demo' })
      expect(response.statusCode).toBe(404)
      expect(response.body).toContain('npx parley accounts create')
    } finally {
      await app.close()
      await ctx.close()
    }
  })
})
