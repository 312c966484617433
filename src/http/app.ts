import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify'
import type { AppContext } from '../context.js'
import { AppError, UnauthorizedError } from '../domain/errors.js'
import { authenticateKey } from '../services/accounts.js'
import { clientErrorHandler, errorHandler, sendError } from './errors.js'
import { createRateLimiter } from './rate-limit.js'
import { MAX_ID_LENGTH } from './schemas.js'
import { conversationRoutes } from './routes/conversations.js'
import { healthRoutes } from './routes/health.js'
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
  const app = Fastify({
    loggerInstance: ctx.logger,
    bodyLimit: ctx.config.bodyLimit,
    // Per-request lines only at debug: at info they would cost more than the request itself.
    logController: new LogController({ disableRequestLogging: !ctx.logger.isLevelEnabled('debug') }),
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

  const rateLimit = createRateLimiter(ctx.config.rateLimitPerMinute, () => ctx.clock.now())
  app.decorateRequest('accountId', '')
  app.addHook('onRequest', async (request, reply) => {
    if (!request.routeOptions.config.apiKey) return
    const header = request.headers['api-key']
    const apiKey = Array.isArray(header) ? header[0] : header
    let key: { accountId: string; keyId: string }
    try {
      key = await authenticateKey(ctx, apiKey)
    } catch (err) {
      // Refused keys count against the caller's address, so guessing keys is rate-limited too.
      if (err instanceof UnauthorizedError) rateLimit(`refused:${request.ip}`, reply)
      throw err
    }
    request.accountId = key.accountId
    rateLimit(`key:${key.keyId}`, reply)
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
  await app.register(conversationRoutes(ctx), { prefix: '/v3/conversations' })
  await app.register(realtimeRoutes(ctx))
  app.get('/v3/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  return app
}
