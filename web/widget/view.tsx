import type { ShownMessage } from './conversation.js'
import type { Session } from './session.js'
import { MAX_TEXT } from './session.js'
import type { Appearance } from './setup.js'
import type { Translate } from './strings.js'

export interface ViewProps {
  session: Session
  t: Translate
  /** The page's language, for dates and times (the widget's own words may fall back to English). */
  language: string
  appearance: Appearance
  /** Text colours chosen for contrast on the configured backgrounds. */
  ink: { visitor: string; agent: string }
  open: boolean
  /** `customWidgetButton` replaces our launcher. */
  customButton: boolean
  unread: number
  draft: string
  /** The e-mail the visitor left, once they did. */
  email: string | undefined
  onToggle(open: boolean): void
  onDraft(text: string): void
  onSend(): void
  onRetry(clientId: string): void
  onEmail(email: string): void
  refs: { launcher(el: HTMLButtonElement | null): void; log(el: HTMLElement | null): void; composer(el: HTMLTextAreaElement | null): void }
}

const ChatIcon = () => (
  <svg viewBox="0 0 24 24" aria-hidden="true">
    <path fill="currentColor" d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z" />
  </svg>
)

const CloseIcon = () => (
  <svg viewBox="0 0 24 24" aria-hidden="true">
    <path stroke="currentColor" stroke-width="2.2" stroke-linecap="round" d="M6 6l12 12M18 6L6 18" />
  </svg>
)

const SendIcon = () => (
  <svg viewBox="0 0 24 24" aria-hidden="true">
    <path fill="currentColor" d="M3 20.5v-7l12-1.5-12-1.5v-7L22 12z" />
  </svg>
)

function isWebAddress(value: string | undefined): value is string {
  return !!value && /^https?:\/\//i.test(value)
}

function clock(time: number, language: string): string {
  const date = new Date(time)
  const today = date.toDateString() === new Date().toDateString()
  const options: Intl.DateTimeFormatOptions = today
    ? { hour: '2-digit', minute: '2-digit' }
    : { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }
  try {
    return date.toLocaleString(language, options)
  } catch {
    return date.toLocaleString(undefined, options)
  }
}

function Message({ m, previous, props }: { m: ShownMessage; previous: ShownMessage | undefined; props: ViewProps }) {
  const { t, language } = props
  const agent = m.type === 'agent'
  // Name and avatar once per run of messages from the same agent.
  const first = !previous || previous.type !== m.type || previous.agentName !== m.agentName
  const name = m.agentName || ''
  return (
    <div
      class={`msg ${m.type}${m.state ? ` ${m.state}` : ''}${first ? ' first' : ''}`}
      data-message-id={m.id}
      data-type={m.type}
    >
      {agent &&
        (first ? (
          isWebAddress(m.agentUserpic) ? (
            <img class="avatar" src={m.agentUserpic} alt="" />
          ) : (
            <span class="avatar" aria-hidden="true">
              {(name.trim()[0] || '?').toUpperCase()}
            </span>
          )
        ) : (
          <span class="avatar gap" />
        ))}
      <div class="body">
        {agent && first && name && <div class="name">{name}</div>}
        <div class="bubble">
          {m.text}
          {m.file &&
            (isWebAddress(m.file.link) ? (
              <a class="file" href={m.file.link} target="_blank" rel="noopener noreferrer">
                {m.file.name}
              </a>
            ) : (
              <span class="file">{m.file.name}</span>
            ))}
        </div>
        <div class="meta">
          {m.state === 'sending' && t('sending')}
          {m.state === 'failed' && (
            <>
              {t('failed')}{' '}
              <button type="button" class="retry" onClick={() => props.onRetry(m.clientId!)}>
                {t('retry')}
              </button>
            </>
          )}
          {!m.state && <time dateTime={new Date(m.createdAt).toISOString()}>{clock(m.createdAt, language)}</time>}
          {m.editedAt && !m.state && ` · ${t('edited')}`}
        </div>
      </div>
    </div>
  )
}

function AwayForm({ props }: { props: ViewProps }) {
  const { t, email } = props
  if (email) {
    return (
      <p class="away" role="status">
        {t('thanks', { email })}
      </p>
    )
  }
  return (
    <form
      class="away"
      onSubmit={(event) => {
        event.preventDefault()
        const input = (event.currentTarget as HTMLFormElement).elements.namedItem('email') as HTMLInputElement
        if (input.value.trim()) props.onEmail(input.value.trim())
      }}
    >
      <label for="parley-email">{t('leaveEmail')}</label>
      <div class="row">
        <input id="parley-email" name="email" type="email" required maxLength={254} autoComplete="email" placeholder={t('email')} />
        <button type="submit" class="save">
          {t('save')}
        </button>
      </div>
    </form>
  )
}

