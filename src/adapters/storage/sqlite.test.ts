import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
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
