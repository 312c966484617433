import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const READY_TIMEOUT_MS = 60_000
const STOP_TIMEOUT_MS = 10_000

export interface ChildServer<T> {
  name: string
  pid: number
  /** What the child printed as its first JSON line on stdout. */
  info: T
  /**
   * Sends `message` over IPC and resolves with the child's answer (see `answerRequests` in
   * bench/servers/lifecycle.ts). Only for children started with `ipc: true`.
   */
  request<R>(message: object, timeoutMs?: number): Promise<R>
  stop(): Promise<void>
}

/** What a child sends back over IPC for one request. */
export interface IpcReply {
  replyTo: number
  result?: unknown
  error?: string
}

/** The child's CPU time so far, in µs; for a child started with `ipc: true` (see `answerRequests`). */
export const cpuOf = (child: ChildServer<unknown>) => (): Promise<number> => child.request<number>({ type: 'cpu' })

/**
 * Every child runs without V8's memory reducer, which collects garbage in a process that has gone
 * idle, 8 s after its last collection (`--gc-memory-reducer-start-delay-ms`). The sides measured in
 * alternating slices of 2.5 s each go idle in turn, so each side's idle collections, on three threads
 * at once, landed in a later side's slice, and with the slices in the order ABC CBA, Parley in the
 * middle took three of them per run against two and one for the others (README, "Night of
 * 2026-12-06"). A process under load collects as usual.
 */
const NO_IDLE_COLLECTIONS = '--no-memory-reducer'

const running = new Set<ChildServer<unknown>>()

/** Stops every child started here that is still running. Safe to call twice. */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...running].map((child) => child.stop()))
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null
}

/**
 * Starts `node --import tsx <script>` from the repository root and waits for the first JSON line it
 * prints on stdout. The child's stdin stays open as a lifeline: when this process dies, however it
 * dies, the pipe closes and the child shuts itself down. `ipc: true` adds an IPC channel for
 * `request()`.
 */
export async function startChild<T>(
  name: string,
  script: string,
  options: { args?: string[]; nodeArgs?: string[]; ipc?: boolean } = {},
): Promise<ChildServer<T>> {
  const child = spawn(process.execPath, [NO_IDLE_COLLECTIONS, ...(options.nodeArgs ?? []), '--import', 'tsx', script, ...(options.args ?? [])], {
    cwd: ROOT,
    stdio: options.ipc ? ['pipe', 'pipe', 'inherit', 'ipc'] : ['pipe', 'pipe', 'inherit'],
  })
  const exit = once(child, 'exit')
  let stopping: Promise<void> | undefined
  let nextRequest = 0
  const pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>()
  child.on('message', (reply: IpcReply) => {
    const waiter = pending.get(reply.replyTo)
    pending.delete(reply.replyTo)
    if (reply.error !== undefined) waiter?.reject(new Error(`${name}: ${reply.error}`))
    else waiter?.resolve(reply.result)
  })
  exit.then(
    ([code, signal]) => {
      for (const waiter of pending.values()) waiter.reject(new Error(`${name} exited (code ${code}, signal ${signal}) before it answered`))
      pending.clear()
    },
    () => undefined,
  )
  const server: ChildServer<T> = {
    name,
    pid: child.pid ?? -1,
    info: undefined as T,
    request<R>(message: object, timeoutMs = 120_000): Promise<R> {
      if (!options.ipc || !child.connected) return Promise.reject(new Error(`${name} has no IPC channel`))
      const id = nextRequest++
      return new Promise<R>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id)
          reject(new Error(`${name} did not answer ${JSON.stringify(message).slice(0, 80)} within ${timeoutMs / 1000} s`))
        }, timeoutMs)
        pending.set(id, {
          resolve: (value) => {
            clearTimeout(timer)
            resolve(value as R)
          },
          reject: (err) => {
            clearTimeout(timer)
            reject(err)
          },
        })
        child.send({ ...message, requestId: id })
      })
    },
    stop() {
      stopping ??= (async () => {
        if (!exited(child)) {
          child.stdin?.end()
          child.kill('SIGTERM')
          const timer = setTimeout(() => {
            if (!exited(child)) child.kill('SIGKILL')
          }, STOP_TIMEOUT_MS)
          await exit.catch(() => undefined)
          clearTimeout(timer)
        }
        running.delete(server)
      })()
      return stopping
    },
  }
  running.add(server)

  const lines = createInterface({ input: child.stdout! })
  const ready = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not report ready within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS)
    lines.on('line', (line) => {
      if (server.info === undefined && line.startsWith('{')) {
        clearTimeout(timer)
        try {
          resolve(JSON.parse(line) as T)
        } catch (err) {
          reject(err)
        }
      } else {
        process.stderr.write(`[${name}] ${line}\n`)
      }
    })
    exit.then(([code, signal]) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited before it was ready (code ${code}, signal ${signal})`))
    }, reject)
  })
  try {
    server.info = await ready
  } catch (err) {
    await server.stop()
    throw err
  }
  return server
}
