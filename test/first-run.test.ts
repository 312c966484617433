import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, spawnProcess } from './helpers/process.js'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/**
 * A fresh clone as the README describes it: the tracked files in an empty directory (node_modules
 * linked in place of `npm install`, which would only repeat the download), then `npm start`.
 */
function freshClone(): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-clone-'))
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: repo, encoding: 'utf8' })
  for (const file of files.split('\n').filter(Boolean)) {
    if (!existsSync(join(repo, file))) continue
    mkdirSync(dirname(join(dir, file)), { recursive: true })
    cpSync(join(repo, file), join(dir, file))
  }
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'))
  return dir
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'PARLEY_BOOTSTRAP_API_KEY', 'PUBLIC_URL', 'HOST', 'NODE_OPTIONS']) delete env[name]
  for (const name of Object.keys(env)) if (name.startsWith('VITEST') || name.startsWith('npm_')) delete env[name]
  return { ...env, ...extra }
}

async function sendMessage(apiUrl: string, apiKey: string) {
  return fetch(`${apiUrl}/conversations/messages`, {
    method: 'POST',
    headers: { 'api-key': apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ visitorId: 'first-visitor', text: 'Hello!', agentEmail: 'me@example.com', agentName: 'Me', receivedFrom: 'readme' }),
  })
}

describe('npm start on a fresh clone', () => {
  let dir: string
  beforeAll(() => {
    dir = freshClone()
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('creates the database, prints a working API key and the URLs, and keeps the data across restarts', async () => {
    const port = await freePort()
    const first = spawnProcess('npm', ['start'], { cwd: dir, env: cleanEnv({ PORT: String(port) }) })
    let apiKey: string
    try {
      const [, key] = await first.waitFor(/API key:\s+(\S+)/)
      apiKey = key
      const [, widgetId] = /Widget id:\s+(\S+)/.exec(first.output())!
      expect(first.output()).toContain(`API base:  http://127.0.0.1:${port}/v3`)
      expect(first.output()).toContain(`API docs:  http://127.0.0.1:${port}/docs`)
      expect(first.output()).toContain(`Chat demo: http://127.0.0.1:${port}/demo`)
      expect(existsSync(join(dir, 'data', 'parley.db'))).toBe(true)
      const sent = await sendMessage(`http://127.0.0.1:${port}/v3`, apiKey)
      expect(sent.status).toBe(200)
      const wrong = await sendMessage(`http://127.0.0.1:${port}/v3`, `${apiKey}x`)
      expect(wrong.status).toBe(401)
      // The banner's demo page embeds the first account's widget, and the widget is built from
      // the clone's own sources.
      const demo = await fetch(`http://127.0.0.1:${port}/demo`)
      expect(demo.status).toBe(200)
      expect(await demo.text()).toContain(`w.BrevoConversationsID = "${widgetId}";`)
      const widget = await fetch(`http://127.0.0.1:${port}/brevo-conversations.js`)
      expect(widget.status).toBe(200)
      expect(widget.headers.get('content-type')).toMatch(/javascript/)
      expect((await widget.text()).length).toBeGreaterThan(1000)
    } finally {
      await first.stop()
    }

    const again = spawnProcess('npm', ['start'], { cwd: dir, env: cleanEnv({ PORT: String(port) }) })
    try {
      await again.waitFor(/Parley is running/)
      expect(again.output()).not.toMatch(/API key:/)
      expect((await sendMessage(`http://127.0.0.1:${port}/v3`, apiKey)).status).toBe(200)
    } finally {
      await again.stop()
    }
  })

  it('gives the first account exactly PARLEY_BOOTSTRAP_API_KEY', async () => {
    const port = await freePort()
    const key = 'xkeysib-bootstrap-key-for-containers-0001'
    const server = spawnProcess('node', ['bin/parley.js', 'serve'], {
      cwd: dir,
      env: cleanEnv({ PORT: String(port), DATABASE_URL: `sqlite:${join(dir, 'boot', 'p.db')}`, PARLEY_BOOTSTRAP_API_KEY: key }),
    })
    try {
      await server.waitFor(/API key:\s+xkeysib-bootstrap/)
      expect((await sendMessage(`http://127.0.0.1:${port}/v3`, key)).status).toBe(200)
    } finally {
      // SIGTERM is a graceful shutdown: the process drains and exits 0.
      expect(await server.stop()).toBe(0)
    }
  })
})
