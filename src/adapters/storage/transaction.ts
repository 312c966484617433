import type { Repos, Tx } from '../../ports/storage.js'

/**
 * Repositories bound to one transaction, with the hooks to run once it commits. Every repository
 * is named rather than spread from `repos`: see `Complete` in domain/model.ts for what a spread on
 * the path of every write cost. The `Tx` type asks for every one.
 */
export function createTx(repos: Repos): { tx: Tx; hooks: Array<() => void> } {
  const hooks: Array<() => void> = []
  const tx: Tx = {
    accounts: repos.accounts,
    apiKeys: repos.apiKeys,
    agents: repos.agents,
    groups: repos.groups,
    visitors: repos.visitors,
    conversations: repos.conversations,
    messages: repos.messages,
    events: repos.events,
    webhookEndpoints: repos.webhookEndpoints,
    webhookDeliveries: repos.webhookDeliveries,
    idempotency: repos.idempotency,
    onCommit: (hook) => hooks.push(hook),
  }
  return { tx, hooks }
}

export function runCommitHooks(hooks: Array<() => void>): void {
  for (const hook of hooks) {
    // A failing hook (a publish, say) must not turn a committed write into a reported failure.
    try {
      hook()
    } catch {}
  }
}
