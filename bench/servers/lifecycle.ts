// The child side of bench/lib/child.ts: report ready on stdout, stop on a signal or when the
// parent's pipe closes.
import { getHeapSpaceStatistics } from 'node:v8'

let stopping = false

/** Runs `cleanup` once on SIGTERM, SIGINT or when stdin closes, then exits (which writes a --cpu-prof). */
export function stopOn(cleanup: () => Promise<void>): void {
  const stop = async (): Promise<void> => {
    if (stopping) return
    stopping = true
    try {
      await cleanup()
    } catch (err) {
      process.stderr.write(`cleanup failed: ${String(err)}\n`)
      process.exitCode = 1
    }
    process.exit()
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  process.stdin.on('end', stop)
  process.stdin.on('close', stop)
  process.stdin.resume()
}

export function reportReady(info: object): void {
  process.stdout.write(`${JSON.stringify(info)}\n`)
}

/** This process's CPU time so far, user and system, in microseconds. */
function cpuTimeUs(): number {
  const { user, system } = process.cpuUsage()
  return user + system
}

/**
 * Answers the parent's `request()` calls (bench/lib/child.ts) one at a time, in arrival order. A
 * thrown error goes back as the request's error. Every child answers `{ type: 'cpu' }` with
 * `cpuTimeUs()`, so a benchmark can put each server's CPU time per operation beside its throughput.
 */
export function answerRequests(handle: (request: Record<string, unknown>) => unknown): void {
  if (!process.send) throw new Error('started without an IPC channel (startChild(…, { ipc: true }))')
  let queue = Promise.resolve()
  process.on('message', (request: Record<string, unknown>) => {
    const replyTo = request.requestId as number
    queue = queue.then(async () => {
      try {
        process.send!({ replyTo, result: (request.type === 'cpu' ? cpuTimeUs() : await handle(request)) ?? null })
      } catch (err) {
        process.send!({ replyTo, error: err instanceof Error ? (err.stack ?? err.message) : String(err) })
      }
    })
  })
}

export interface MemorySample {
  rss: number
  /**
   * Resident bytes of V8's young generation (new space). V8 sizes it by allocation rate, not by
   * how much is live, and it can double during a burst of work: part of RSS that idle connections
   * do not explain.
   */
  youngGeneration: number
  heapUsed: number
  external: number
  arrayBuffers: number
  /** Whether garbage was collected first (the child runs with --expose-gc). */
  collected: boolean
}

/** This process's memory after a full collection, when `--expose-gc` allows one. */
export async function memorySample(): Promise<MemorySample> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc) {
    // Twice, with a turn of the loop between: weak callbacks and finalizers free more on the second.
    gc()
    await new Promise((resolve) => setImmediate(resolve))
    gc()
  }
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage()
  const youngGeneration = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.physical_space_size ?? 0
  return { rss, youngGeneration, heapUsed, external, arrayBuffers, collected: gc !== undefined }
}

/**
 * For a server child: answers `{ type: 'memory' }` with a `MemorySample` (and `{ type: 'cpu' }`, as
 * every child does). Nothing without an IPC channel.
 */
export function answerProbes(): void {
  if (!process.send) return
  answerRequests((request) => {
    if (request.type === 'memory') return memorySample()
    throw new Error(`unknown request ${JSON.stringify(request)}`)
  })
}
