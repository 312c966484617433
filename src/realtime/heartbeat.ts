/**
 * A tick every 100 ms at most often: 300 slices of the default 30 s heartbeat. A ping is a socket
 * write, 50-100 µs of system call on a small VM, so even a thirtieth of 5,000 sockets at once is
 * a 10-20 ms stall; a three-hundredth is 1-2 ms. Shorter ticks cost more in timers than they spread.
 */
const MIN_TICK_MS = 100
const MAX_SLOTS = 600

/**
 * Visits every item once per `periodMs`, a slice per tick instead of all at once: pinging 5,000
 * sockets in one turn of the event loop stalls every message behind it for hundreds of
 * milliseconds, while a few of them every 100 ms go unnoticed. Items are dealt to the
 * slices in turn, so a burst of connections is spread as evenly as a trickle.
 */
export class HeartbeatWheel<T> {
  private readonly slots: Array<Set<T>>
  private dealt = 0
  private tick = 0
  private readonly timer: NodeJS.Timeout

  /**
   * `visit` sees each item of the slice due; `afterRound` runs once every full period, after the
   * last slice.
   */
  constructor(periodMs: number, visit: (item: T, now: number) => void, afterRound: () => void = () => {}) {
    const count = Math.max(1, Math.min(MAX_SLOTS, Math.floor(periodMs / MIN_TICK_MS)))
    this.slots = Array.from({ length: count }, () => new Set<T>())
    this.timer = setInterval(() => {
      const now = Date.now()
      // A visit may remove the item (a closed socket); iterating a copy keeps the order plain.
      for (const item of [...this.slots[this.tick]]) visit(item, now)
      this.tick = (this.tick + 1) % count
      if (this.tick === 0) afterRound()
    }, periodMs / count).unref()
  }

  add(item: T): void {
    this.slots[this.dealt].add(item)
    this.dealt = (this.dealt + 1) % this.slots.length
  }

  delete(item: T): void {
    for (const slot of this.slots) if (slot.delete(item)) return
  }

  /** Every item, in no particular order. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (const slot of this.slots) yield* slot
  }

  stop(): void {
    clearInterval(this.timer)
  }
}
