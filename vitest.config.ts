import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // A JSON report for .ci/run's closing "N passed, N failed" line, beside the usual console output.
    reporters: ['default', ['json', { outputFile: '.test-report.json' }]],
  },
})
