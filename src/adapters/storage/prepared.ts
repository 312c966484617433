import { CompiledQuery, type Compilable, type Kysely, type QueryResult } from 'kysely'
import type { Database } from './schema.js'

const SENTINEL = '\u0000parley:'

type Binding = { name: string } | { value: unknown }

/** Runs a fixed-shape query whose SQL was compiled once; `params` are bound by name. */
export type RunPrepared = <P extends object, R>(
  db: Kysely<Database>,
  name: string,
  build: (db: Kysely<Database>, params: P) => Compilable<R>,
  params: P,
) => Promise<QueryResult<R>>

/**
 * Kysely builds and compiles a query on every call, and on the hot paths that costs more than
 * SQLite running it. A prepared query is built once per storage (so once per dialect) with
 * placeholder values, and later calls bind fresh values to the same SQL text. Only fixed-shape
 * queries qualify: `build` must not branch on its parameters, and every call passes the same keys.
 */
export function createPreparedQueries(): RunPrepared {
  const cache = new Map<string, { sql: string; bindings: Binding[] }>()
  return (db, name, build, params) => {
    let entry = cache.get(name)
    if (!entry) {
      const placeholders = Object.fromEntries(Object.keys(params).map((key) => [key, `${SENTINEL}${key}`]))
      const compiled = build(db, placeholders as never).compile()
      const bindings = compiled.parameters.map((p): Binding =>
        typeof p === 'string' && p.startsWith(SENTINEL) ? { name: p.slice(SENTINEL.length) } : { value: p },
      )
      entry = { sql: compiled.sql, bindings }
      cache.set(name, entry)
    }
    const named = params as Record<string, unknown>
    const values = entry.bindings.map((b) => ('name' in b ? (named[b.name] ?? null) : b.value))
    return db.executeQuery(CompiledQuery.raw(entry.sql, values)) as Promise<QueryResult<never>>
  }
}
