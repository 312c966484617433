import fs, { mkdtempSync, readlinkSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { expect, it, vi } from 'vitest'
import { createSqliteStorage } from './sqlite.js'
import { runStorageContract } from './storage.contract.js'

function tempDir(): { path: string; remove: () => Promise<void> } {
  const path = mkdtempSync(join(tmpdir(), 'parley-sqlite-'))
  return { path, remove: async () => rmSync(path, { recursive: true, force: true }) }
}

runStorageContract('sqlite file', async () => {
  const dir = tempDir()
  const storage = createSqliteStorage(join(dir.path, 'parley.db'))
  return {
    storage,
    async cleanup() {
      await storage.close()
      await dir.remove()
    },
  }
})

runStorageContract('sqlite :memory:', async () => {
  const storage = createSqliteStorage(':memory:')
  return { storage, cleanup: () => storage.close() }
})

it('sqlite: keeps what a resolved transaction committed across close and reopen', async () => {
  const dir = tempDir()
  const file = join(dir.path, 'nested', 'parley.db')
  try {
    const account = { id: 'acc-reopen', name: 'Acme', widgetId: 'widget-reopen', createdAt: 1_700_000_000_000 }
    const first = createSqliteStorage(file)
    await first.migrate()
    await first.transaction(async (tx) => {
      await tx.accounts.insert(account)
      await tx.events.append(account.id, { type: 'agent.online', payload: { agentId: 'a', until: 1 } }, 2)
    })
    await first.close()

    const second = createSqliteStorage(file)
    await second.migrate()
    expect(await second.read.accounts.get(account.id)).toEqual(account)
    expect((await second.read.events.listAfter(account.id, 0, 10)).map((e) => e.seq)).toEqual([1])
    await second.close()
  } finally {
    await dir.remove()
  }
})

it('sqlite: syncs the WAL before a durable transaction resolves, a small batch on the event loop and a big or background one off it, and not for a batch of non-durable ones alone', async () => {
  const dir = tempDir()
  const file = join(dir.path, 'parley.db')
  const storage = createSqliteStorage(file)
  const inline = vi.spyOn(fs, 'fdatasyncSync')
  const offLoop = vi.spyOn(fs, 'fdatasync')
  try {
    await storage.migrate()
    const account = (n: number) => ({ id: `acc-sync-${n}`, name: 'Acme', widgetId: `widget-sync-${n}`, createdAt: 1 })
    await storage.transaction((tx) => tx.accounts.insert(account(1)))
    expect([inline.mock.calls.length, offLoop.mock.calls.length]).toEqual([1, 0])

    await Promise.all([
      storage.transaction((tx) => tx.accounts.insert(account(2)), { durable: false }),
      storage.transaction((tx) => tx.accounts.insert(account(3)), { durable: false }),
    ])
    expect([inline.mock.calls.length, offLoop.mock.calls.length]).toEqual([1, 0])
    // Committed all the same, and seen by reads.
    expect(await storage.read.accounts.get('acc-sync-3')).toEqual(account(3))

    // Sharing a batch with a durable one, a non-durable unit waits for its sync like the rest; a
    // batch of up to four syncs on the event loop too.
    await Promise.all([
      storage.transaction((tx) => tx.accounts.insert(account(4)), { durable: false }),
      storage.transaction((tx) => tx.accounts.insert(account(5))),
    ])
    expect([inline.mock.calls.length, offLoop.mock.calls.length]).toEqual([2, 0])
    // A bigger one syncs off the event loop, while the next batch gathers...
    await Promise.all([6, 7, 8, 9, 10].map((n) => storage.transaction((tx) => tx.accounts.insert(account(n)))))
    expect([inline.mock.calls.length, offLoop.mock.calls.length]).toEqual([2, 1])
    expect(await storage.read.accounts.get('acc-sync-10')).toEqual(account(10))
    // ...and so does a small one with background work in it, even a lone one.
    await Promise.all([
      storage.transaction((tx) => tx.accounts.insert(account(11)), { background: true }),
      storage.transaction((tx) => tx.accounts.insert(account(12))),
    ])
    await storage.transaction((tx) => tx.accounts.insert(account(13)), { background: true })
    expect([inline.mock.calls.length, offLoop.mock.calls.length]).toEqual([2, 3])
    const walDescriptor = offLoop.mock.calls[0][0]
    expect(inline.mock.calls[0][0]).toBe(walDescriptor)
    expect(readlinkSync(`/proc/self/fd/${walDescriptor}`)).toBe(`${file}-wal`)
  } finally {
    inline.mockRestore()
    offLoop.mockRestore()
    await storage.close()
    await dir.remove()
  }
})

it('sqlite: a lone slow sync leaves small batches on the event loop; a struggling disk sends them off it until it recovers', async () => {
  const dir = tempDir()
  const storage = createSqliteStorage(join(dir.path, 'parley.db'))
  // The disk is played by these two: a sync on the loop takes `stallMs`, one off it a turn of the
  // loop, whatever the machine running the tests is doing meanwhile.
  let stallMs = 0
  const inline = vi.spyOn(fs, 'fdatasyncSync').mockImplementation(() => {
    const until = performance.now() + stallMs
    while (performance.now() < until);
  })
  const offLoop = vi.spyOn(fs, 'fdatasync').mockImplementation(((_fd: number, done: (err: null) => void) => {
    setImmediate(done, null)
  }) as typeof fs.fdatasync)
  let n = 0
  const write = () => {
    const id = `acc-stall-${++n}`
    return storage.transaction((tx) => tx.accounts.insert({ id, name: 'Acme', widgetId: `widget-${id}`, createdAt: 1 }))
  }
  const counts = () => [inline.mock.calls.length, offLoop.mock.calls.length]
  try {
    await storage.migrate()
    await write()
    // One stall of 15 ms among quick syncs is a blip: the next ones stay on the loop.
    stallMs = 15
    await write()
    stallMs = 0
    for (let i = 0; i < 3; i++) await write()
    expect(counts()).toEqual([5, 0])
    // Every sync at 30 ms: a disk that struggles. Two such and the loop is spared the rest.
    stallMs = 30
    await write()
    await write()
    await write()
    expect(counts()).toEqual([7, 1])
    expect(await storage.read.accounts.get(`acc-stall-${n}`)).toMatchObject({ id: `acc-stall-${n}` })
    // Quick again: a few syncs off the loop show it, and small batches come back.
    stallMs = 0
    for (let i = 0; i < 20 && inline.mock.calls.length === 7; i++) await write()
    const [onLoop, off] = counts()
    expect(onLoop).toBe(8)
    expect(off).toBeGreaterThan(2)
    expect(off).toBeLessThan(15)
  } finally {
    inline.mockRestore()
    offLoop.mockRestore()
    await storage.close()
    await dir.remove()
  }
})

it('sqlite: checkpoints the WAL into the database file off the event loop, long before 10,000 frames', async () => {
  const dir = tempDir()
  const file = join(dir.path, 'parley.db')
  const storage = createSqliteStorage(file)
  try {
    await storage.migrate()
    const size = () => statSync(file).size
    // Give the checkpointer the schema first, so that growth below can only be the rows.
    await vi.waitFor(() => expect(walFrames(file)).toBe(0), { timeout: 5_000 })
    const before = size()
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        storage.transaction((tx) => tx.accounts.insert({ id: `acc-${i}`, name: 'x'.repeat(500), widgetId: `w-${i}`, createdAt: i })),
      ),
    )
    // The event loop's connection checkpoints only at 10,000 frames; these rows are a few dozen.
    await vi.waitFor(() => expect(size()).toBeGreaterThan(before), { timeout: 5_000 })
    expect((await storage.read.accounts.list()).length).toBe(200)
  } finally {
    await storage.close()
    await dir.remove()
  }
})

