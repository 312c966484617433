// The visitor widget, loaded by Brevo's install snippet with only its address changed
// (spec section 6). One IIFE: reads the page's globals, replays the command queue, and renders
// into an open shadow root on <parley-widget id="parley-widget">.
import { render } from 'preact'
import { PROTOCOL_VERSION } from './protocol.js'
import { Session } from './session.js'
import { buttonPosition, colors, pixels, readableOn, readSetup, type Appearance, type Setup } from './setup.js'
import { openStore, type Store } from './storage.js'
import { translator, type Translate } from './strings.js'
import { CSS } from './styles.js'
import { View } from './view.js'

const HOST_ID = 'parley-widget'
const EXPAND_HASH = '#brevoConversationsExpanded'

type Globals = Record<string, any>
const w = window as unknown as Globals

/** Parley's address: where this script came from (`currentScript` is null for async scripts). */
function serverOrigin(): string {
  const own = document.currentScript as HTMLScriptElement | null
  const script =
    own?.src ? own : document.querySelector<HTMLScriptElement>('script[src*="brevo-conversations.js"],script[src*="sib-conversations.js"]')
  return new URL(script?.src || location.href).origin
}

class Widget {
  private readonly session: Session
  private readonly store: Store
  private readonly t: Translate
  private appearance: Appearance
  private open = false
  private hidden: boolean
  private draft = ''
  private host: HTMLElement | undefined
  private mount: HTMLElement | undefined
  private launcher: HTMLButtonElement | null = null
  private log: HTMLElement | null = null
  private composer: HTMLTextAreaElement | null = null
  /** Focus goes back here when the chat closes (the page's own chat button, for instance). */
  private opener: HTMLElement | undefined
  private scheduled = false
  private justOpened = false

  constructor(
    origin: string,
    widgetId: string,
    private readonly setup: Setup,
  ) {
    this.appearance = setup.appearance
    this.hidden = setup.startHidden
    this.t = translator(setup.language)
    this.store = openStore(widgetId)
    const url = `${origin.replace(/^http/, 'ws')}/ws/visitor?widgetId=${encodeURIComponent(widgetId)}&v=${PROTOCOL_VERSION}`
    this.session = new Session(url, setup, this.store, () => this.update())
  }

  start(): void {
    this.host = document.createElement('parley-widget')
    this.host.id = HOST_ID
    const shadow = this.host.attachShadow({ mode: 'open' })
    this.mount = document.createElement('div')
    shadow.append(this.mount)
    try {
      // A constructed sheet is not inline CSS, so a page whose CSP forbids inline styles still works.
      const sheet = new CSSStyleSheet()
      sheet.replaceSync(CSS)
      shadow.adoptedStyleSheets = [sheet]
    } catch {
      const style = document.createElement('style')
      style.textContent = CSS
      shadow.prepend(style)
    }
    document.body.appendChild(this.host)
    addEventListener('hashchange', this.onHash)
    document.addEventListener('click', this.onPageClick, true)
    this.session.start()
    if (location.hash === EXPAND_HASH) this.setOpen(true)
    this.paint()
  }

  /** `BrevoConversations(method, …args)`; unknown methods are ignored, as Brevo does. */
  command(method: unknown, args: unknown[]): void {
    const [value] = args
    const a = this.appearance
    switch (method) {
      case 'openChat':
        return this.setOpen(value !== false)
      case 'show':
        this.hidden = false
        break
      case 'hide':
        this.hidden = true
        break
      case 'setColors':
        this.appearance = { ...a, colors: colors(value, a.colors) }
        break
      case 'setButtonPosition':
        this.appearance = { ...a, buttonPosition: buttonPosition(value, a.buttonPosition) }
        break
      case 'setButtonSize':
        this.appearance = { ...a, buttonSize: pixels(value, a.buttonSize, 32, 120) }
        break
      case 'setChatWidth':
        this.appearance = { ...a, chatWidth: pixels(value, a.chatWidth, 280, 1200) }
        break
      case 'setChatHeight':
        this.appearance = { ...a, chatHeight: pixels(value, a.chatHeight, 320, 1600) }
        break
      case 'setZIndex':
        this.appearance = { ...a, zIndex: pixels(value, a.zIndex, -2147483647, 2147483647) }
        break
      case 'updateIntegrationData':
        if (value && typeof value === 'object') this.session.updateIntegrationData(value as Record<string, unknown>)
        return
      case 'sendAutoMessage':
        if (typeof value === 'string') this.session.sayAutomatically(value)
        return
      case 'kill':
        return this.kill()
      default:
        return
    }
    this.update()
  }

  private kill(): void {
    this.session.stop()
    removeEventListener('hashchange', this.onHash)
    document.removeEventListener('click', this.onPageClick, true)
    if (this.mount) render(null, this.mount)
    this.host?.remove()
    this.host = this.mount = undefined
    w.BrevoConversations = w.SibConversations = () => {}
    w.__parleyWidget = undefined
  }

