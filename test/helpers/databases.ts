import { describe } from 'vitest'
import { postgresAvailable } from './postgres.js'
import { redisAvailable } from './redis.js'

export type DbKind = 'sqlite' | 'postgres'

const [pgUp, redisUp] = await Promise.all([postgresAvailable(), redisAvailable()])
const inCi = process.env.CI === 'true'

if (!pgUp && !inCi) {
  console.warn('PostgreSQL is not reachable at 127.0.0.1:5432: the PostgreSQL variants of these suites are skipped')
}

/**
 * Declares the suite once per database. Without PostgreSQL the postgres variant is skipped with a
 * visible line, except under CI=true, where it runs and fails: absence is a failure there.
 */
export function describeEachDb(name: string, fn: (db: DbKind) => void): void {
  for (const db of ['sqlite', 'postgres'] as const) {
    const run = db === 'sqlite' || pgUp || inCi
    ;(run ? describe : describe.skip)(`${name} [${db}]`, () => fn(db))
  }
}

/** A suite that needs PostgreSQL alone; skipped or failed on its absence by the same rule. */
export function describePostgres(name: string, fn: () => void): void {
  ;(pgUp || inCi ? describe : describe.skip)(name, fn)
}

if (!redisUp && !inCi) {
  console.warn('Redis is not reachable at 127.0.0.1:6379: the Redis suites are skipped')
}

/** A suite that needs Redis; skipped or failed on its absence by the same rule. */
export function describeRedis(name: string, fn: () => void): void {
  ;(redisUp || inCi ? describe : describe.skip)(name, fn)
}
