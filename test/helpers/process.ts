import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

export interface Spawned {
  child: ChildProcess
  /** Everything printed on stdout so far. */
  output(): string
  /** Resolves with the first match of `pattern` in stdout, or rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  /** Stops the process (SIGTERM, then SIGKILL) and resolves with its exit code. */
  stop(): Promise<number | null>
}

export function spawnProcess(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Spawned {
  // Its own process group, so that stopping `npm start` also stops the server npm started.
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => (stdout += d))
  child.stderr!.on('data', (d) => (stderr += d))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {
    child,
    output: () => stdout,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          clearInterval(poll)
          reject(new Error(`timed out waiting for ${pattern}\nstdout:\n${stdout}\nstderr:\n${stderr}`))
        }, timeoutMs)
        const poll = setInterval(() => {
          const match = stdout.match(pattern)
          if (match || child.exitCode !== null) {
            clearInterval(poll)
            clearTimeout(timer)
            if (match) resolve(match)
            else reject(new Error(`process exited (${child.exitCode}) before ${pattern}\nstdout:\n${stdout}\nstderr:\n${stderr}`))
          }
        }, 50)
      })
    },
    async stop() {
      const signalGroup = (signal: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, signal)
          return true
        } catch {
          return false
        }
      }
      signalGroup('SIGTERM')
      const timer = setTimeout(() => signalGroup('SIGKILL'), 10_000)
      const code = await exited
      // Wait for the rest of the group (the server under npm) to be gone too.
      while (signalGroup(0 as unknown as NodeJS.Signals)) await new Promise((r) => setTimeout(r, 50))
      clearTimeout(timer)
      return code
    },
  }
}
