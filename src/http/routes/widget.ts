import { createHash } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { Type, type Static } from 'typebox'
import type { AppContext } from '../../context.js'
import { listAccounts } from '../../services/accounts.js'
import { widgetBundle, type WidgetBundle } from '../widget-bundle.js'

// The visitor widget's script under both of Brevo's names, and /demo, a page that embeds it with
// Brevo's own snippet. Public: no api-key, and any site may load the script (CORP cross-origin).

const SCRIPT_PATHS = ['/brevo-conversations.js', '/sib-conversations.js']

/** Short, so a new Parley version reaches visitors within minutes; the ETag makes revalidation cheap. */
const SCRIPT_CACHE = 'public, max-age=300, must-revalidate'

type Encoding = 'br' | 'gzip' | 'identity'

/** Whether `Accept-Encoding` admits `coding` (an explicit entry wins over `*`; `q=0` refuses). */
export function acceptsEncoding(header: string | undefined, coding: string): boolean {
  if (!header) return false
  let wildcard: boolean | undefined
  for (const part of header.split(',')) {
    const [name, ...params] = part.split(';').map((s) => s.trim().toLowerCase())
    const q = params.find((p) => p.startsWith('q='))
    const accepted = q === undefined || Number(q.slice(2)) > 0
    if (name === coding) return accepted
    if (name === '*') wildcard = accepted
  }
  return wildcard ?? false
}

function etag(bundle: WidgetBundle, encoding: Encoding): string {
  return `"${bundle.hash}${encoding === 'identity' ? '' : `-${encoding}`}"`
}

/**
 * If-None-Match with the weak comparison (a `W/` prefix is ignored): fresh when the client holds
 * the very representation it would get now. Another encoding's tag is another representation: a
 * 304 for it would name a tag that no cache keyed on Accept-Encoding holds.
 */
function notModified(request: FastifyRequest, current: string): boolean {
  const header = request.headers['if-none-match']
  if (!header) return false
  const tags = header.split(',').map((tag) => tag.trim().replace(/^W\//, ''))
  return tags.includes('*') || tags.includes(current)
}

async function sendScript(ctx: AppContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  let bundle: WidgetBundle
  try {
    bundle = await widgetBundle()
  } catch (err) {
    ctx.logger.error({ err }, 'the widget bundle could not be built')
    throw err
  }
  const accept = request.headers['accept-encoding']
  const encoding: Encoding = acceptsEncoding(accept, 'br') ? 'br' : acceptsEncoding(accept, 'gzip') ? 'gzip' : 'identity'
  const tag = etag(bundle, encoding)
  reply
    .header('content-type', 'text/javascript; charset=utf-8')
    .header('cache-control', SCRIPT_CACHE)
    .header('etag', tag)
    .header('vary', 'Accept-Encoding')
    .header('cross-origin-resource-policy', 'cross-origin')
    .header('access-control-allow-origin', '*')
    .header('x-content-type-options', 'nosniff')
  if (notModified(request, tag)) return reply.code(304).send()
  if (encoding !== 'identity') reply.header('content-encoding', encoding)
  return reply.send(encoding === 'br' ? bundle.br : encoding === 'gzip' ? bundle.gzip : bundle.identity)
}

const Id = Type.String({ minLength: 1, maxLength: 128 })
const DemoQuery = Type.Object({
  widgetId: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })),
  visitorId: Type.Optional(Id),
  visitorIdSignature: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  groupId: Type.Optional(Id),
})
type DemoQuery = Static<typeof DemoQuery>

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** A JavaScript literal that is also safe inside an inline <script>. */
function jsLiteral(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
}

/** Brevo's install snippet (spec section 6) with only the widget id and the script address changed. */
export function installSnippet(widgetId: string, scriptUrl: string, setup: Record<string, string>): string {
  const lines: string[] = []
  if (Object.keys(setup).length > 0) lines.push(`window.BrevoConversationsSetup = ${jsLiteral(setup)};`)
  lines.push(
    '(function(d, w, c) {',
    `  w.BrevoConversationsID = ${jsLiteral(widgetId)};`,
    '  w[c] = w[c] || function() { (w[c].q = w[c].q || []).push(arguments); };',
    "  var s = d.createElement('script'); s.async = true;",
    `  s.src = ${jsLiteral(scriptUrl)};`,
    '  if (d.head) d.head.appendChild(s);',
    "})(document, window, 'BrevoConversations');",
  )
  return lines.join('\n')
}

