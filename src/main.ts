import closeWithGrace from 'close-with-grace'
import type { Config } from './config.js'
import { createContext, type AppContext } from './context.js'
import { buildApp, type App } from './http/app.js'
import { createAccount, listAccounts } from './services/accounts.js'
import { startBackgroundJobs } from './background.js'
import { WEBHOOK_TIMEOUT_MS } from './webhooks/worker.js'

export interface Banner {
  apiUrl: string
  docsUrl: string
  /** A page with the chat widget embedded by Brevo's snippet. */
  demoUrl: string
  /** Present only when this start created the first account. */
  firstAccount?: { accountId: string; apiKey: string; widgetId: string }
}

/** On an empty database, the first account, with PARLEY_BOOTSTRAP_API_KEY as its key when set. */
async function bootstrap(ctx: AppContext): Promise<Banner['firstAccount']> {
  if ((await listAccounts(ctx)).length > 0) return undefined
  const { account, apiKey } = await createAccount(ctx, 'My site', ctx.config.bootstrapApiKey)
  return { accountId: account.id, apiKey, widgetId: account.widgetId }
}

export function formatBanner(banner: Banner): string {
  const lines = [
    '',
    'Parley is running.',
    `  API base:  ${banner.apiUrl}`,
    `  API docs:  ${banner.docsUrl}`,
    `  Chat demo: ${banner.demoUrl}`,
  ]
  if (banner.firstAccount) {
    lines.push(
      '',
      'Created the first account:',
      `  Account:   ${banner.firstAccount.accountId}`,
      `  Widget id: ${banner.firstAccount.widgetId}`,
      `  API key:   ${banner.firstAccount.apiKey}`,
      '  (the key is shown only this once: keep it somewhere safe)',
    )
  }
  return `${lines.join('\n')}\n\n`
}

/** Starts Parley: context, app, listen, graceful shutdown on signals. */
export async function serve(config: Config): Promise<{ app: App; ctx: AppContext; banner: Banner }> {
  const ctx = await createContext(config)
  const firstAccount = await bootstrap(ctx)
  const app = await buildApp(ctx)
  await app.listen({ port: config.port, host: config.host })
  // Fastify logs this itself only when it has our logger, which it gets at debug (see app.ts).
  ctx.logger.info({ addresses: app.addresses() }, 'listening')
  const banner = {
    apiUrl: `${config.publicUrl}/v3`,
    docsUrl: `${config.publicUrl}/docs`,
    demoUrl: `${config.publicUrl}/demo`,
    firstAccount,
  }
  process.stdout.write(formatBanner(banner))
  const stopJobs = startBackgroundJobs(ctx)
  // Long enough for a webhook attempt in flight to end (its timeout) and be recorded: cut short,
  // its delivery would be sent again after the restart.
  closeWithGrace({ delay: WEBHOOK_TIMEOUT_MS + 10_000 }, async ({ err, signal }) => {
    if (err) ctx.logger.error({ err }, 'shutting down after an error')
    else ctx.logger.info({ signal }, 'shutting down')
    await stopJobs()
    await app.close()
    await ctx.close()
  })
  return { app, ctx, banner }
}
