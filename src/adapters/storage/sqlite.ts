import fs from 'node:fs'
import { dirname } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect, sql, type SqliteDatabase } from 'kysely'
import type { Logger } from '../../logger.js'
import type { Repos, Storage, TransactionOptions, Tx } from '../../ports/storage.js'
import { startCheckpointer } from './checkpointer.js'
import { migrateToLatest } from './migrations.js'
import { createDirectPreparedQueries, createPreparedQueries } from './prepared.js'
import { createRepos, type EventSequence } from './repos.js'
import type { Database } from './schema.js'
import { createTx, runCommitHooks } from './transaction.js'

interface PendingUnit {
  fn: (tx: Tx) => Promise<unknown>
  /** Waits for the WAL's sync (see TransactionOptions). */
  durable: boolean
  /** Keeps its batch's sync off the event loop (see TransactionOptions). */
  background: boolean
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
}

const STATEMENT_CACHE_SIZE = 500
/**
 * WAL frames after which a commit checkpoints itself (SQLite's autocheckpoint, run on the event
 * loop). The worker thread normally keeps the WAL short of this; see below.
 */
const AUTOCHECKPOINT_FRAMES = 10_000
/** A WAL grown past this by a burst is cut back to it when SQLite starts it over. */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024

export interface SqliteOptions {
  /** For tests: see AUTOCHECKPOINT_FRAMES. */
  autocheckpointFrames?: number
  logger?: Logger
}

/**
 * Kysely prepares every query it runs, and preparing (compiling the SQL to bytecode) costs more
 * than running most of ours: about 20 µs against 5–15 µs. The same SQL text gets the same prepared
 * statement back.
 */
function withStatementCache(database: BetterSqlite3.Database): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>()
  return {
    close: () => database.close(),
    prepare(sql) {
      const cached = cache.get(sql)
      // A statement still being iterated (a streamed query) cannot run again until it finishes.
      if (cached && !cached.busy) return cached
      const statement = database.prepare(sql)
      // Parameters are bound, so the set of texts is small; the bound only guards against surprises.
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!)
      cache.set(sql, statement)
      return statement
    },
  }
}

/**
 * Batches of up to this many units, none of them `background`, sync on the event loop. At a live
 * chat's pace most batches hold one to a few messages, and a hand-off to a libuv thread and back
 * cost them more than the requests the loop could have read meanwhile: realtime benchmark, eight
 * runs each, p99 7.35 ms at the median against 8.1 with lone units only. A webhook drain's claims
 * and outcomes stay off the loop: synced on it, they held back the answers of the deliveries in
 * flight, and webhook latency's p99 rose by half (README, "Night of 2026-12-05, second session").
 * Bigger batches come from heavy load, where reading the next requests during the sync pays.
 */
const INLINE_SYNC_MAX_UNITS = 4
/**
 * Where small batches sync follows how long syncs take lately: a moving average that gives the
 * newest sync this weight. Once it passes `STRUGGLING_DISK_MS` they sync off the event loop, so a
 * struggling disk stalls writes only and not every socket; once it is back under `HEALTHY_DISK_MS`
 * they return. One slow sync among fast ones moves nothing (a 15 ms stall after 0.4 ms syncs makes
 * the average 4 ms): such blips came once or twice in 6,000 syncs on the benchmark VM, and each
 * used to send every sync off the loop for 10 s, which cost realtime's p99 more than the blip
 * itself (README, "Night of 2026-12-06"). A disk that stays slow still moves them within a few
 * syncs: four of 15 ms, two of 30 ms, one of 50 ms.
 */
const SYNC_AVERAGE_WEIGHT = 0.25
const STRUGGLING_DISK_MS = 10
const HEALTHY_DISK_MS = 2.5

/**
 * Makes committed WAL frames durable. SQLite runs with `synchronous=NORMAL` (a commit appends
 * checksummed frames to the WAL and does not sync; the WAL is synced before every checkpoint), and
 * each batch is acknowledged only after an fdatasync of the WAL that started after its COMMIT: the
 * same guarantee as `synchronous=FULL`.
 *
 * A big batch, or one with `background` work, syncs on a libuv thread while the event loop goes
 * on, so the requests read meanwhile form the next batch. A small one (`INLINE_SYNC_MAX_UNITS`)
 * syncs on the event loop itself: that spares two hand-offs between threads, which on a small busy
 * machine were most of a lone message's latency tail (README, "Late evening of 2026-12-05"). Should
 * syncs take long lately, they leave the event loop until they are quick again
 * (`STRUGGLING_DISK_MS`). The benchmarks' floors sync the same way.
 */