  private setOpen(open: boolean): void {
    if (open === this.open) return
    if (open) {
      const active = document.activeElement
      this.opener = active instanceof HTMLElement && active !== this.host && active !== document.body ? active : undefined
      this.justOpened = true
    } else {
      // Back to whatever opened the chat, so keyboard users do not lose their place; a close by
      // the page's own script leaves the page's focus alone.
      const target = this.opener?.isConnected ? this.opener : this.launcher
      if (document.activeElement === this.host) setTimeout(() => target?.focus())
      this.session.typing(false)
    }
    this.open = open
    this.update()
  }

  private onHash = (): void => {
    if (location.hash === EXPAND_HASH) this.setOpen(true)
  }

  /** `<a href="#brevoConversationsExpanded">` and the `customWidgetButton` elements open the chat. */
  private onPageClick = (event: MouseEvent): void => {
    const target = event.target instanceof Element ? event.target : null
    if (!target) return
    const link = target.closest('a[href]') as HTMLAnchorElement | null
    if (link && link.hash === EXPAND_HASH && link.pathname === location.pathname) {
      event.preventDefault()
      this.setOpen(true)
      return
    }
    const selector = this.setup.customWidgetButton
    let custom: Element | null = null
    try {
      custom = selector ? target.closest(selector) : null
    } catch {
      // Not a valid selector: there is no custom button to find.
    }
    if (custom) {
      event.preventDefault()
      this.setOpen(!this.open)
    }
  }

  private update(): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.paint()
    })
  }

  private unread(): number {
    const readUpTo = this.store.read().readUpTo ?? 0
    const agent = this.session.conversation.items.filter((m) => m.type === 'agent')
    if (this.open) {
      const newest = Math.max(readUpTo, ...agent.map((m) => m.createdAt))
      if (newest > readUpTo) this.store.save({ readUpTo: newest })
      return 0
    }
    return agent.filter((m) => m.createdAt > readUpTo).length
  }

  private paint(): void {
    if (!this.mount) return
    const log = this.log
    const atBottom = !log || log.scrollHeight - log.scrollTop - log.clientHeight < 48
    const a = this.appearance
    render(
      this.hidden ? null : (
        <View
          session={this.session}
          t={this.t}
          language={this.setup.language}
          appearance={a}
          ink={{ visitor: readableOn(a.colors.visitorBubbleBg), agent: readableOn(a.colors.agentBubbleBg) }}
          open={this.open}
          customButton={!!this.setup.customWidgetButton}
          unread={this.unread()}
          draft={this.draft}
          email={this.store.read().email}
          onToggle={(open) => this.setOpen(open)}
          onDraft={(text) => {
            this.draft = text
            this.session.typing(text.length > 0)
            this.update()
          }}
          onSend={() => {
            if (!this.draft.trim()) return
            this.session.say(this.draft)
            this.draft = ''
            this.update()
          }}
          onRetry={(clientId) => this.session.retry(clientId)}
          onEmail={(email) => {
            this.store.save({ email })
            this.session.updateIntegrationData({ email })
            this.update()
          }}
          refs={{
            launcher: (el) => (this.launcher = el),
            log: (el) => (this.log = el),
            composer: (el) => (this.composer = el),
          }}
        />
      ),
      this.mount,
    )
    if (this.log && (atBottom || this.justOpened)) this.log.scrollTop = this.log.scrollHeight
    if (this.composer) {
      this.composer.style.height = ''
      this.composer.style.height = `${Math.max(40, this.composer.scrollHeight + 2)}px`
    }
    if (this.justOpened && this.open) {
      this.justOpened = false
      this.composer?.focus()
    }
  }
}

function boot(): void {
  if (w.__parleyWidget) return
  const widgetId = w.BrevoConversationsID ?? w.SibConversationsID
  if (typeof widgetId !== 'string' || !widgetId) {
    console.warn('Parley widget: window.BrevoConversationsID is not set, so there is no chat to show.')
    return
  }
  const widget = new Widget(serverOrigin(), widgetId, readSetup(w.BrevoConversationsSetup ?? w.SibConversationsSetup))
  w.__parleyWidget = widget
  const queued: ArrayLike<unknown>[] = [...(w.BrevoConversations?.q ?? []), ...(w.SibConversations?.q ?? [])]
  w.BrevoConversations = w.SibConversations = (method: unknown, ...args: unknown[]) => widget.command(method, args)
  const begin = () => {
    widget.start()
    for (const call of queued) widget.command(call[0], Array.prototype.slice.call(call, 1))
  }
  if (document.body) begin()
  else document.addEventListener('DOMContentLoaded', begin)
}

boot()
