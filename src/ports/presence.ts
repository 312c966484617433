export interface Presence {
  /** Marks the agent online until `until` (epoch ms); later pings extend it. */
  markOnline(accountId: string, agentId: string, until: number): Promise<void>
  /** Agent ids online at `now`. */
  onlineAgents(accountId: string, now: number): Promise<string[]>
  close(): Promise<void>
}