export function createWalSync(walPath: string) {
  let fd: number | undefined
  /** Recent syncs' moving average, in ms: of inline ones, and of off-loop ones while `struggling`. */
  let recentMs = 0
  let struggling = false
  const descriptor = () => (fd ??= fs.openSync(walPath, 'r+'))
  const took = (ms: number) => {
    recentMs += (ms - recentMs) * SYNC_AVERAGE_WEIGHT
    if (recentMs > STRUGGLING_DISK_MS) struggling = true
    else if (recentMs < HEALTHY_DISK_MS) struggling = false
  }
  return {
    /** Syncs `units` committed units; `background`: some are (see TransactionOptions). */
    sync(units: number, background = false): Promise<void> {
      const target = descriptor()
      const start = performance.now()
      if (units <= INLINE_SYNC_MAX_UNITS && !background && !struggling) {
        try {
          fs.fdatasyncSync(target)
        } catch (err) {
          return Promise.reject(err)
        }
        took(performance.now() - start)
        return Promise.resolve()
      }
      // Off the loop, a sync is timed only to see a struggling disk recover: the time includes
      // the hand-off both ways and a busy loop's delay in taking the answer back, so it can only
      // overstate the disk's.
      const timed = struggling
      return new Promise((resolve, reject) =>
        fs.fdatasync(target, (err) => {
          if (timed) took(performance.now() - start)
          if (err) reject(err)
          else resolve()
        }),
      )
    },
    close(): void {
      if (fd !== undefined) fs.closeSync(fd)
      fd = undefined
    },
  }
}

interface SeqStatements {
  lastSeq: BetterSqlite3.Statement
  setLastSeq: BetterSqlite3.Statement
}

/**
 * The event seqs of a batch (one instance serves every batch, `begin` starting each). Each
 * account's last seq lives in its row; the batch reads it once, hands out the next ones itself and
 * writes the last back once before COMMIT, instead of an `UPDATE … RETURNING` per event. That is
 * exact because the batch holds SQLite's write lock from BEGIN IMMEDIATE to COMMIT: no other
 * writer, in this process or another, appends meanwhile. What a unit took is given back when its
 * savepoint rolls back, so seqs stay gapless.
 */
class BatchSequence implements EventSequence {
  #statements: SeqStatements
  #handedOut = new Map<string, number>()
  /** What the current unit changed: account and the value before, to undo in reverse. */
  #undo: Array<[string, number | undefined]> = []

  constructor(statements: SeqStatements) {
    this.#statements = statements
  }

  /** Starts a batch: every account's last seq is read afresh from its row. */
  begin(): void {
    this.#handedOut.clear()
    this.#undo.length = 0
  }

  next(accountId: string): number {
    const before = this.#handedOut.get(accountId)
    let last = before
    if (last === undefined) {
      const stored = this.#statements.lastSeq.get(accountId) as number | undefined
      if (stored === undefined) throw new Error(`no account ${accountId}`)
      last = Number(stored)
    }
    this.#undo.push([accountId, before])
    this.#handedOut.set(accountId, last + 1)
    return last + 1
  }

  last(accountId: string): number | undefined {
    return this.#handedOut.get(accountId)
  }

  beginUnit(): void {
    this.#undo.length = 0
  }

  rollBackUnit(): void {
    for (let i = this.#undo.length - 1; i >= 0; i--) {
      const [accountId, before] = this.#undo[i]
      if (before === undefined) this.#handedOut.delete(accountId)
      else this.#handedOut.set(accountId, before)
    }
    this.#undo.length = 0
  }

