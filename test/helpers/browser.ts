import { existsSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chromium, type Browser, type Page } from 'playwright-core'
import { describe, expect } from 'vitest'

// Chromium from the system (Debian's package), driven by playwright-core: never a browser download.
export const CHROMIUM_PATH = process.env.PARLEY_TEST_CHROMIUM || '/usr/bin/chromium'

const chromiumPresent = existsSync(CHROMIUM_PATH)
const inCi = process.env.CI === 'true'

if (!chromiumPresent && !inCi) {
  console.warn(`Chromium is not installed at ${CHROMIUM_PATH} (set PARLEY_TEST_CHROMIUM): the browser suites are skipped`)
}

/**
 * A suite that needs Chromium: skipped with a visible line without it, except under CI=true, where
 * it runs and fails. Browser tests wait on a real server and a real page, so they get a minute each.
 */
export function describeBrowser(name: string, fn: () => void): void {
  ;(chromiumPresent || inCi ? describe : describe.skip)(name, { timeout: 60_000 }, fn)
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** Another website (its own origin on 127.0.0.1) whose pages embed the widget. */
export interface Site {
  origin: string
  /** Serves `html` at a new address of the site and returns that address. */
  page(html: string, headers?: Record<string, string>): string
  close(): Promise<void>
}

export async function startSite(): Promise<Site> {
  const pages = new Map<string, { html: string; headers: Record<string, string> }>()
  const server = createServer((request, response) => {
    const page = pages.get((request.url ?? '').split(/[?#]/)[0])
    if (!page) return void response.writeHead(404).end()
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...page.headers }).end(page.html)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    origin,
    page(html, headers = {}) {
      const path = `/page-${pages.size + 1}.html`
      pages.set(path, { html, headers })
      return origin + path
    },
    close() {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

// ---- the visitor widget, seen from the page ---------------------------------------------------

/** A message as the visitor sees it in the widget. */
export interface ShownMessage {
  /** `data-message-id`: the REST id; null while the message is still being sent. */
  id: string | null
  type: string
  text: string
  edited: boolean
  /** The status line under the bubble ("Sending…", "Not sent. Retry", or the time). */
  status: string
}

/** Every message element in the widget's shadow root, in document order. */
export function shownMessages(page: Page): Promise<ShownMessage[]> {
  return page.evaluate(() => {
    const root = document.getElementById('parley-widget')?.shadowRoot
    return [...(root?.querySelectorAll<HTMLElement>('[data-type]') ?? [])].map((el) => ({
      id: el.getAttribute('data-message-id'),
      type: el.getAttribute('data-type') ?? '',
      text: el.querySelector('.bubble')?.textContent ?? '',
      edited: / · edited$/.test(el.querySelector('.meta')?.textContent ?? ''),
      status: el.querySelector('.meta')?.textContent ?? '',
    }))
  })
}

/** Polls `read` until the assertion chained on the result holds (15 s, generous for a busy machine). */
export function eventually<T>(read: () => Promise<T> | T) {
  return expect.poll(read, { timeout: 15_000, interval: 100 })
}

/** Locators inside the widget (Playwright's CSS locators pierce the open shadow root). */
export function widget(page: Page) {
  const host = page.locator('#parley-widget')
  return {
    host,
    launcher: host.locator('.launcher'),
    panel: host.locator('.panel'),
    composer: host.locator('textarea'),
    status: host.locator('header .status'),
    notice: host.locator('.notice'),
    messages: host.locator('[data-type]'),
  }
}

export async function openChat(page: Page): Promise<void> {
  const w = widget(page)
  await w.launcher.click()
  await w.panel.waitFor({ state: 'visible' })
}

/** Types `text` into the widget and presses Enter. */
export async function say(page: Page, text: string): Promise<void> {
  const w = widget(page)
  await w.composer.fill(text)
  await w.composer.press('Enter')
}
