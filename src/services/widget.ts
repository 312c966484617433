import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { AppError, InvalidParameterError, NotFoundError } from '../domain/errors.js'
import { generateVisitorId } from '../domain/ids.js'
import type { Account, WidgetSettings } from '../domain/model.js'
import type { ServiceDeps } from './deps.js'

/** A visitorId binding that verified binding refuses: unsigned, or signed with another secret. */
export class BindingRefusedError extends AppError {
  name = 'BindingRefusedError'
  constructor(message: string) {
    super('permission_denied', message)
  }
}

function mintSecret(): string {
  return randomBytes(32).toString('base64url')
}

/**
 * The account's widget settings with both secrets present: an account created before realtime
 * existed gets them minted on first use. Two processes minting at once both write; the second
 * write wins and tokens signed by the first stop verifying, which only makes those visitors new
 * again once, so no lock is taken for it.
 */
export async function loadWidgetSettings(deps: ServiceDeps, accountId: string): Promise<WidgetSettings> {
  const settings = await deps.storage.read.accounts.getWidgetSettings(accountId)
  if (!settings) throw new NotFoundError(`Account "${accountId}" not found`)
  if (settings.tokenSecret && settings.identitySecret) return settings
  const minted = {
    tokenSecret: settings.tokenSecret || mintSecret(),
    identitySecret: settings.identitySecret || mintSecret(),
  }
  await deps.storage.transaction((tx) => tx.accounts.updateWidgetSettings(accountId, minted))
  return { ...settings, ...minted }
}

export interface WidgetSettingsChanges {
  verifiedBinding?: boolean
  allowedOrigins?: string[]
  /** Mint a new identity secret; sites signing with the old one are refused from then on. */
  rotateIdentitySecret?: boolean
}

/** Normalises `https://Shop.example/` to `https://shop.example`; refuses what is not an origin. */
export function normaliseOrigin(value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new InvalidParameterError(`"${value}" is not an origin such as https://shop.example`)
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.pathname.length > 1 || url.search || url.hash) {
    throw new InvalidParameterError(`"${value}" is not an origin such as https://shop.example`)
  }
  return url.origin
}

/** `parley accounts identity-secret` and `parley accounts origins`. */
export async function updateWidgetSettings(
  deps: ServiceDeps,
  accountId: string,
  changes: WidgetSettingsChanges,
): Promise<WidgetSettings> {
  const current = await loadWidgetSettings(deps, accountId)
  const next: WidgetSettings = {
    ...current,
    verifiedBinding: changes.verifiedBinding ?? current.verifiedBinding,
    allowedOrigins: changes.allowedOrigins ? [...new Set(changes.allowedOrigins.map(normaliseOrigin))] : current.allowedOrigins,
    identitySecret: changes.rotateIdentitySecret ? mintSecret() : current.identitySecret,
  }
  await deps.storage.transaction((tx) => tx.accounts.updateWidgetSettings(accountId, next))
  const cache = widgetCache(deps)
  for (const [widgetId, entry] of cache) if (entry.value.account.id === accountId) cache.delete(widgetId)
  return next
}

