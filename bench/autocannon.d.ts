// The few parts of autocannon 9's programmatic API the benchmarks use (it ships no types).
declare module 'autocannon' {
  interface Request {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string | Buffer
  }

  interface Client {
    setRequests(requests: Request[]): void
  }

  interface Options {
    url: string
    connections?: number
    pipelining?: number
    duration?: number
    timeout?: number
    method?: string
    headers?: Record<string, string>
    body?: string | Buffer
    requests?: Request[]
    setupClient?: (client: Client) => void
  }

  interface Histogram {
    average: number
    mean: number
    stddev: number
    min: number
    max: number
    total: number
    p50: number
    p90: number
    p99: number
    [percentile: string]: number
  }

  interface Result {
    duration: number
    errors: number
    timeouts: number
    mismatches: number
    non2xx: number
    resets: number
    '2xx': number
    statusCodeStats: Record<string, { count: number }>
    latency: Histogram
    requests: Histogram & { sent: number }
    throughput: Histogram
  }

  /** Thenable (it has `then` only, no `catch`/`finally`) and an EventEmitter. */
  interface Instance extends PromiseLike<Result> {
    stop(): void
    /** Every response; `responseTime` in milliseconds, fractional. */
    on(event: 'response', listener: (client: Client, statusCode: number, resBytes: number, responseTime: number) => void): this
  }

  function autocannon(options: Options): Instance

  export default autocannon
  export type { Client, Histogram, Instance, Options, Request, Result }
}
