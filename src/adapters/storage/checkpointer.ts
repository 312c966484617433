import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/** How often the checkpointer copies committed WAL frames into the database file. */
const CHECKPOINT_INTERVAL_MS = 250
/** While commits keep adding frames: copy them as they come, so a commit's own checkpoint finds little left. */
const BUSY_CHECKPOINT_INTERVAL_MS = 100

// @NOTE Plain JavaScript run with `eval`: a worker does not inherit the tsx loader that runs
// Parley's TypeScript, and this is all the worker does. better-sqlite3 is resolved by the parent.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.path)
db.pragma('busy_timeout = 5000')
let timer
let previousLog = -1
function run() {
  let busy = false
  try {
    // log: frames in the WAL now. Changed since the last run: commits are coming in.
    const [{ log }] = db.pragma('wal_checkpoint(PASSIVE)')
    busy = log !== previousLog
    previousLog = log
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) })
  }
  timer = setTimeout(run, busy ? workerData.busyIntervalMs : workerData.intervalMs)
}
timer = setTimeout(run, workerData.intervalMs)
parentPort.on('message', () => {
  clearTimeout(timer)
  db.close()
  parentPort.close()
})
`

export interface Checkpointer {
  /** Ends the worker once its checkpoint in progress, if any, is done. */
  stop(): Promise<void>
}

/**
 * WAL checkpoints on a thread of their own. A checkpoint copies the WAL's pages into the database
 * file and syncs it: 20-50 ms in which, run by a commit on the event loop (SQLite's automatic
 * checkpoint), no request is read and no frame is sent. A PASSIVE checkpoint waits for no one,
 * so writers keep appending meanwhile, and once a checkpoint has caught up SQLite starts the WAL
 * over at the next commit. Durability does not depend on it: commits are synced in the WAL.
 *
 * `onFailure` runs if the worker cannot run or stops; commits still checkpoint then (sqlite.ts).
 */
export function startCheckpointer(path: string, onFailure: (err: Error) => void): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3')
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { path, driver, intervalMs: CHECKPOINT_INTERVAL_MS, busyIntervalMs: BUSY_CHECKPOINT_INTERVAL_MS },
  })
  worker.unref()
  let stopping = false
  let failed = false
  const fail = (err: Error) => {
    if (stopping || failed) return
    failed = true
    onFailure(err)
  }
  worker.on('message', (m: { error?: string }) => m.error && fail(new Error(`WAL checkpoint failed: ${m.error}`)))
  worker.on('error', fail)
  worker.on('exit', (code) => fail(new Error(`the checkpoint worker exited with code ${code}`)))
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
  return {
    async stop() {
      stopping = true
      // Unreferenced, the worker would not keep the process alive while we wait for it to end.
      worker.ref()
      worker.postMessage('stop')
      await exited
    },
  }
}
