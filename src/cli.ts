import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from './config.js'
import { createContext, type AppContext } from './context.js'
import { runWebhookCommand, WEBHOOKS_USAGE } from './cli-webhooks.js'
import { AppError } from './domain/errors.js'
import { serve } from './main.js'
import * as accounts from './services/accounts.js'
import { loadWidgetSettings, updateWidgetSettings } from './services/widget.js'

const USAGE = `Usage: parley <command> [options]

  serve                                   run the server (what \`npm start\` does)
  migrate                                 apply database migrations and exit
  accounts create <name>                  new account: prints its id, an API key and its widget id
  accounts list
  accounts identity-secret [<accountId>] [--verified-binding on|off] [--rotate]
                                          the secret a site signs visitorIds with (verified binding)
  accounts origins [<accountId>] [--set <origin,origin…> | --clear]
                                          pages allowed to open the chat widget (none listed: all)
  keys create|list [--account <id>]       API keys are shown once, when created
  keys revoke <keyId> [--account <id>]
  agents create --email <e> --name <n> [--password <p>] [--account <id>]
  agents list [--account <id>]
  groups create <name> [--account <id>]
  groups add-agent <groupId> <agentId> [--account <id>]
  groups list [--account <id>]
${WEBHOOKS_USAGE}

Every command takes --json for machine-readable output. --account may be left out while the
database holds a single account. Configuration comes from the environment (see README).`

type Out = (human: string, json: unknown) => void

async function accountId(ctx: AppContext, given: string | undefined): Promise<string> {
  if (given) return given
  const all = await accounts.listAccounts(ctx)
  if (all.length === 1) return all[0].id
  throw new AppError('missing_parameter', all.length === 0 ? 'no account yet: run `parley accounts create <name>`' : '--account <id> is required when there are several accounts')
}

