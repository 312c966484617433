import type { Presence } from '../../ports/presence.js'

/** Presence for a single process: agent id → online-until, per account. */
export function createMemoryPresence(): Presence {
  const accounts = new Map<string, Map<string, number>>()
  return {
    async markOnline(accountId, agentId, until, now) {
      let agents = accounts.get(accountId)
      if (!agents) accounts.set(accountId, (agents = new Map()))
      const previous = agents.get(agentId) ?? 0
      agents.set(agentId, Math.max(until, previous))
      return previous <= now
    },
    async onlineAgents(accountId, now) {
      const agents = accounts.get(accountId)
      if (!agents) return []
      const online: string[] = []
      // Expired agents stay until takeExpired: the sweep turns them into agent.offline events.
      for (const [agentId, until] of agents) if (until > now) online.push(agentId)
      return online
    },
    async takeExpired(now) {
      const expired: Array<{ accountId: string; agentId: string }> = []
      for (const [accountId, agents] of accounts) {
        for (const [agentId, until] of agents) {
          if (until > now) continue
          agents.delete(agentId)
          expired.push({ accountId, agentId })
        }
        if (agents.size === 0) accounts.delete(accountId)
      }
      return expired
    },
    async close() {
      accounts.clear()
    },
  }
}
