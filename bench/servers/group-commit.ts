// The floors' durable writer (bench/servers/floor.ts, ws-baseline.ts --durable): the least a
// server must do so that an answer follows its write onto the disk, on better-sqlite3 with nothing
// of Parley. Writes read in one turn of the event loop share one BEGIN…COMMIT (no savepoints: a
// floor's writes do not fail halfway), then one fdatasync of the WAL before any of them resolves:
// on the event loop for a lone write, on a libuv thread for several, as Parley's own storage does.
// The next batch starts once the sync returned.
import fs from 'node:fs'
import type BetterSqlite3 from 'better-sqlite3'

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
 * `db` must be in WAL mode with `synchronous = NORMAL`: this writer does the syncing.
 * `beforeCommit` runs in each batch's transaction after its last write.
 */
export function groupCommit(db: BetterSqlite3.Database, walPath: string, beforeCommit?: () => void): GroupCommit {
  const begin = db.prepare('begin immediate')
  const commit = db.prepare('commit')
  const rollback = db.prepare('rollback')
  const wal = fs.openSync(walPath, 'r+')
  let queue: Pending[] = []
  let busy = false

  function sync(units: number, then: (err: Error | null) => void): void {
    if (units > 1) return fs.fdatasync(wal, then)
    try {
      fs.fdatasyncSync(wal)
    } catch (err) {
      return then(err as Error)
    }
    then(null)
  }

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
    sync(batch.length, (err) => {
      batch.forEach((p, i) => (err ? p.reject(err) : p.resolve(results[i])))
      next()
    })
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
      fs.closeSync(wal)
    },
  }
}
