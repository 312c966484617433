import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import BetterSqlite3 from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort, spawnProcess, type Spawned } from './helpers/process.js'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')

describe('a killed process loses no acknowledged message (SQLite group commit)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-crash-'))
  const databaseUrl = `sqlite:${join(dir, 'parley.db')}`
  const apiKey = 'xkeysib-crash-test-key-000000000000'
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  async function start(port: number): Promise<Spawned> {
    const server = spawnProcess('node', ['bin/parley.js', 'serve'], {
      cwd: repo,
      env: { ...process.env, PORT: String(port), DATABASE_URL: databaseUrl, PARLEY_BOOTSTRAP_API_KEY: apiKey, LOG_LEVEL: 'warn' },
    })
    await server.waitFor(/Parley is running/)
    return server
  }

  it('finds every message that was answered 200 after SIGKILL and restart', async () => {
    const port = await freePort()
    const server = await start(port)
    const acknowledged = new Map<string, string>()
    let stop = false
    // Eight clients write as fast as they can; the process is killed while requests are in flight.
    const clients = Array.from({ length: 8 }, async (_, client) => {
      for (let i = 0; !stop && i < 2000; i++) {
        const text = `client ${client} message ${i}`
        try {
          const res = await fetch(`http://127.0.0.1:${port}/v3/conversations/messages`, {
            method: 'POST',
            headers: { 'api-key': apiKey, 'content-type': 'application/json' },
            body: JSON.stringify({ visitorId: `visitor-${client}`, text, agentEmail: 'a@example.com', agentName: 'A', receivedFrom: 'crash' }),
          })
          if (res.status === 200) acknowledged.set((await res.json()).id, text)
        } catch {
          return // connection refused or reset: the process is gone
        }
      }
    })
    while (acknowledged.size < 300) await new Promise((r) => setTimeout(r, 5))
    process.kill(-server.child.pid!, 'SIGKILL')
    stop = true
    await Promise.all(clients)
    await server.stop()

    const db = new BetterSqlite3(join(dir, 'parley.db'))
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    db.close()

    const again = await start(port)
    try {
      const missing: string[] = []
      for (const [id, text] of acknowledged) {
        const res = await fetch(`http://127.0.0.1:${port}/v3/conversations/messages/${id}`, { headers: { 'api-key': apiKey } })
        if (res.status !== 200 || (await res.json()).text !== text) missing.push(id)
      }
      expect(missing).toEqual([])
    } finally {
      await again.stop()
    }
  })
})
