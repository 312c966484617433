import type { FastifyPluginAsync } from 'fastify'
import type { AppContext } from '../../context.js'

export function healthRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }))
    app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
      try {
        await ctx.storage.ping()
        return { status: 'ok' }
      } catch (err) {
        ctx.logger.warn({ err }, 'readiness check failed')
        return reply.code(503).send({ status: 'database unreachable' })
      }
    })
  }
}
