export interface Presence {
  /**
   * Marks the agent online until `until` (epoch ms); later pings extend it. Resolves true when the
   * agent was offline at `now`: that check and the mark are one atomic step, so of two simultaneous
   * pings only one sees the transition.
   */
  markOnline(accountId: string, agentId: string, until: number, now: number): Promise<boolean>
  /** Agent ids online at `now`. */
  onlineAgents(accountId: string, now: number): Promise<string[]>
  /**
   * Forgets agents whose time ran out by `now` and returns them. Atomic: of several processes
   * sweeping at once, each expired agent is returned to exactly one.
   */
  takeExpired(now: number): Promise<Array<{ accountId: string; agentId: string }>>
  close(): Promise<void>
}
