import { createHash } from 'node:crypto'
import { DuplicateRequestError, OutOfRangeError } from '../domain/errors.js'
import type { Tx } from '../ports/storage.js'
import type { ServiceDeps } from './deps.js'

export interface IdempotencyRequest {
  key: string
  /** The operation, so one key may serve different endpoints independently. */
  scope: string
  /** The validated request body; a retry must send the same one. */
  body: unknown
}

// JSON.parse accepts any depth, but this recursion overflows the stack (a 500) on a body nested
// thousands deep in a field no schema looks at. No Brevo request comes near this depth.
const MAX_BODY_DEPTH = 64

function canonicalJson(value: unknown, depth = 0): string {
  if (depth > MAX_BODY_DEPTH) throw new OutOfRangeError(`request body is nested more than ${MAX_BODY_DEPTH} levels deep`)
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v, depth + 1)).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v, depth + 1)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/** Whether a stored key still counts: younger than the retention time at `now`. */
function isLive<T extends { createdAt: number }>(deps: ServiceDeps, stored: T | undefined, now: number): stored is T {
  return stored !== undefined && stored.createdAt > now - deps.settings.idempotencyTtlMs
}

/**
 * Runs `create` once per key: inside the same transaction, a live key with the same body returns
 * the first result, a live key with another body is refused, and an expired or unknown key runs
 * `create` and remembers its result. A concurrent first use of the key surfaces as a DuplicateError
 * from the insert, which `transact` retries into the "already stored" branch.
 */
export async function onceForKey<T>(
  deps: ServiceDeps,
  tx: Tx,
  accountId: string,
  request: IdempotencyRequest | undefined,
  create: () => Promise<T>,
): Promise<T> {
  if (!request) return create()
  const now = deps.clock.now()
  const requestHash = createHash('sha256').update(canonicalJson(request.body)).digest('base64url')
  const stored = await tx.idempotency.get(accountId, request.scope, request.key)
  if (isLive(deps, stored, now)) {
    if (stored.requestHash !== requestHash) {
      throw new DuplicateRequestError(
        'Idempotency-Key was already used with a different request body; use a new key for a new request',
      )
    }
    return JSON.parse(stored.response) as T
  }
  const result = await create()
  await tx.idempotency.put(
    { accountId, scope: request.scope, key: request.key, requestHash, response: JSON.stringify(result), createdAt: now },
    stored !== undefined,
  )
  return result
}

/** Whether a live key already holds a stored result: a retry with it would store nothing. */
export async function isKeyStored(deps: ServiceDeps, accountId: string, scope: string, key: string): Promise<boolean> {
  return isLive(deps, await deps.storage.read.idempotency.get(accountId, scope, key), deps.clock.now())
}

/** Forgets keys older than the retention time. Returns how many were removed. */
export function purgeExpiredIdempotencyKeys(deps: ServiceDeps): Promise<number> {
  return deps.storage.transaction((tx) => tx.idempotency.purgeBefore(deps.clock.now() - deps.settings.idempotencyTtlMs))
}
