import type { Kysely } from 'kysely'
import type { Tx } from '../../ports/storage.js'
import type { RunPrepared } from './prepared.js'
import { createRepos } from './repos.js'
import type { Database } from './schema.js'

/** Repositories bound to one transaction, with the hooks to run once it commits. */
export function createTx(db: Kysely<Database>, prepared: RunPrepared): { tx: Tx; hooks: Array<() => void> } {
  const hooks: Array<() => void> = []
  return { tx: { ...createRepos(db, prepared), onCommit: (hook) => hooks.push(hook) }, hooks }
}

export function runCommitHooks(hooks: Array<() => void>): void {
  for (const hook of hooks) {
    // A failing hook (a publish, say) must not turn a committed write into a reported failure.
    try {
      hook()
    } catch {}
  }
}
