// The floors' durable writer (bench/servers/floor.ts, ws-baseline.ts --durable): the least a
// server must do so that an answer follows its write onto the disk, on better-sqlite3 with nothing
// of Parley's storage but its WAL sync. Writes read in one turn of the event loop share one
// BEGIN…COMMIT (no savepoints: a floor's writes do not fail halfway), then one fdatasync of the WAL
// before any of them resolves, made by `createWalSync` as Parley's own storage makes it (on the
// event loop for a batch of up to four writes, on a libuv thread for more). The next batch starts
// once the sync returned.
import type BetterSqlite3 from 'better-sqlite3'
import { createWalSync } from '../../src/adapters/storage/sqlite.js'

interface Pending {
  work: () => unknown
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
}

export interface GroupCommit {
  /** Runs `work` inside the next commit and resolves with its result once the commit is on disk. */
  write<T>(work: () => T): Promise<T>
  close(): void
}

/**
 * Puts the file database `db` in WAL mode with `synchronous = NORMAL` (this writer does the syncing)
 * and Parley's checkpoint interval. `beforeCommit` runs in each batch's transaction after its last
 * write.
 */
export function groupCommit(db: BetterSqlite3.Database, beforeCommit?: () => void): GroupCommit {
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('wal_autocheckpoint = 10000')
  const begin = db.prepare('begin immediate')
  const commit = db.prepare('commit')
  const rollback = db.prepare('rollback')
  const wal = createWalSync(`${db.name}-wal`)
  let queue: Pending[] = []
  let busy = false

  function flush(): void {
    const batch = queue
    queue = []
    const results: unknown[] = []
    try {
      begin.run()
      for (const p of batch) results.push(p.work())
      beforeCommit?.()
      commit.run()
    } catch (err) {
      if (db.inTransaction) rollback.run()
      for (const p of batch) p.reject(err)
      return next()
    }
    wal.sync(batch.length).then(
      () => batch.forEach((p, i) => p.resolve(results[i])),
      (err) => batch.forEach((p) => p.reject(err)),
    ).finally(next)
  }

  function next(): void {
    busy = queue.length > 0
    if (busy) setImmediate(flush)
  }

  return {
    write<T>(work: () => T): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ work, resolve: resolve as (value: unknown) => void, reject })
        if (!busy) {
          busy = true
          setImmediate(flush)
        }
      })
    },
    close(): void {
      wal.close()
    },
  }
}
