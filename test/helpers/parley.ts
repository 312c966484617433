import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, type Config } from '../../src/config.js'
import { createContext, type AppContext, type ContextOverrides } from '../../src/context.js'
import { startBackgroundJobs } from '../../src/background.js'
import { buildApp, type App } from '../../src/http/app.js'
import { createAccount } from '../../src/services/accounts.js'
import type { DbKind } from './databases.js'
import { createTestDatabase } from './postgres.js'

export interface TestAccount {
  accountId: string
  apiKey: string
  widgetId: string
}

export interface RunningParley extends TestAccount {
  /** `http://127.0.0.1:<port>` */
  baseUrl: string
  /** `<baseUrl>/v3`: what an SDK is given as its base URL. */
  apiUrl: string
  app: App
  ctx: AppContext
  /** Another tenant on the same server. */
  createAccount(name?: string): Promise<TestAccount>
  close(): Promise<void>
}

/**
 * A real Parley listening on a free port of 127.0.0.1, on a fresh SQLite file or a fresh
 * PostgreSQL database, with one account ready.
 */
export async function startParley(
  db: DbKind,
  options: {
    config?: Partial<Config>
    overrides?: ContextOverrides
    /** Run the periodic jobs (presence sweep, webhook worker, …) as `parley serve` does. Default true. */
    backgroundJobs?: boolean
  } = {},
): Promise<RunningParley> {
  const cleanups: Array<() => Promise<void> | void> = []
  let databaseUrl: string
  if (db === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'parley-test-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    databaseUrl = `sqlite:${join(dir, 'parley.db')}`
  } else {
    const database = await createTestDatabase()
    cleanups.push(database.drop)
    databaseUrl = database.url
  }
  const config: Config = { ...loadConfig({}), databaseUrl, logLevel: 'silent', port: 0, ...options.config }
  const ctx = await createContext(config, options.overrides)
  const app = await buildApp(ctx)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const baseUrl = `http://127.0.0.1:${port}`
  const stopJobs = options.backgroundJobs === false ? async () => {} : startBackgroundJobs(ctx)

  async function newAccount(name = 'Test site'): Promise<TestAccount> {
    const { account, apiKey } = await createAccount(ctx, name)
    return { accountId: account.id, apiKey, widgetId: account.widgetId }
  }

  const first = await newAccount('Acme')
  return {
    ...first,
    baseUrl,
    apiUrl: `${baseUrl}/v3`,
    app,
    ctx,
    createAccount: newAccount,
    async close() {
      await stopJobs()
      await app.close()
      await ctx.close()
      for (const cleanup of cleanups.reverse()) await cleanup()
    },
  }
}
