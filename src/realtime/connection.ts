import type { WebSocket } from 'ws'
import { AppError } from '../domain/errors.js'
import type { Logger } from '../logger.js'
import { CloseCode, type ErrorFrame } from './protocol.js'
import { TokenBucket } from './token-bucket.js'

// Frames of any kind one socket may send: a generous burst, then a steady rate. A client beyond it
// is broken or hostile; it is disconnected and may come back.
const FRAME_BURST = 60
const FRAMES_PER_MINUTE = 600
// Frames waiting to be handled; a client that outruns the server this far is cut off.
const MAX_QUEUED_FRAMES = 32
// A socket whose unsent output grows past this is not reading: drop it, it resumes by seq.
const MAX_BUFFERED_BYTES = 1 << 20

/**
 * What both socket kinds share: frames handled one at a time in arrival order, a cap on how fast
 * and how far ahead a client may send, liveness for the heartbeat (gateway.ts), and sends that
 * never throw.
 */
export abstract class Connection {
  /** A frame arrived since the heartbeat's last visit: the socket proved itself alive. */
  heard = false
  /** The heartbeat pinged at its last visit and neither a pong nor a frame came back yet. */
  awaitingPong = false
  readonly openedAt = Date.now()
  private queue: Promise<void> = Promise.resolve()
  private queued = 0
  private readonly frames = new TokenBucket(FRAME_BURST, FRAMES_PER_MINUTE, Date.now())

  constructor(
    readonly socket: WebSocket,
    protected readonly logger: Logger,
  ) {
    // @NOTE Listeners are attached synchronously: a frame that arrives while the constructor's
    // caller awaits anything would otherwise be lost.
    socket.on('message', (data, isBinary) => this.receive(data as Buffer, isBinary))
    socket.on('pong', () => (this.awaitingPong = false))
    socket.on('close', () => this.closed())
    // ws reports protocol violations (oversized frames, bad UTF-8) here and then closes.
    socket.on('error', (err) => this.logger.debug({ err }, 'socket error'))
  }

  /** Whether the client has identified itself (the first frame was a valid hello). */
  abstract get ready(): boolean
  protected abstract handle(raw: string): Promise<void>
  protected abstract closed(): void

  /** Runs `step` after every frame received so far has been handled. */
  protected enqueue(step: () => Promise<void>): void {
    this.queued++
    this.queue = this.queue
      .then(step)
      .catch((err) => this.fail(err))
      .finally(() => this.queued--)
  }

  private receive(data: Buffer, isBinary: boolean): void {
    this.heard = true
    this.awaitingPong = false
    if (this.frames.take(Date.now()) > 0 || this.queued >= MAX_QUEUED_FRAMES) {
      this.sendError('rate_limited', 'Too many frames: reconnect in a few seconds')
      this.close(CloseCode.tooManyFrames, 'too many frames')
      return
    }
    if (isBinary) {
      this.sendError('invalid_frame', 'frames are JSON text, not binary')
      return
    }
    const raw = data.toString('utf8')
    this.enqueue(() => this.handle(raw))
  }

  send(frame: object): void {
    if (this.socket.readyState !== this.socket.OPEN) return
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.logger.info('dropping a socket that does not read its frames')
      this.socket.terminate()
      return
    }
    this.socket.send(JSON.stringify(frame))
  }

  sendError(code: string, message: string, extra: Pick<ErrorFrame, 'clientId' | 'retryAfterMs'> = {}): void {
    this.send({ type: 'error', code, message, ...extra } satisfies ErrorFrame)
  }

  /** Answers a failed step: the client's mistake as its code, anything else as internal_error. */
  protected fail(err: unknown, clientId?: string): void {
    const extra = clientId === undefined ? {} : { clientId }
    if (err instanceof AppError) {
      this.sendError(err.code, err.message, extra)
    } else {
      this.logger.error({ err }, 'realtime frame failed')
      this.sendError('internal_error', 'Something went wrong on the server; try again', extra)
    }
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) {
      this.socket.close(code, reason)
    }
  }
}
