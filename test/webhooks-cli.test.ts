import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { sendVisitorMessage } from '../src/services/messages.js'
import { describeEachDb } from './helpers/databases.js'
import { startParley, type RunningParley } from './helpers/parley.js'
import { createTestDatabase } from './helpers/postgres.js'
import { startReceiver, type Receiver } from './helpers/webhook-receiver.js'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const run = promisify(execFile)
// Each command is a fresh Node process: allow for a loaded machine.
const TIMEOUT = 180_000
const WAIT = { timeout: 20_000, interval: 50 }

describeEachDb('the parley webhooks command beside a running server', (db) => {
  let databaseUrl: string
  let drop: () => Promise<void>
  let parley: RunningParley
  let receiver: Receiver

  beforeAll(async () => {
    if (db === 'sqlite') {
      const dir = mkdtempSync(join(tmpdir(), 'parley-webhooks-cli-'))
      databaseUrl = `sqlite:${join(dir, 'parley.db')}`
      drop = async () => rmSync(dir, { recursive: true, force: true })
    } else {
      const database = await createTestDatabase()
      databaseUrl = database.url
      drop = database.drop
    }
    receiver = await startReceiver()
    // The server owns the database; the command works on it alongside, as an operator's would.
    parley = await startParley(db, { config: { databaseUrl, webhooksAllowPrivateTargets: true } })
  })
  afterAll(async () => {
    await parley?.close()
    await receiver?.close()
    await drop?.()
  })

  async function parleyCommand(args: string[], env: Record<string, string> = { PARLEY_WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true' }) {
    try {
      const { stdout, stderr } = await run('node', ['bin/parley.js', ...args], {
        cwd: repo,
        env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn', ...env },
      })
      return { stdout, stderr, code: 0 }
    } catch (err) {
      const e = err as { stdout: string; stderr: string; code: number }
      return { stdout: e.stdout, stderr: e.stderr, code: e.code }
    }
  }
  const json = async (...args: string[]) => {
    const result = await parleyCommand([...args, '--json'])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    return JSON.parse(result.stdout)
  }

  it('creates an endpoint, lists it and its deliveries, and replays one', async () => {
    const created = await json('webhooks', 'create', '--url', receiver.url('/cli'), '--events', 'conversationStarted,message.created', '--description', 'from the CLI')
    expect(Object.keys(created).sort()).toEqual(['id', 'secret'])
    expect(created.secret).toMatch(/^whsec_/)

    const listed = await json('webhooks', 'list')
    expect(listed).toEqual([
      expect.objectContaining({ id: created.id, url: receiver.url('/cli'), events: ['conversationStarted', 'message.created'], description: 'from the CLI', enabled: true }),
    ])
    expect(JSON.stringify(listed)).not.toContain(created.secret)

    // The running server sends what the endpoint the command created subscribes to.
    const message = await sendVisitorMessage(parley.ctx, parley.accountId, { visitorId: 'cli-visitor', text: 'Hello from the widget' })
    await vi.waitFor(() => expect(receiver.at('/cli')).toHaveLength(2), WAIT)
    for (const request of receiver.at('/cli')) {
      expect(new Webhook(created.secret).verify(request.body, request.headers as Record<string, string>)).toEqual(request.json)
    }

    let deliveries: Array<{ id: string; event: string; status: string; attemptCount: number; attempts: Array<{ status: number }> }> = []
    await vi.waitFor(async () => {
      deliveries = await json('webhooks', 'deliveries', created.id)
      expect(deliveries.map((d) => d.status)).toEqual(['delivered', 'delivered'])
    }, WAIT)
    expect(deliveries.map((d) => d.event).sort()).toEqual(['conversationStarted', 'message.created'])
    expect(deliveries.every((d) => d.attemptCount === 1 && d.attempts[0].status === 200)).toBe(true)
    const started = deliveries.find((d) => d.event === 'conversationStarted')!

    const replayed = await json('webhooks', 'replay', started.id)
    expect(replayed).toMatchObject({ id: started.id, status: 'pending', attemptCount: 1 })
    await vi.waitFor(() => expect(receiver.at('/cli')).toHaveLength(3), WAIT)
    const again = receiver.at('/cli')[2]
    expect(again.headers['webhook-id']).toBe(started.id)
    expect(again.json).toMatchObject({ eventName: 'conversationStarted', conversationId: message.conversationId })

    const closed = await json('conversations', 'close', message.conversationId)
    expect(closed).toEqual({ conversationId: message.conversationId, visitorId: 'cli-visitor', status: 'closed' })
  }, TIMEOUT)

  // The rest is the same code on either database: once is enough for these slow process starts.
  if (db !== 'sqlite') return
  it('disables, rotates and deletes; refuses a private URL unless allowed, and explains mistakes', async () => {
    const { id } = await json('webhooks', 'create', '--url', receiver.url('/cli-2'), '--events', 'agent.online')
    expect(await json('webhooks', 'disable', id)).toMatchObject({ id, enabled: false })
    const rotated = await json('webhooks', 'rotate-secret', id)
    expect(rotated).toEqual({ id, secret: expect.stringMatching(/^whsec_/), previousSecretExpiresAt: expect.any(Number) })
    expect(await json('webhooks', 'delete', id)).toEqual({ id, deleted: true })

    const privateRefused = await parleyCommand(['webhooks', 'create', '--url', 'http://127.0.0.1:9/hook', '--events', 'agent.online'], {})
    expect(privateRefused.code).toBe(1)
    expect(privateRefused.stderr).toContain('PARLEY_WEBHOOKS_ALLOW_PRIVATE_TARGETS')
    const noEvents = await parleyCommand(['webhooks', 'create', '--url', receiver.url('/x')])
    expect(noEvents.code).toBe(1)
    expect(noEvents.stderr).toContain('--events')
    const unknown = await parleyCommand(['webhooks', 'replay', 'noSuchDelivery234'])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('not found')
  }, TIMEOUT)
})
