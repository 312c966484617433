import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { AppContext } from '../context.js'
import { lazyRequestLogger, type Logger } from '../logger.js'
import { AppError, UnauthorizedError } from '../domain/errors.js'
import { authenticateCachedKey, authenticateKey } from '../services/accounts.js'
import { clientErrorHandler, errorHandler, sendError } from './errors.js'
import { createRateLimiter } from './rate-limit.js'
import { MAX_ID_LENGTH } from './schemas.js'
import { conversationRoutes } from './routes/conversations.js'
import { healthRoutes } from './routes/health.js'
import { webhookRoutes } from './routes/webhooks.js'
import { widgetRoutes } from './routes/widget.js'
import { realtimeRoutes } from '../realtime/gateway.js'

declare module 'fastify' {
  interface FastifyRequest {
    accountId: string
  }
  interface FastifyContextConfig {
    /** The route needs an `api-key` and runs as that key's account. */
    apiKey?: boolean
  }
}

export type App = FastifyInstance<any, any, any, any, TypeBoxTypeProvider>

/** JSON that tolerates an empty body: SDKs send `Content-Type: application/json` on GET and DELETE too. */
function parseJson(_req: FastifyRequest, body: string, done: (err: Error | null, value?: unknown) => void): void {
  if (body.length === 0) return done(null, undefined)
  try {
    done(null, JSON.parse(body))
  } catch {
    done(new AppError('bad_request', 'request body is not valid JSON'))
  }
}

/** Builds the HTTP app. It never listens: `main.ts` does, tests use `inject` or listen on port 0. */
export async function buildApp(ctx: AppContext): Promise<App> {
  // Per-request lines only at debug: at info they would cost more than the request itself.
  const requestLogging = ctx.logger.isLevelEnabled('debug')
  const app = Fastify({
    // With a logger of its own Fastify times every request and listens for its end, to log it;
    // without request logging that is pure cost. Requests still log through `request.log`, made
    // by the factory below from our logger, so errors and Fastify's warnings about a request are
    // kept; only Fastify's own lines about the server (its start) go.
    ...(requestLogging ? { loggerInstance: ctx.logger } : { logger: false }),
    // Fastify's parent carries its req/res serializers for request lines; without those lines
    // our logger (pino's own `err` serializer) is the parent.
    childLoggerFactory: ((parent: Logger, bindings: Record<string, unknown>, options: object) =>
      lazyRequestLogger(requestLogging ? parent : ctx.logger, bindings, options)) as never,
    logController: new LogController({ disableRequestLogging: !requestLogging }),
    bodyLimit: ctx.config.bodyLimit,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // The router's limit matches MessageIdParams, the one path parameter.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_ID_LENGTH },
    // A malformed or over-long URL is refused before routing; it still gets `{code, message}`.
    frameworkErrors: errorHandler,
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJson)
  app.setErrorHandler(errorHandler)

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]
    sendError(reply, new AppError('document_not_found', `No route for ${request.method} ${path}`))
  })

  // Counted per key id, and per address for refused keys (`refused:<ip>`: ids have no colon).
  const rateLimit = createRateLimiter(ctx.config.rateLimitPerMinute, () => ctx.clock.now())
  app.decorateRequest('accountId', '')
  /** The slow path of the hook below: a key this process has not seen lately. */
  async function authenticateRequest(request: FastifyRequest, reply: FastifyReply, apiKey: string | undefined): Promise<void> {
    let key: { accountId: string; keyId: string }
    try {
      key = await authenticateKey(ctx, apiKey)
    } catch (err) {
      // Refused keys count against the caller's address, so guessing keys is rate-limited too.
      if (err instanceof UnauthorizedError) rateLimit(`refused:${request.ip}`, reply)
      throw err
    }
    request.accountId = key.accountId
    rateLimit(key.keyId, reply)
  }

  // A callback hook rather than an async one: a key found in the cache costs no promise and no
  // trip through the microtask queue, on every authenticated request.
  function authenticateHook(request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
    const header = request.headers['api-key']
    const apiKey = Array.isArray(header) ? header[0] : header
    const cached = authenticateCachedKey(ctx, apiKey)
    if (!cached) {
      authenticateRequest(request, reply, apiKey).then(() => done(), done)
      return
    }
    request.accountId = cached.accountId
    // A 429 thrown here reaches the error handler like any error from a hook.
    rateLimit(cached.keyId, reply)
    done()
  }
  // Only routes marked `apiKey` get the hook, so no request pays for asking which route it is on
  // (`request.routeOptions` builds a fresh object on every read).
  app.addHook('onRoute', (route) => {
    if (!route.config?.apiKey) return
    const own = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]
    route.onRequest = [authenticateHook, ...own] as typeof route.onRequest
  })

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Parley Conversations API',
        description:
          "Brevo's Conversations API v3, served by Parley. Point an official Brevo SDK at this server's /v3 and it works unchanged.",
        version: '3.0.0',
      },
      servers: [{ url: ctx.config.publicUrl }],
      components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'api-key' } } },
      security: [{ apiKey: [] }],
      tags: [{ name: 'Conversations', description: "Brevo's Conversations endpoints" }],
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { url: '/v3/openapi.json' } as never })

  await app.register(healthRoutes(ctx))
  await app.register(widgetRoutes(ctx))
  await app.register(conversationRoutes(ctx), { prefix: '/v3/conversations' })
  await app.register(webhookRoutes(ctx), { prefix: '/parley/v1' })
  await app.register(realtimeRoutes(ctx))
  app.get('/v3/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  return app
}
