import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect, sql } from 'kysely'
import type { Storage, Tx } from '../../ports/storage.js'
import { migrateToLatest } from './migrations.js'
import { createRepos } from './repos.js'
import type { Database } from './schema.js'
import { createTx, runCommitHooks } from './transaction.js'

interface PendingUnit {
  fn: (tx: Tx) => Promise<unknown>
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
}

/**
 * SQLite in WAL mode with `synchronous=FULL`: a transaction resolves only after its commit reached
 * the disk. Concurrent transactions share one commit (group commit): every unit that arrived while
 * the previous batch was being written runs in its own savepoint inside one BEGIN…COMMIT, so one
 * fsync serves them all and a failing unit rolls back alone.
 */
export function createSqliteStorage(path: string): Storage {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const database = new BetterSqlite3(path)
  database.pragma('journal_mode = WAL')
  database.pragma('synchronous = FULL')
  database.pragma('foreign_keys = ON')
  database.pragma('busy_timeout = 5000')
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) })

  let queue: PendingUnit[] = []
  let flushing = false

  async function runBatch(batch: PendingUnit[]): Promise<void> {
    const outcomes: Array<{ ok: boolean; value: unknown; hooks: Array<() => void> }> = []
    try {
      await db.connection().execute(async (conn) => {
        await sql`begin immediate`.execute(conn)
        try {
          for (const unit of batch) {
            const { tx, hooks } = createTx(conn)
            await sql`savepoint unit`.execute(conn)
            try {
              const value = await unit.fn(tx)
              await sql`release unit`.execute(conn)
              outcomes.push({ ok: true, value, hooks })
            } catch (err) {
              await sql`rollback to unit`.execute(conn)
              await sql`release unit`.execute(conn)
              outcomes.push({ ok: false, value: err, hooks })
            }
          }
          await sql`commit`.execute(conn)
        } catch (err) {
          if (database.inTransaction) await sql`rollback`.execute(conn)
          throw err
        }
      })
    } catch (err) {
      for (const unit of batch) unit.reject(err)
      return
    }
    batch.forEach((unit, i) => {
      const outcome = outcomes[i]
      if (outcome.ok) {
        runCommitHooks(outcome.hooks)
        unit.resolve(outcome.value)
      } else {
        unit.reject(outcome.value)
      }
    })
  }

  async function flush(): Promise<void> {
    flushing = true
    try {
      while (queue.length > 0) {
        const batch = queue
        queue = []
        await runBatch(batch)
      }
    } finally {
      flushing = false
    }
  }

  return {
    read: createRepos(db),
    transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ fn, resolve: resolve as (v: unknown) => void, reject })
        // Wait for the I/O phase to finish so every request read in it joins this batch.
        if (!flushing && queue.length === 1) setImmediate(flush)
      })
    },
    migrate: () => migrateToLatest(db),
    async ping() {
      await sql`select 1`.execute(db)
    },
    async close() {
      while (flushing || queue.length > 0) await new Promise((r) => setImmediate(r))
      await db.destroy()
    },
  }
}
