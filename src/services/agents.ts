import { InvalidParameterError, MissingParameterError } from '../domain/errors.js'
import { generateId } from '../domain/ids.js'
import type { Agent } from '../domain/model.js'
import type { Tx } from '../ports/storage.js'
import { recordEvent, transact, type ServiceDeps } from './deps.js'

/** Brevo's two ways of naming the agent behind a request. */
export interface AgentIdentification {
  agentId?: string
  agentEmail?: string
  agentName?: string
  receivedFrom?: string
}

/**
 * `agentId` alone (with or without `receivedFrom`), or all of `agentEmail` + `agentName` +
 * `receivedFrom`. An unknown email creates a dummy agent; a known one reuses it.
 */
export async function resolveAgent(tx: Tx, accountId: string, who: AgentIdentification, now: number): Promise<Agent> {
  if (who.agentId !== undefined) {
    const agent = await tx.agents.get(accountId, who.agentId)
    if (!agent) throw new InvalidParameterError(`agentId "${who.agentId}" is not an agent of this account`)
    return agent
  }
  const missing = (['agentEmail', 'agentName', 'receivedFrom'] as const).filter((f) => who[f] === undefined)
  if (missing.length === 3) {
    throw new MissingParameterError('agentId is missing: give agentId, or agentEmail, agentName and receivedFrom')
  }
  if (missing.length > 0) {
    throw new MissingParameterError(`${missing.join(', ')} missing: without agentId, agentEmail, agentName and receivedFrom are all required`)
  }
  const email = who.agentEmail!.toLowerCase()
  const existing = await tx.agents.getByEmail(accountId, email)
  if (existing) return existing
  const agent: Agent = { id: generateId(), accountId, email, name: who.agentName!, isDummy: true, createdAt: now }
  await tx.agents.insert(agent)
  return agent
}

/**
 * The online ping: the agent stays online until `presenceTtlMs` after the last ping. Going from
 * offline to online is an event (`agent.online`); a ping that only extends the time is not.
 */
export async function markAgentOnline(deps: ServiceDeps, accountId: string, who: AgentIdentification): Promise<Agent> {
  const now = deps.clock.now()
  const agent = await transact(deps, (tx) => resolveAgent(tx, accountId, who, now))
  const until = now + deps.settings.presenceTtlMs
  const cameOnline = await deps.presence.markOnline(accountId, agent.id, until, now)
  if (cameOnline) {
    await transact(deps, (tx) => recordEvent(deps, tx, accountId, { type: 'agent.online', payload: { agentId: agent.id, until } }))
  }
  return agent
}

/**
 * Turns agents whose last ping ran out into `agent.offline` events. Run periodically by every
 * process; the presence store hands each expired agent to one sweeper only.
 */
export async function sweepPresence(deps: ServiceDeps): Promise<number> {
  const expired = await deps.presence.takeExpired(deps.clock.now())
  for (const { accountId, agentId } of expired) {
    await transact(deps, (tx) => recordEvent(deps, tx, accountId, { type: 'agent.offline', payload: { agentId } }))
  }
  return expired.length
}

/** The agents online now, as a visitor may see them: name and picture, never the e-mail. */
export async function onlineAgentCards(
  deps: ServiceDeps,
  accountId: string,
): Promise<Array<{ id: string; name: string; userpic?: string }>> {
  const ids = await deps.presence.onlineAgents(accountId, deps.clock.now())
  const agents = await Promise.all(ids.map((id) => deps.storage.read.agents.get(accountId, id)))
  return agents
    .filter((agent) => agent !== undefined)
    .map((agent) => (agent.userpic ? { id: agent.id, name: agent.name, userpic: agent.userpic } : { id: agent.id, name: agent.name }))
}
