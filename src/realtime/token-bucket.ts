/**
 * A token bucket: `capacity` actions at once, refilled at `perMinute`. Time is passed in, so the
 * caller's clock (a fixed one in tests) decides.
 */
export class TokenBucket {
  private tokens: number
  private updatedAt: number

  constructor(
    private readonly capacity: number,
    private readonly perMinute: number,
    now: number,
  ) {
    this.tokens = capacity
    this.updatedAt = now
  }

  /** Takes one token; returns 0 when granted, else the milliseconds until one is available. */
  take(now: number): number {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.updatedAt) * this.perMinute) / 60_000)
    this.updatedAt = now
    if (this.tokens >= 1) {
      this.tokens -= 1
      return 0
    }
    return Math.ceil(((1 - this.tokens) * 60_000) / this.perMinute)
  }

  /** Full again: nothing to remember. */
  idle(now: number): boolean {
    return this.tokens + ((now - this.updatedAt) * this.perMinute) / 60_000 >= this.capacity
  }
}