/** Frames in the WAL that the database file does not have yet, asked of a connection of its own. */
function walFrames(file: string): number {
  const probe = new BetterSqlite3(file)
  try {
    const [row] = probe.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number; checkpointed: number }>
    return row.log - row.checkpointed
  } finally {
    probe.close()
  }
}

it('sqlite: keeps the WAL bounded under sustained writes, which the checkpoint worker alone would not', async () => {
  const dir = tempDir()
  const file = join(dir.path, 'parley.db')
  const frames = 100
  const storage = createSqliteStorage(file, { autocheckpointFrames: frames })
  try {
    await storage.migrate()
    // About 6 MB of rows in back-to-back batches: writes never pause for the worker to catch up.
    for (let round = 0; round < 100; round++) {
      await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          storage.transaction((tx) =>
            tx.accounts.insert({ id: `acc-${round}-${i}`, name: 'x'.repeat(2_000), widgetId: `w-${round}-${i}`, createdAt: i }),
          ),
        ),
      )
    }
    // The WAL is started over every `frames` frames or so: its file never grows far past that.
    expect(statSync(`${file}-wal`).size).toBeLessThan(frames * 4096 * 4)
    expect((await storage.read.accounts.list()).length).toBe(3000)
  } finally {
    await storage.close()
    await dir.remove()
  }
})

it('sqlite: a migration waits for the write batch in progress, which has the writer to itself', async () => {
  const dir = tempDir()
  const storage = createSqliteStorage(join(dir.path, 'parley.db'))
  try {
    await storage.migrate()
    const account = { id: 'acc-migrate', name: 'Acme', widgetId: 'widget-migrate', createdAt: 1_700_000_000_000 }
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    let inBatch!: () => void
    const started = new Promise<void>((resolve) => (inBatch = resolve))
    const written = storage.transaction(async (tx) => {
      await tx.accounts.insert(account)
      inBatch()
      await held
    })
    await started
    let migrated = false
    const migration = storage.migrate().then(() => (migrated = true))
    await new Promise((resolve) => setTimeout(resolve, 50))
    // Run inside the batch's BEGIN…COMMIT, the migrator's own transaction would fail.
    expect(migrated).toBe(false)
    release()
    await written
    await migration
    expect(migrated).toBe(true)
    expect(await storage.read.accounts.get(account.id)).toEqual(account)
  } finally {
    await storage.close()
    await dir.remove()
  }
})
