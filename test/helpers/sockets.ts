import WebSocket from 'ws'

/** A test's end of a realtime socket: every frame it received, and ways to wait for more. */
export interface TestSocket {
  ws: WebSocket
  /** Every JSON frame received so far, in order. */
  frames: Array<Record<string, any>>
  send(frame: unknown): void
  sendRaw(data: string | Buffer): void
  /** The first frame after the `from`-th one that satisfies `match`; waits for it. */
  next(match?: (frame: Record<string, any>) => boolean, options?: { from?: number; timeoutMs?: number }): Promise<Record<string, any>>
  /** Resolves with the close code once the socket is closed. */
  closed: Promise<number>
  close(): Promise<number>
}

export function openSocket(
  url: string,
  headers: Record<string, string> = {},
  options: { autoPong?: boolean } = {},
): Promise<TestSocket> {
  const ws = new WebSocket(url, { headers, ...options })
  const frames: Array<Record<string, any>> = []
  const waiters = new Set<() => void>()
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
  ws.on('message', (data) => {
    frames.push(JSON.parse(data.toString()))
    for (const wake of waiters) wake()
  })
  closed.then(() => {
    for (const wake of waiters) wake()
  })
  let isClosed = false
  closed.then(() => (isClosed = true))

  const socket: TestSocket = {
    ws,
    frames,
    send: (frame) => ws.send(JSON.stringify(frame)),
    sendRaw: (data) => ws.send(data),
    next(match = () => true, { from = 0, timeoutMs = 10_000 } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = frames.slice(from).find(match)
          if (found) {
            finish()
            resolve(found)
          } else if (isClosed) {
            finish()
            reject(new Error(`socket closed before the frame arrived; got ${JSON.stringify(frames)}`))
          }
        }
        const timer = setTimeout(() => {
          finish()
          reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames)}`))
        }, timeoutMs)
        const finish = () => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
    },
    closed,
    close() {
      if (!isClosed) ws.close()
      return closed
    },
  }
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(socket))
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
    ws.once('error', reject)
  })
}

/** The widget's socket on a running Parley. */
export function openVisitorSocket(
  baseUrl: string,
  widgetId: string,
  headers: Record<string, string> = {},
  options: { autoPong?: boolean } = {},
): Promise<TestSocket> {
  return openSocket(`${baseUrl.replace(/^http/, 'ws')}/ws/visitor?widgetId=${encodeURIComponent(widgetId)}&v=1`, headers, options)
}

/** Opens a visitor socket, says hello and returns it with the welcome frame. */
export async function connectVisitor(
  baseUrl: string,
  widgetId: string,
  hello: Record<string, unknown> = {},
  headers: Record<string, string> = {},
  options: { autoPong?: boolean } = {},
): Promise<{ socket: TestSocket; welcome: Record<string, any> }> {
  const socket = await openVisitorSocket(baseUrl, widgetId, headers, options)
  socket.send({ type: 'hello', ...hello })
  const welcome = await socket.next((f) => f.type === 'welcome' || f.type === 'error')
  return { socket, welcome }
}