function Panel({ props }: { props: ViewProps }) {
  const { session, t, open } = props
  const items = session.conversation.items
  const online = session.agents.length > 0
  const title = session.accountName || t('chat')
  const status = session.problem ? '' : !session.connected ? t('connecting') : online ? t('online') : t('away')
  const typingName = session.agentTyping
  return (
    <section
      id="parley-panel"
      class="panel"
      role="dialog"
      aria-label={title}
      hidden={!open}
      onKeyDown={(event) => {
        // Escape while an input method composes cancels the composition, not the chat.
        if (event.key === 'Escape' && !event.isComposing && event.keyCode !== 229) {
          event.stopPropagation()
          props.onToggle(false)
        }
      }}
    >
      <header class={online && session.connected ? 'on' : ''}>
        <div class="title">
          <h2>{title}</h2>
          <span class="status">
            <span class="dot" aria-hidden="true" />
            {status}
          </span>
        </div>
        <button type="button" class="x" aria-label={t('close')} onClick={() => props.onToggle(false)}>
          <CloseIcon />
        </button>
      </header>
      {session.problem ? (
        <p class="notice error" role="alert">
          {t(session.problem)}
        </p>
      ) : (
        <>
          {session.slowDown > 0 && (
            <p class="notice" role="alert">
              {t('tooFast', { n: session.slowDown })}
            </p>
          )}
          {!session.connected && session.welcomed && !navigator.onLine && (
            <p class="notice" role="status">
              {t('offline')}
            </p>
          )}
          <div class="log" role="log" aria-live="polite" aria-label={t('messages')} tabIndex={0} ref={props.refs.log}>
            {items.map((m, i) => (
              <Message key={m.clientId ?? m.id} m={m} previous={items[i - 1]} props={props} />
            ))}
          </div>
          <p class="typing" aria-live="polite">
            {typingName !== undefined && t('typing', { name: typingName || t('someone') })}
          </p>
          {session.connected && !online && <AwayForm props={props} />}
          <form
            class="compose"
            onSubmit={(event) => {
              event.preventDefault()
              props.onSend()
            }}
          >
            <textarea
              ref={props.refs.composer}
              rows={1}
              maxLength={MAX_TEXT}
              aria-label={t('write')}
              placeholder={t('write')}
              value={props.draft}
              onInput={(event) => props.onDraft((event.currentTarget as HTMLTextAreaElement).value)}
              onKeyDown={(event) => {
                // Enter sends, Shift+Enter breaks the line; never while an IME is composing a word.
                if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
                  event.preventDefault()
                  props.onSend()
                }
              }}
            />
            <button type="submit" class="send" aria-label={t('send')}>
              <SendIcon />
            </button>
          </form>
        </>
      )}
    </section>
  )
}

export function View(props: ViewProps) {
  const { appearance: a, ink, t, open, unread } = props
  const style = {
    '--z': String(a.zIndex),
    '--size': `${a.buttonSize}px`,
    '--w': `${a.chatWidth}px`,
    '--h': `${a.chatHeight}px`,
    '--bg': a.colors.buttonBg,
    '--fg': a.colors.buttonText,
    '--vb': a.colors.visitorBubbleBg,
    '--vt': ink.visitor,
    '--ab': a.colors.agentBubbleBg,
    '--at': ink.agent,
  }
  const label = open ? t('close') : unread > 0 ? `${t('open')} (${t('unread', { n: unread })})` : t('open')
  const edge = a.buttonPosition[0] === 'b' ? 'bottom' : 'side'
  return (
    <div class={`root ${a.buttonStyle} p-${a.buttonPosition} ${edge}${open ? ' open' : ''}`} lang={t('lang')} style={style}>
      {!props.customButton && (
        <button
          type="button"
          class="launcher"
          ref={props.refs.launcher}
          aria-label={label}
          aria-expanded={open}
          aria-controls="parley-panel"
          onClick={() => props.onToggle(!open)}
        >
          {open && a.buttonStyle === 'round' ? <CloseIcon /> : <ChatIcon />}
          {a.buttonStyle === 'tab' && <span>{t('chat')}</span>}
          {!open && unread > 0 && (
            <span class="badge" aria-hidden="true">
              {unread > 99 ? '99+' : unread}
            </span>
          )}
        </button>
      )}
      <Panel props={props} />
    </div>
  )
}
