import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import websocket from '@fastify/websocket'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import type { AppContext } from '../context.js'
import { onlineAgentCards } from '../services/agents.js'
import { AgentConnection } from './agent-connection.js'
import type { Connection } from './connection.js'
import { HeartbeatWheel } from './heartbeat.js'
import { Hub } from './hub.js'
import { CloseCode, MAX_FRAME_BYTES } from './protocol.js'
import type { TokenBucket } from './token-bucket.js'
import { VisitorConnection, type VisitorGatewayShared } from './visitor-connection.js'

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/**
 * Lets go of the upgrade's HTTP request once its socket is a WebSocket. @fastify/websocket leaves
 * the TCP socket holding the upgrade's `ServerResponse` (and through it the request), and puts an
 * error listener on the WebSocket that holds Fastify's request and reply: about 2.8 KB per socket
 * for as long as it stays open, which is most of what an idle chat costs beyond `ws` itself. The
 * connection attaches its own error listener; ws closes the socket after an error either way.
 */
function releaseUpgrade(socket: WebSocket, request: FastifyRequest): void {
  socket.removeAllListeners('error')
  const tcp = request.raw.socket as Socket & { _httpMessage?: ServerResponse | null }
  tcp._httpMessage?.detachSocket(tcp)
}

/**
 * The realtime transport: `/ws/visitor` for the widget and `/ws/agent` for integrations and the
 * inbox, on the HTTP port. One hub per process; one heartbeat wheel for every socket.
 */
export function realtimeRoutes(ctx: AppContext) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const hub = new Hub({
      pubsub: ctx.pubsub,
      read: ctx.storage.read,
      logger: ctx.logger,
      agentCards: (accountId) => onlineAgentCards(ctx, accountId),
    })
    const buckets = new Map<string, TokenBucket>()
    const visitorShared: VisitorGatewayShared = {
      deps: ctx,
      hub,
      logger: ctx.logger,
      visitorMessagesPerMinute: ctx.config.visitorMessagesPerMinute,
      buckets,
    }

    // @NOTE One wheel for all sockets rather than a timer each: timers are what an idle
    // connection would otherwise cost most. Each socket is visited once per heartbeat period.
    const connections = new HeartbeatWheel<Connection>(
      ctx.config.heartbeatMs,
      // A socket that sent a frame since the last visit needs no ping: the widget's own pings
      // (every 25 s) keep it off the wire, halving the heartbeat's writes for live widgets. A
      // silent socket is pinged, and dropped at the next visit unless it answered. A peer that
      // dies is thus dropped within three periods of its last frame, where pinging every socket
      // at every visit took two: a dead socket costs only its memory meanwhile (presence does
      // not hang on sockets).
      (connection, now) => {
        if (connection.awaitingPong) {
          connection.socket.terminate()
        } else if (!connection.ready && now - connection.openedAt >= ctx.config.heartbeatMs) {
          connection.sendError('hello_required', 'No hello frame was sent in time')
          connection.close(CloseCode.protocolError, 'no hello')
        } else if (connection.heard) {
          connection.heard = false
        } else {
          connection.awaitingPong = true
          connection.socket.ping()
        }
      },
      () => {
        const clockNow = ctx.clock.now()
        for (const [key, bucket] of buckets) if (bucket.idle(clockNow)) buckets.delete(key)
      },
    )

    function track(connection: Connection): void {
      connections.add(connection)
      connection.socket.on('close', () => connections.delete(connection))
    }

    await app.register(websocket, {
      // Larger frames close the socket with 1009 before they are read into memory.
      options: { maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false },
    })

    app.addHook('onClose', async () => {
      connections.stop()
      hub.close()
      for (const connection of connections) connection.socket.terminate()
    })

    app.get(
      '/ws/visitor',
      {
        websocket: true,
        schema: {
          hide: true,
          querystring: {
            type: 'object',
            properties: { widgetId: { type: 'string', minLength: 1, maxLength: 128 } },
            required: ['widgetId'],
          },
        },
      },
      (socket, request) => {
        releaseUpgrade(socket, request)
        const { widgetId } = request.query as { widgetId: string }
        track(
          new VisitorConnection(socket, visitorShared, {
            widgetId,
            origin: firstHeader(request.headers.origin),
            browser: {
              userAgent: firstHeader(request.headers['user-agent'])?.slice(0, 512),
              language: firstHeader(request.headers['accept-language'])?.split(',')[0]?.slice(0, 64),
              ip: request.ip,
            },
          }),
        )
      },
    )

    app.get('/ws/agent', { websocket: true, schema: { hide: true } }, (socket, request) => {
      releaseUpgrade(socket, request)
      track(new AgentConnection(socket, { deps: ctx, hub, logger: ctx.logger }, firstHeader(request.headers['api-key'])))
    })
  }
}
