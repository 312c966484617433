import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { createContext, type AppContext } from '../src/context.js'
import { authenticate } from '../src/services/accounts.js'
import { describeEachDb } from './helpers/databases.js'
import { createTestDatabase } from './helpers/postgres.js'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const run = promisify(execFile)
// Each command is a fresh Node process: allow for a loaded machine.
const TIMEOUT = 180_000

describeEachDb('the parley command', (db) => {
  let databaseUrl: string
  let cleanup: () => Promise<void>
  let ctx: AppContext | undefined

  beforeAll(async () => {
    if (db === 'sqlite') {
      const dir = mkdtempSync(join(tmpdir(), 'parley-cli-'))
      databaseUrl = `sqlite:${join(dir, 'parley.db')}`
      cleanup = async () => rmSync(dir, { recursive: true, force: true })
    } else {
      const database = await createTestDatabase()
      databaseUrl = database.url
      cleanup = database.drop
    }
  })
  afterAll(async () => {
    await ctx?.close()
    await cleanup?.()
  })

  async function parley(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const { stdout, stderr } = await run('node', ['bin/parley.js', ...args], {
        cwd: repo,
        env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
      })
      return { stdout, stderr, code: 0 }
    } catch (err) {
      const e = err as { stdout: string; stderr: string; code: number }
      return { stdout: e.stdout, stderr: e.stderr, code: e.code }
    }
  }
  const json = async (...args: string[]) => {
    const result = await parley(...args, '--json')
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    return JSON.parse(result.stdout)
  }

  it('manages accounts, keys, agents and groups, and its keys authenticate', async () => {
    const account = await json('accounts', 'create', 'Acme', 'Shop')
    expect(Object.keys(account).sort()).toEqual(['accountId', 'apiKey', 'widgetId'])
    expect(account.apiKey).toMatch(/^xkeysib-[0-9a-f]{64}-\w{16}$/)

    ctx = await createContext({ ...loadConfig({}), databaseUrl, logLevel: 'silent' })
    expect(await authenticate(ctx, account.apiKey)).toBe(account.accountId)
    expect((await json('accounts', 'list')).map((a: { name: string }) => a.name)).toEqual(['Acme Shop'])

    // With one account, --account may be left out.
    const second = await json('keys', 'create')
    expect(second.accountId).toBe(account.accountId)
    expect(await authenticate(ctx, second.apiKey)).toBe(account.accountId)
    const keys = await json('keys', 'list', '--account', account.accountId)
    expect(keys).toHaveLength(2)
    expect(JSON.stringify(keys)).not.toContain(second.apiKey)
    await json('keys', 'revoke', second.id)
    // A process that starts now (a server restarted, another replica) refuses it at once; one that
    // had the key cached refuses it within API_KEY_CACHE_MS.
    const fresh = await createContext({ ...loadConfig({}), databaseUrl, logLevel: 'silent' })
    try {
      await expect(authenticate(fresh, second.apiKey)).rejects.toThrow('Key not found')
      expect(await authenticate(fresh, account.apiKey)).toBe(account.accountId)
    } finally {
      await fresh.close()
    }

    const agent = await json('agents', 'create', '--email', 'Liz@Example.com', '--name', 'Liz', '--password', 'hunter22')
    expect(agent).toMatchObject({ email: 'liz@example.com', name: 'Liz', isDummy: false })
    expect(JSON.stringify(agent)).not.toContain('hunter22')
    const group = await json('groups', 'create', 'Sales')
    await json('groups', 'add-agent', group.id, agent.id)
    expect(await json('groups', 'list')).toEqual([expect.objectContaining({ id: group.id, name: 'Sales', agentIds: [agent.id] })])
    expect((await json('agents', 'list')).map((a: { id: string }) => a.id)).toEqual([agent.id])
  }, TIMEOUT)

  it('runs as `npx parley` in the repository', async () => {
    const { stdout } = await run('npx', ['--no-install', 'parley', 'accounts', 'list', '--json'], {
      cwd: repo,
      env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
    })
    expect(JSON.parse(stdout).map((a: { name: string }) => a.name)).toContain('Acme Shop')
  }, TIMEOUT)

  it("shows and changes the account's widget settings: identity secret, verified binding, origins", async () => {
    const shown = await json('accounts', 'identity-secret')
    expect(shown.verifiedBinding).toBe(false)
    expect(shown.identitySecret).toMatch(/^[\w-]{43}$/)
    expect(await json('accounts', 'identity-secret')).toEqual(shown)
    const on = await json('accounts', 'identity-secret', '--verified-binding', 'on')
    expect(on).toEqual({ ...shown, verifiedBinding: true })
    const rotated = await json('accounts', 'identity-secret', '--rotate')
    expect(rotated.verifiedBinding).toBe(true)
    expect(rotated.identitySecret).not.toBe(shown.identitySecret)
    const wrong = await parley('accounts', 'identity-secret', '--verified-binding', 'maybe')
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toContain('on or off')

    expect((await json('accounts', 'origins')).allowedOrigins).toEqual([])
    const set = await json('accounts', 'origins', '--set', 'https://Shop.example/, http://localhost:8080')
    expect(set.allowedOrigins).toEqual(['https://shop.example', 'http://localhost:8080'])
    const bad = await parley('accounts', 'origins', '--set', 'shop.example/path')
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('not an origin')
    expect((await json('accounts', 'origins')).allowedOrigins).toEqual(['https://shop.example', 'http://localhost:8080'])
    expect((await json('accounts', 'origins', '--clear')).allowedOrigins).toEqual([])
  }, TIMEOUT)

  it('explains mistakes on stderr and exits 1', async () => {
    const duplicate = await parley('agents', 'create', '--email', 'liz@example.com', '--name', 'Other')
    expect(duplicate.code).toBe(1)
    expect(duplicate.stderr).toContain('already exists')
    const unknown = await parley('groups', 'add-agent', 'nope', 'nobody')
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('not found')
    await json('accounts', 'create', 'Second')
    const ambiguous = await parley('agents', 'list')
    expect(ambiguous.code).toBe(1)
    expect(ambiguous.stderr).toContain('--account')
    const bogus = await parley('frobnicate')
    expect(bogus.code).toBe(1)
    expect(bogus.stderr).toContain('Usage: parley')
  }, TIMEOUT)
})
