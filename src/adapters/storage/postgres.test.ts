import { describe } from 'vitest'
import { createTestDatabase, postgresAvailable } from '../../../test/helpers/postgres.js'
import { createPostgresStorage } from './postgres.js'
import { runStorageContract } from './storage.contract.js'

// Under CI=true an unreachable PostgreSQL is a failure, so the suite runs (and fails) anyway.
const run = (await postgresAvailable()) || process.env.CI === 'true'
if (!run) console.warn('PostgreSQL is not reachable at 127.0.0.1:5432: the PostgreSQL storage contract is skipped')

;(run ? describe : describe.skip)('postgres', () =>
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