  /** Stores each account's last seq; runs after the last unit, before COMMIT. */
  writeBack(): void {
    for (const [accountId, seq] of this.#handedOut) this.#statements.setLastSeq.run(seq, accountId)
  }
}

/**
 * Reads on their own connection share one read transaction per turn of the event loop: outside
 * a transaction every statement takes and drops SQLite's shared locks itself (a few system calls
 * that cost more than the lookup). The snapshot ends at the next check phase, and before every
 * batch settles, so no acknowledged write is ever missing from a later read.
 */
function createReadSnapshots(reader: BetterSqlite3.Database) {
  const begin = reader.prepare('begin')
  const end = reader.prepare('rollback')
  let open = false
  function close(): void {
    if (!open) return
    open = false
    // The storage may have closed the connection since (a snapshot ends with its connection).
    if (reader.open && reader.inTransaction) end.run()
  }
  return {
    enter(): void {
      if (open) return
      begin.run()
      open = true
      setImmediate(close)
    },
    close,
  }
}

/**
 * SQLite in WAL mode; a transaction resolves only after its commit reached the disk. Concurrent
 * transactions share one commit (group commit): every unit that arrived while the previous batch
 * was being written runs in its own savepoint inside one BEGIN…COMMIT, so one sync serves them
 * all and a failing unit rolls back alone.
 */
export function createSqliteStorage(path: string, options: SqliteOptions = {}): Storage {
  const inMemory = path === ':memory:'
  if (!inMemory) fs.mkdirSync(dirname(path), { recursive: true })
  const database = new BetterSqlite3(path)
  database.pragma('journal_mode = WAL')
  database.pragma('synchronous = NORMAL')
  // @NOTE Checkpoints. A worker thread copies committed frames into the database file, off the
  // event loop (checkpointer.ts); when it has caught up between two commits, the next commit
  // starts the WAL over. Under sustained writes it never quite catches up (frames keep arriving
  // while it copies), and a WAL that is never started over grows without end: 1.6 GB in 20 s of
  // the POST benchmark. So commits still checkpoint themselves every ~40 MB of WAL (not SQLite's 4 MB: hot
  // pages are rewritten in many commits and copied once per checkpoint); run by the writer between
  // two commits, that checkpoint always completes, and with the worker's copying done it has
  // little left to copy. Should the worker fail, this alone is the old behaviour.
  const autocheckpointFrames = options.autocheckpointFrames ?? AUTOCHECKPOINT_FRAMES
  database.pragma(`wal_autocheckpoint = ${autocheckpointFrames}`)
  database.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`)
  const checkpointer = inMemory
    ? undefined
    : startCheckpointer(path, (err) => options.logger?.warn({ err }, 'WAL checkpoints are back on the event loop'))
  const wal = inMemory ? undefined : createWalSync(`${path}-wal`)
  // Savepoint and statement journals (every unit of a batch runs in a savepoint) in memory: by
  // default one that outgrows 64 KiB spills to a new file under /var/tmp, which SQLite creates,
  // writes, and unlinks: dozens of files a second when a webhook drain records 32 outcomes at once.
  database.pragma('temp_store = MEMORY')
  database.pragma('foreign_keys = ON')
  database.pragma('busy_timeout = 5000')
  const writer = withStatementCache(database)
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: writer }) })
  // A batch has the writer to itself (`withWriter`: no migration, no `:memory:` read meanwhile),
  // and runs its statements through repositories made once: the hot ones
  // straight on the writer, the rest through a Kysely of its own on the same connection, whose
  // driver nothing else contends for. Made per batch, they were 8% of what the realtime
  // benchmark allocated.
  const writePrepared = createDirectPreparedQueries(database)
  const batchDb = new Kysely<Database>({ dialect: new SqliteDialect({ database: writer }) })
  const control = {
    begin: database.prepare('begin immediate'),
    savepoint: database.prepare('savepoint unit'),
    release: database.prepare('release unit'),
    rollbackTo: database.prepare('rollback to unit'),
    commit: database.prepare('commit'),
    rollback: database.prepare('rollback'),
  }
  // Made on first use: the account table exists only once migrations ran.
  let batchRepos: { repos: Repos; sequence: BatchSequence } | undefined
  function makeBatchRepos() {
    const sequence = new BatchSequence({
      lastSeq: database.prepare('select last_seq from account where id = ?').pluck(),
      setLastSeq: database.prepare('update account set last_seq = ? where id = ?'),
    })
    return { repos: createRepos(batchDb, writePrepared, sequence), sequence }
  }

  // A file database gets a second connection for reads: WAL readers see the last commit, never a
  // batch in progress, so reads need not wait for the writer. `:memory:` is one database per
  // connection: its reads go through Kysely, whose connection mutex makes them wait for a batch.
  const reader = inMemory ? undefined : new BetterSqlite3(path)
  reader?.pragma('query_only = ON')
  reader?.pragma('busy_timeout = 5000')
  const snapshots = reader && createReadSnapshots(reader)
  const readDb = reader ? new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(reader) }) }) : db
  const readPrepared = reader && snapshots ? createDirectPreparedQueries(reader, snapshots.enter) : createPreparedQueries()

  let queue: PendingUnit[] = []
  let flushing = false
  /** Migrations in progress: batches wait for them, and they for the batch in progress. */
  let migrating: Promise<void> | undefined

  /** Resolves once no migration is in progress, whether the last one failed or not. */
  async function migrationsSettled(): Promise<void> {
    while (migrating) await migrating.catch(() => {})
  }

  /**
   * Runs `write` with the writer's connection to itself. `:memory:` reads go through `db` and so
   * through Kysely's connection mutex, which a batch takes too. A file database's `db` serves
   * migrations only, so a batch there just waits out a migration: taking Kysely's connection
   * builds a Kysely, an executor and a provider each time, which cost messages written one at a
   * time about 7% of their CPU (README, Benchmarks, "Late night of 2026-12-05").
   */
  async function withWriter(write: () => Promise<void>): Promise<void> {
    if (inMemory) return db.connection().execute(write)
    await migrationsSettled()
    return write()
  }

  async function runBatch(batch: PendingUnit[]): Promise<void> {
    const outcomes: Array<{ ok: boolean; value: unknown; hooks: Array<() => void> }> = []
    try {
      // An open read snapshot would keep the checkpoint from reaching the end of the WAL.
      snapshots?.close()
      await withWriter(async () => {
        const { repos, sequence } = (batchRepos ??= makeBatchRepos())
        sequence.begin()
        control.begin.run()
        try {
          for (const unit of batch) {
            const { tx, hooks } = createTx(repos)
            sequence.beginUnit()
            control.savepoint.run()
            try {
              const value = await unit.fn(tx)
              control.release.run()
              outcomes.push({ ok: true, value, hooks })
            } catch (err) {
              control.rollbackTo.run()
              control.release.run()
              sequence.rollBackUnit()
              outcomes.push({ ok: false, value: err, hooks })
            }
          }
          sequence.writeBack()
          control.commit.run()
        } catch (err) {
          if (database.inTransaction) control.rollback.run()
          throw err
        }
      })
    } catch (err) {
      for (const unit of batch) unit.reject(err)
      return
    }
    // While the disk syncs, the event loop keeps reading requests: they form the next batch, so
    // batches grow with load (and each commit rewrites shared pages once for many messages). A
    // small batch syncs on the event loop: requests that arrive meanwhile wait in their sockets and
    // are read together once it returns, so under load batches still grow and sync off the loop.
    // A batch of non-durable units alone skips the sync; the next sync covers its frames too.
    try {
      if (wal && batch.some((unit) => unit.durable)) await wal.sync(batch.length, batch.some((unit) => unit.background))
    } catch (err) {
      for (const unit of batch) unit.reject(err)
      return
    }
    settle(batch, outcomes)
  }

  function settle(batch: PendingUnit[], outcomes: Array<{ ok: boolean; value: unknown; hooks: Array<() => void> }>): void {
    // A read that follows an acknowledgement must see the write: no snapshot from before it.
    snapshots?.close()
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
    read: createRepos(readDb, readPrepared),
    transaction<T>(fn: (tx: Tx) => Promise<T>, options?: TransactionOptions): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({
          fn,
          durable: options?.durable !== false,
          background: options?.background === true,
          resolve: resolve as (v: unknown) => void,
          reject,
        })
        // Wait for the I/O phase to finish so every request read in it joins this batch.
        if (!flushing && queue.length === 1) setImmediate(flush)
      })
    },
    async migrate() {
      await migrationsSettled()
      while (flushing) await new Promise((resolve) => setImmediate(resolve))
      migrating = migrateToLatest(db)
      try {
        await migrating
      } finally {
        migrating = undefined
      }
    },
    async ping() {
      await sql`select 1`.execute(readDb)
    },
    async close() {
      while (flushing || queue.length > 0) await new Promise((r) => setImmediate(r))
      snapshots?.close()
      await checkpointer?.stop()
      if (readDb !== db) await readDb.destroy()
      await db.destroy()
      wal?.close()
    },
  }
}