/** What a site computes server-side to bind a visitor under verified binding: hex HMAC-SHA256. */
export function signVisitorId(identitySecret: string, visitorId: string): string {
  return createHmac('sha256', identitySecret).update(visitorId).digest('hex')
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

const TOKEN_VERSION = 'v1'

function tokenMac(tokenSecret: string, accountId: string, visitorId: string): string {
  return createHmac('sha256', tokenSecret).update(`${accountId}\n${visitorId}`).digest('base64url').slice(0, 32)
}

/**
 * The browser's proof of which visitor it is: `v1.<visitorId>.<mac>`. Stateless, so a page view
 * costs no write; it names one account's visitor and cannot be forged without the token secret.
 */
export function issueVisitorToken(tokenSecret: string, accountId: string, visitorId: string): string {
  return `${TOKEN_VERSION}.${Buffer.from(visitorId).toString('base64url')}.${tokenMac(tokenSecret, accountId, visitorId)}`
}

/** The visitor a token names, or undefined for a token this account did not issue. */
export function readVisitorToken(tokenSecret: string, accountId: string, token: string): string | undefined {
  const [version, encodedId, mac, ...rest] = token.split('.')
  if (version !== TOKEN_VERSION || !encodedId || !mac || rest.length > 0) return undefined
  const visitorId = Buffer.from(encodedId, 'base64url').toString()
  if (!visitorId || !sameText(mac, tokenMac(tokenSecret, accountId, visitorId))) return undefined
  return visitorId
}

export interface WidgetAccount {
  account: Account
  settings: WidgetSettings
}

/**
 * How long a process reuses an account's widget settings. Every page view opens a socket, so this
 * saves two queries per view and one object per connection; a change made in this process applies
 * at once, one made elsewhere within this time.
 */
export const WIDGET_CACHE_MS = 5_000
const WIDGET_CACHE_SIZE = 10_000

// One cache per storage, so that every context (and every test) has its own.
const widgetCaches = new WeakMap<object, Map<string, { value: WidgetAccount; until: number }>>()

function widgetCache(deps: ServiceDeps): Map<string, { value: WidgetAccount; until: number }> {
  let cache = widgetCaches.get(deps.storage)
  if (!cache) widgetCaches.set(deps.storage, (cache = new Map()))
  return cache
}

/** The account behind a public widget id. */
export async function findWidgetAccount(deps: ServiceDeps, widgetId: string): Promise<WidgetAccount> {
  const cache = widgetCache(deps)
  const now = Date.now()
  const cached = cache.get(widgetId)
  if (cached && cached.until > now) return cached.value
  const account = await deps.storage.read.accounts.getByWidgetId(widgetId)
  if (!account) throw new NotFoundError(`No account has the widget id "${widgetId}"`)
  const value = { account, settings: await loadWidgetSettings(deps, account.id) }
  if (cache.size >= WIDGET_CACHE_SIZE) cache.delete(cache.keys().next().value!)
  cache.set(widgetId, { value, until: now + WIDGET_CACHE_MS })
  return value
}

/** An empty allow-list admits every page; otherwise the socket's Origin must be on it. */
export function originAllowed(settings: WidgetSettings, origin: string | undefined): boolean {
  if (settings.allowedOrigins.length === 0) return true
  return origin !== undefined && settings.allowedOrigins.includes(origin)
}

export interface VisitorIdentityRequest {
  visitorToken?: string
  visitorId?: string
  visitorIdSignature?: string
}

export interface VisitorIdentity {
  visitorId: string
  visitorToken: string
  /** The token named this same visitor, so a `lastSeq` from this browser applies. */
  continued: boolean
}

/**
 * Who is at the widget. A site-given `visitorId` wins (Brevo's binding of a logged-in user); under
 * verified binding it must carry the site's signature, and a missing or wrong one is refused
 * outright rather than falling back to an anonymous visitor. Otherwise the browser's token names
 * the visitor, and without a valid token a new visitor begins.
 */
export function identifyVisitor(ctx: WidgetAccount, request: VisitorIdentityRequest): VisitorIdentity {
  const { account, settings } = ctx
  const fromToken = request.visitorToken ? readVisitorToken(settings.tokenSecret, account.id, request.visitorToken) : undefined
  let visitorId: string
  if (request.visitorId !== undefined) {
    if (settings.verifiedBinding) {
      if (!request.visitorIdSignature) {
        throw new BindingRefusedError('This site requires signed visitor ids: visitorIdSignature is missing')
      }
      if (!sameText(request.visitorIdSignature.toLowerCase(), signVisitorId(settings.identitySecret, request.visitorId))) {
        throw new BindingRefusedError("visitorIdSignature does not match this visitorId and the account's identity secret")
      }
    }
    visitorId = request.visitorId
  } else {
    visitorId = fromToken ?? generateVisitorId()
  }
  return {
    visitorId,
    visitorToken: issueVisitorToken(settings.tokenSecret, account.id, visitorId),
    continued: fromToken === visitorId,
  }
}