function page(title: string, body: string, snippet = ''): { html: string; csp: string } {
  const script = snippet && `\n${snippet}\n`
  const scriptHash = createHash('sha256').update(script).digest('base64')
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font:16px/1.55 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1d2129}
pre{background:#f3f4f6;padding:1rem;border-radius:8px;overflow-x:auto;font-size:13px}
code{font-family:ui-monospace,Menlo,Consolas,monospace}
</style>
${script ? `<script>${script}</script>\n` : ''}</head>
<body>
${body}
</body>
</html>
`
  // The page allows exactly its own snippet and Parley's script: the widget works under a strict CSP.
  const csp = [
    "default-src 'none'",
    `script-src 'self' 'sha256-${scriptHash}'`,
    "style-src 'unsafe-inline'",
    "img-src 'self' https: data:",
    "connect-src 'self' ws: wss:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
  return { html, csp }
}

/** The host the browser used, if it is a plain host[:port]; otherwise the configured public one. */
function requestHost(ctx: AppContext, request: FastifyRequest): string {
  const host = request.host
  return /^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9A-Fa-f:.]+\](:\d+)?$/.test(host) ? host : new URL(ctx.config.publicUrl).host
}

async function sendDemo(ctx: AppContext, request: FastifyRequest<{ Querystring: DemoQuery }>, reply: FastifyReply): Promise<FastifyReply> {
  const { widgetId: asked, ...setupParams } = request.query
  const widgetId = asked ?? (await listAccounts(ctx))[0]?.widgetId
  reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').header('x-content-type-options', 'nosniff')
  if (!widgetId) {
    const { html, csp } = page(
      'Parley widget demo',
      '<h1>No account yet</h1>\n<p>Create one with <code>npx parley accounts create "My site"</code>, then reload this page.</p>',
    )
    return reply.code(404).header('content-security-policy', csp).type('text/html; charset=utf-8').send(html)
  }
  const setup: Record<string, string> = {}
  for (const [key, value] of Object.entries(setupParams)) if (value !== undefined) setup[key] = value
  // Protocol-relative: the page's own scheme, also behind a proxy that terminates TLS.
  const snippet = installSnippet(widgetId, `//${requestHost(ctx, request)}/brevo-conversations.js`, setup)
  const body = `<h1>Parley widget demo</h1>
<p>This page embeds Parley's visitor chat exactly as a website would: with Brevo's install snippet, in which only
the script address and the widget id are changed. Open the chat with the button in the corner or with a
<a href="#brevoConversationsExpanded">link to #brevoConversationsExpanded</a>, write a message, and answer it
through the Conversations API (<a href="/docs">API docs</a>).</p>
<p>Widget id: <code>${escapeHtml(widgetId)}</code>. Other parameters of this page: <code>?widgetId=</code> (another
account), <code>?visitorId=</code> with <code>&amp;visitorIdSignature=</code> (bind the chat to a signed-in user;
the signature is the hex HMAC-SHA256 of the visitorId with the account's identity secret, required when verified
binding is on) and <code>?groupId=</code>.</p>
<h2>The snippet on this page</h2>
<pre><code>${escapeHtml(`<script>\n${snippet}\n</script>`)}</code></pre>`
  const { html, csp } = page('Parley widget demo', body, snippet)
  return reply.header('content-security-policy', csp).type('text/html; charset=utf-8').send(html)
}

export function widgetRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    // Build while the server starts, so the first visitor does not wait; a failure is logged here
    // and retried on the first request.
    app.addHook('onReady', async () => {
      widgetBundle().catch((err: unknown) => ctx.logger.error({ err }, 'the widget bundle could not be built'))
    })
    for (const path of SCRIPT_PATHS) {
      app.get(path, { schema: { hide: true } }, (request, reply) => sendScript(ctx, request, reply))
    }
    app.get('/demo', { schema: { hide: true, querystring: DemoQuery } }, (request, reply) =>
      sendDemo(ctx, request as FastifyRequest<{ Querystring: DemoQuery }>, reply),
    )
  }
}
