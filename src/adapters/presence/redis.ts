import { Redis } from 'ioredis'
import type { Presence } from '../../ports/presence.js'

// @NOTE Each agent lives in two sorted sets scored by online-until: one per account (who is online
// there) and one for the whole deployment (whose time runs out next, for the sweep). Both change
// only inside these scripts, so every step is atomic across processes.

// KEYS: account set, expiry set. ARGV: agentId, until, now, expiry member.
// Returns 1 when the agent was offline at `now` (the caller records agent.online).
const MARK_ONLINE = `
local previous = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
local untilMs = tonumber(ARGV[2])
if previous and previous > untilMs then untilMs = previous end
redis.call('ZADD', KEYS[1], untilMs, ARGV[1])
redis.call('ZADD', KEYS[2], untilMs, ARGV[4])
if previous and previous > tonumber(ARGV[3]) then return 0 end
return 1`

// KEYS: expiry set. ARGV: now, account key prefix, limit. Removes and returns expired members.
const TAKE_EXPIRED = `
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(expired) do
  redis.call('ZREM', KEYS[1], member)
  local sep = string.find(member, '\\n', 1, true)
  redis.call('ZREM', ARGV[2] .. string.sub(member, 1, sep - 1), string.sub(member, sep + 1))
end
return expired`

const SWEEP_BATCH = 1000

/** Presence shared by every Parley process through Redis. */
export async function createRedisPresence(url: string, prefix: string): Promise<Presence> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 })
  redis.on('error', () => {})
  await redis.connect()
  const accountPrefix = `${prefix}:presence:`
  const expiryKey = `${prefix}:presence-expiry`
  return {
    async markOnline(accountId, agentId, until, now) {
      const cameOnline = await redis.eval(
        MARK_ONLINE,
        2,
        accountPrefix + accountId,
        expiryKey,
        agentId,
        until,
        now,
        `${accountId}\n${agentId}`,
      )
      return cameOnline === 1
    },
    async onlineAgents(accountId, now) {
      return redis.zrangebyscore(accountPrefix + accountId, `(${now}`, '+inf')
    },
    async takeExpired(now) {
      const members = (await redis.eval(TAKE_EXPIRED, 1, expiryKey, now, accountPrefix, SWEEP_BATCH)) as string[]
      return members.map((member) => {
        const sep = member.indexOf('\n')
        return { accountId: member.slice(0, sep), agentId: member.slice(sep + 1) }
      })
    },
    async close() {
      await redis.quit().catch(() => {})
    },
  }
}
