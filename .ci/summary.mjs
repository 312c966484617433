// Reads vitest's JSON report and prints the one line CI reads: "N passed, N failed".
// A suite that failed outside any test (an import error, a failing beforeAll) counts as a failure.
import { readFileSync } from 'node:fs'

const path = process.argv[2] ?? '.test-report.json'
let report
try {
  report = JSON.parse(readFileSync(path, 'utf8'))
} catch (err) {
  console.log(`no test report at ${path}: ${err.message}`)
  console.log('0 passed, 1 failed')
  process.exit(1)
}

const results = report.testResults ?? []
const failedSuites = results.filter(
  (suite) => suite.status === 'failed' && !(suite.assertionResults ?? []).some((t) => t.status === 'failed'),
)
for (const suite of failedSuites) console.log(`suite failed: ${suite.name}\n${suite.message ?? ''}`)
const passed = report.numPassedTests ?? 0
const failed = (report.numFailedTests ?? 0) + failedSuites.length
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
const ran = passed + failed
if (ran === 0) console.log('the test runner executed no test')
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(failed > 0 || ran === 0 ? 1 : 0)
