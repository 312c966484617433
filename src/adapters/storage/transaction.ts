import type { Repos, Tx } from '../../ports/storage.js'

/** Repositories bound to one transaction, with the hooks to run once it commits. */
export function createTx(repos: Repos): { tx: Tx; hooks: Array<() => void> } {
  const hooks: Array<() => void> = []
  return { tx: { ...repos, onCommit: (hook) => hooks.push(hook) }, hooks }
}

export function runCommitHooks(hooks: Array<() => void>): void {
  for (const hook of hooks) {
    // A failing hook (a publish, say) must not turn a committed write into a reported failure.
    try {
      hook()
    } catch {}
  }
}
