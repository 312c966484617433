// `BrevoConversationsSetup` (or `SibConversationsSetup`) read defensively: a site's typo must
// never break the widget, so an unusable value falls back to the default.

export type ButtonPosition = 'bl' | 'bc' | 'br' | 'lt' | 'lm' | 'lb' | 'rt' | 'rm' | 'rb'

export interface Colors {
  buttonText: string
  buttonBg: string
  visitorBubbleBg: string
  agentBubbleBg: string
}

export interface Appearance {
  buttonStyle: 'round' | 'tab'
  buttonPosition: ButtonPosition
  /** Round button diameter in px (Brevo: default 60; the tab ignores it). */
  buttonSize: number
  chatWidth: number
  chatHeight: number
  zIndex: number
  colors: Colors
}

export interface Setup {
  visitorId?: string
  /** Parley's own key: hex HMAC-SHA256 of `visitorId` with the account's identity secret. */
  visitorIdSignature?: string
  groupId?: string
  customWidgetButton?: string
  startHidden: boolean
  language: string
  appearance: Appearance
}

const POSITIONS = ['bl', 'bc', 'br', 'lt', 'lm', 'lb', 'rt', 'rm', 'rb']

export const DEFAULT_COLORS: Colors = {
  buttonText: '#ffffff',
  buttonBg: '#1f5fbf',
  visitorBubbleBg: '#1f5fbf',
  agentBubbleBg: '#eef0f3',
}

function text(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value)
  return typeof value === 'string' && value.trim() ? value.trim() : undefined
}

/** A whole number of px within bounds, or the fallback. */
export function pixels(value: unknown, fallback: number, min: number, max: number): number {
  const n = typeof value === 'string' ? parseFloat(value) : value
  return typeof n === 'number' && isFinite(n) ? Math.round(Math.min(max, Math.max(min, n))) : fallback
}

export function buttonPosition(value: unknown, fallback: ButtonPosition): ButtonPosition {
  return POSITIONS.includes(value as string) ? (value as ButtonPosition) : fallback
}

/** Only real CSS colours get through, so a colour can never smuggle other CSS in. */
export function colors(value: unknown, current: Colors): Colors {
  const next = { ...current }
  if (value && typeof value === 'object') {
    for (const key of Object.keys(next) as Array<keyof Colors>) {
      const color = (value as Record<string, unknown>)[key]
      if (typeof color === 'string' && CSS.supports('color', color)) next[key] = color
    }
  }
  return next
}

export function readSetup(raw: unknown): Setup {
  const s = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>
  return {
    visitorId: text(s.visitorId),
    visitorIdSignature: text(s.visitorIdSignature),
    groupId: text(s.groupId),
    customWidgetButton: text(s.customWidgetButton),
    startHidden: s.startHidden === true,
    language: text(s.language) ?? (document.documentElement.lang || navigator.language || 'en'),
    appearance: {
      buttonStyle: s.buttonStyle === 'tab' ? 'tab' : 'round',
      buttonPosition: buttonPosition(s.buttonPosition, 'br'),
      buttonSize: pixels(s.buttonSize, 60, 32, 120),
      chatWidth: pixels(s.chatWidth, 380, 280, 1200),
      chatHeight: pixels(s.chatHeight, 560, 320, 1600),
      zIndex: pixels(s.zIndex, 9999, -2147483647, 2147483647),
      colors: colors(s.colors, DEFAULT_COLORS),
    },
  }
}

/** Black or white, whichever reads better on `background` (any CSS colour the browser knows). */
export function readableOn(background: string): string {
  return (inks[background] ??= ink(background))
}

const inks: Record<string, string> = {}

function ink(background: string): string {
  const probe = document.createElement('canvas').getContext('2d')
  if (!probe) return '#000'
  probe.fillStyle = background
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(probe.fillStyle)
  if (!hex) return '#000'
  const [r, g, b] = hex.slice(1).map((h) => parseInt(h, 16))
  return r * 0.299 + g * 0.587 + b * 0.114 > 150 ? '#1d2129' : '#ffffff'
}
