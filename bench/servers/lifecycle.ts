// The child side of bench/lib/child.ts: report ready on stdout, stop on a signal or when the
// parent's pipe closes.

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
