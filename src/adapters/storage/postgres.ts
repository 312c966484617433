import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import type { Logger } from '../../logger.js'
import type { Storage } from '../../ports/storage.js'
import { migrateToLatest } from './migrations.js'
import { createPreparedQueries } from './prepared.js'
import { createRepos } from './repos.js'
import type { Database } from './schema.js'
import { createTx, runCommitHooks } from './transaction.js'

const INT8_OID = 20

/** PostgreSQL: the database for more than one Parley process. */
export function createPostgresStorage(connectionString: string, options: { poolSize?: number; logger?: Logger } = {}): Storage {
  const pool = new pg.Pool({
    connectionString,
    max: options.poolSize ?? 10,
    // Times and sequence numbers are bigint; they fit a double for the next few hundred millennia.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  })
  // An idle client whose server connection ends (a PostgreSQL restart, a terminated backend)
  // is reported here and then dropped by the pool; unheard, it would crash the process. The next
  // query opens a fresh connection.
  pool.on('error', (err) => options.logger?.warn({ err }, 'an idle PostgreSQL connection was lost'))
  const prepared = createPreparedQueries()
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })

  return {
    read: createRepos(db, prepared),
    async transaction(fn, options) {
      let hooks: Array<() => void> = []
      const result = await db.transaction().execute(async (trx) => {
        // PostgreSQL's own form of the same promise: the commit returns before its WAL is flushed.
        if (options?.durable === false) await sql`set local synchronous_commit = off`.execute(trx)
        const created = createTx(createRepos(trx, prepared))
        hooks = created.hooks
        return fn(created.tx)
      })
      runCommitHooks(hooks)
      return result
    },
    migrate: () => migrateToLatest(db),
    async ping() {
      await sql`select 1`.execute(db)
    },
    close: () => db.destroy(),
  }
}
