import { describePostgres } from '../../../test/helpers/databases.js'
import { createTestDatabase } from '../../../test/helpers/postgres.js'
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