function table(rows: Array<Record<string, unknown>>): string {
  if (rows.length === 0) return '(none)'
  return rows.map((r) => Object.values(r).map((v) => (v === undefined ? '-' : String(v))).join('  ')).join('\n')
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      account: { type: 'string' },
      email: { type: 'string' },
      name: { type: 'string' },
      password: { type: 'string' },
      'verified-binding': { type: 'string' },
      rotate: { type: 'boolean', default: false },
      set: { type: 'string' },
      clear: { type: 'boolean', default: false },
      url: { type: 'string' },
      events: { type: 'string' },
      description: { type: 'string' },
      status: { type: 'string' },
      limit: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const [command, sub, ...args] = positionals
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`)
    return command || values.help ? 0 : 1
  }
  const config = loadConfig(process.env, { logLevel: command === 'serve' ? 'info' : 'warn' })
  if (command === 'serve') {
    await serve(config)
    return -1 // keeps running
  }
  const out: Out = (human, json) => process.stdout.write(`${values.json ? JSON.stringify(json) : human}\n`)
  const ctx = await createContext(config)
  try {
    switch (`${command} ${sub ?? ''}`.trim()) {
      case 'migrate':
        out('migrations applied', { ok: true })
        return 0
      case 'accounts create': {
        const name = args.join(' ') || values.name
        if (!name) throw new AppError('missing_parameter', 'usage: parley accounts create <name>')
        const { account, apiKey } = await accounts.createAccount(ctx, name)
        out(`account:   ${account.id}\nAPI key:   ${apiKey}\nwidget id: ${account.widgetId}`, {
          accountId: account.id,
          apiKey,
          widgetId: account.widgetId,
        })
        return 0
      }
      case 'accounts list': {
        const list = await accounts.listAccounts(ctx)
        out(table(list.map((a) => ({ id: a.id, widgetId: a.widgetId, name: a.name }))), list)
        return 0
      }
      case 'accounts identity-secret': {
        const id = await accountId(ctx, args[0] ?? values.account)
        const flag = values['verified-binding']
        if (flag !== undefined && flag !== 'on' && flag !== 'off') {
          throw new AppError('invalid_parameter', '--verified-binding takes on or off')
        }
        const settings =
          flag === undefined && !values.rotate
            ? await loadWidgetSettings(ctx, id)
            : await updateWidgetSettings(ctx, id, {
                verifiedBinding: flag === undefined ? undefined : flag === 'on',
                rotateIdentitySecret: values.rotate,
              })
        out(
          `identity secret:  ${settings.identitySecret}\nverified binding: ${settings.verifiedBinding ? 'on' : 'off'}\n` +
            'A page binds a visitor with visitorId plus visitorIdSignature = hex HMAC-SHA256(secret, visitorId), computed on your server.',
          { accountId: id, identitySecret: settings.identitySecret, verifiedBinding: settings.verifiedBinding },
        )
        return 0
      }
      case 'accounts origins': {
        const id = await accountId(ctx, args[0] ?? values.account)
        const origins = values.clear ? [] : values.set?.split(',').map((o) => o.trim()).filter(Boolean)
        const settings =
          origins === undefined ? await loadWidgetSettings(ctx, id) : await updateWidgetSettings(ctx, id, { allowedOrigins: origins })
        out(settings.allowedOrigins.length ? settings.allowedOrigins.join('\n') : '(any origin)', {
          accountId: id,
          allowedOrigins: settings.allowedOrigins,
        })
        return 0
      }
      case 'keys create': {
        const { key, apiKey } = await accounts.createApiKey(ctx, await accountId(ctx, values.account))
        out(`key id:  ${key.id}\nAPI key: ${apiKey}`, { id: key.id, accountId: key.accountId, apiKey })
        return 0
      }
      case 'keys list': {
        const keys = await accounts.listApiKeys(ctx, await accountId(ctx, values.account))
        out(
          table(keys.map((k) => ({ id: k.id, prefix: `${k.prefix}…`, status: k.revokedAt ? 'revoked' : 'active' }))),
          keys,
        )
        return 0
      }
      case 'keys revoke': {
        if (!args[0]) throw new AppError('missing_parameter', 'usage: parley keys revoke <keyId>')
        await accounts.revokeApiKey(ctx, await accountId(ctx, values.account), args[0])
        out(`revoked ${args[0]}`, { id: args[0], revoked: true })
        return 0
      }
      case 'agents create': {
        if (!values.email || !values.name) {
          throw new AppError('missing_parameter', 'usage: parley agents create --email <e> --name <n> [--password <p>]')
        }
        const agent = await accounts.createAgent(ctx, await accountId(ctx, values.account), {
          email: values.email,
          name: values.name,
          password: values.password,
        })
        out(`agent: ${agent.id}`, agent)
        return 0
      }
      case 'agents list': {
        const agents = await accounts.listAgents(ctx, await accountId(ctx, values.account))
        out(table(agents.map((a) => ({ id: a.id, email: a.email, name: a.name, dummy: a.isDummy ? 'dummy' : '' }))), agents)
        return 0
      }
      case 'groups create': {
        const name = args.join(' ') || values.name
        if (!name) throw new AppError('missing_parameter', 'usage: parley groups create <name>')
        const group = await accounts.createGroup(ctx, await accountId(ctx, values.account), name)
        out(`group: ${group.id}`, group)
        return 0
      }
      case 'groups add-agent': {
        const [groupId, agentId] = args
        if (!groupId || !agentId) throw new AppError('missing_parameter', 'usage: parley groups add-agent <groupId> <agentId>')
        await accounts.addAgentToGroup(ctx, await accountId(ctx, values.account), groupId, agentId)
        out(`added ${agentId} to ${groupId}`, { groupId, agentId })
        return 0
      }
      case 'groups list': {
        const groups = await accounts.listGroups(ctx, await accountId(ctx, values.account))
        out(table(groups.map((g) => ({ id: g.id, name: g.name, agents: g.agentIds.join(',') }))), groups)
        return 0
      }
      default: {
        if (command === 'webhooks' || `${command} ${sub}` === 'conversations close') {
          const code = await runWebhookCommand(ctx, command, sub, args, await accountId(ctx, values.account), values, out)
          if (code !== undefined) return code
        }
        process.stderr.write(`unknown command: ${positionals.join(' ')}\n\n${USAGE}\n`)
        return 1
      }
    }
  } finally {
    await ctx.close()
  }
}

try {
  const code = await run(process.argv.slice(2))
  if (code >= 0) process.exitCode = code
} catch (err) {
  if (err instanceof AppError || err instanceof ConfigError) {
    process.stderr.write(`parley: ${err.message}\n`)
    process.exitCode = 1
  } else {
    throw err
  }
}
