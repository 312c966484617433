// Parley as the bench servers run it: a fresh SQLite file in a temp dir, the defaults of a real
// deployment (WAL, durable commits) rather than the caller's environment, and no rate limit.
// Kept apart from lifecycle.ts, which the baseline servers load without any of Parley.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, type Config } from '../../src/config.js'
import { createContext, type AppContext } from '../../src/context.js'
import { buildApp, type App } from '../../src/http/app.js'
import { stopOn } from './lifecycle.js'

/** A bench Parley's configuration: a SQLite file at `databasePath`, otherwise a deployment's defaults. */
export function benchConfig(databasePath: string, overrides: Partial<Config> = {}): Config {
  return {
    ...loadConfig({}),
    databaseUrl: `sqlite:${databasePath}`,
    host: '127.0.0.1',
    port: 0,
    logLevel: 'warn',
    rateLimitPerMinute: 1_000_000_000,
    ...overrides,
  }
}

/**
 * Builds the context and the app (not yet listening). Stopped by the parent like any bench child:
 * `beforeStop` first, then the app and the context, then the temp dir goes.
 */
export async function startBenchParley(
  name: string,
  overrides: Partial<Config> = {},
  beforeStop: () => Promise<void> = async () => {},
): Promise<{ ctx: AppContext; app: App; databasePath: string }> {
  const dir = mkdtempSync(join(tmpdir(), `parley-bench-${name}-`))
  const databasePath = join(dir, 'parley.db')
  const ctx = await createContext(benchConfig(databasePath, overrides))
  const app = await buildApp(ctx)
  stopOn(async () => {
    await beforeStop()
    await app.close()
    await ctx.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return { ctx, app, databasePath }
}
