import pg from 'pg'
import { expect, it, vi } from 'vitest'
import { describePostgres } from '../../../test/helpers/databases.js'
import { createTestDatabase } from '../../../test/helpers/postgres.js'
import { createLogger } from '../../logger.js'
import { createPostgresStorage } from './postgres.js'
import { runStorageContract } from './storage.contract.js'

describePostgres('postgres', () =>
  runStorageContract('postgres', async () => {
    const database = await createTestDatabase()
    const storage = createPostgresStorage(database.url)
    return {
      storage,
      async cleanup() {
        await storage.close()
        await database.drop()
      },
    }
  }),
)

describePostgres('postgres connections', () => {
  it('survives the server ending an idle connection, and the next query reconnects', async () => {
    const database = await createTestDatabase()
    const logger = createLogger('silent')
    const warn = vi.spyOn(logger, 'warn')
    const storage = createPostgresStorage(database.url, { logger })
    try {
      await storage.migrate()
      await storage.ping()
      const admin = new pg.Client({ connectionString: database.url })
      await admin.connect()
      try {
        const { rowCount } = await admin.query(
          'select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
        )
        expect(rowCount).toBeGreaterThan(0)
      } finally {
        await admin.end()
      }
      await vi.waitFor(() => expect(warn).toHaveBeenCalled())
      await storage.ping()
    } finally {
      await storage.close()
      await database.drop()
    }
  })
})
