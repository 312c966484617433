import type BetterSqlite3 from 'better-sqlite3'
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

/** A compiled query and, once it has run on a direct connection, its prepared statement. */
interface Entry {
  sql: string
  /** A call's values in the order of the SQL's placeholders. */
  bind: (params: object) => unknown[]
  statement?: BetterSqlite3.Statement
  /** For statements that return rows: builds one row object from the column values. */
  toRow?: (values: unknown[]) => unknown
}

/**
 * The function that lists a call's values in placeholder order, as one array literal of property
 * reads: a loop over the names would read every params object by computed key, which is slow once
 * params of many shapes pass through the same loop. A missing value binds NULL.
 */
function binder(bindings: Binding[]): (params: object) => unknown[] {
  const constants = bindings.map((b) => ('value' in b ? b.value : undefined))
  const values = bindings.map((b, i) => ('name' in b ? `p[${JSON.stringify(b.name)}] ?? null` : `c[${i}]`))
  return new Function('c', `return (p) => [${values.join(', ')}]`)(constants) as (params: object) => unknown[]
}

/**
 * A function that turns a row's values into an object keyed by `columns`, as one object literal.
 * better-sqlite3 builds row objects key by key, interning every column name for every row, and on
 * a point lookup that costs more than SQLite finding the row.
 */
function rowBuilder(columns: string[]): (values: unknown[]) => unknown {
  const fields = columns.map((name, i) => `${JSON.stringify(name)}: v[${i}]`)
  return new Function('v', `return { ${fields.join(', ')} }`) as (values: unknown[]) => unknown
}

function prepareDirect(connection: BetterSqlite3.Database, entry: Entry): BetterSqlite3.Statement {
  const statement = connection.prepare(entry.sql)
  if (statement.reader) {
    statement.raw(true)
    entry.toRow = rowBuilder(statement.columns().map((c) => c.name))
  }
  return statement
}

/**
 * How a compiled query runs: through Kysely's executor (any dialect), or straight on a
 * better-sqlite3 connection (see `createDirectPreparedQueries`).
 */
type Execute = (db: Kysely<Database>, entry: Entry, values: unknown[]) => Promise<QueryResult<unknown>>

function viaKysely(db: Kysely<Database>, entry: Entry, values: unknown[]): Promise<QueryResult<unknown>> {
  return db.executeQuery(CompiledQuery.raw(entry.sql, values))
}

function compile<P extends object>(db: Kysely<Database>, build: (db: Kysely<Database>, params: P) => Compilable<unknown>, params: P): Entry {
  const placeholders = Object.fromEntries(Object.keys(params).map((key) => [key, `${SENTINEL}${key}`]))
  const compiled = build(db, placeholders as never).compile()
  const bindings = compiled.parameters.map((p): Binding =>
    typeof p === 'string' && p.startsWith(SENTINEL) ? { name: p.slice(SENTINEL.length) } : { value: p },
  )
  return { sql: compiled.sql, bind: binder(bindings) }
}

function createRunner(execute: Execute): RunPrepared {
  const cache = new Map<string, Entry>()
  return ((db, name, build, params) => {
    let entry = cache.get(name)
    if (!entry) cache.set(name, (entry = compile(db, build, params)))
    return execute(db, entry, entry.bind(params))
  }) as RunPrepared
}

/**
 * Kysely builds and compiles a query on every call, and on the hot paths that costs more than
 * SQLite running it. A prepared query is built once per runner (so once per dialect) with
 * placeholder values, and later calls bind fresh values to the same SQL text. Only fixed-shape
 * queries qualify: `build` must not branch on its parameters, and every call passes the same keys.
 */
export function createPreparedQueries(): RunPrepared {
  return createRunner(viaKysely)
}

/**
 * As `createPreparedQueries`, but the statements run synchronously on `connection` itself, not
 * through Kysely's executor: its promise chain and connection mutex cost more than a point
 * lookup in SQLite. `db` is then only used to compile. `beforeRun` runs first on every call
 * (the read connection opens its snapshot there).
 *
 * @NOTE The caller owns the ordering: nothing serialises these statements against Kysely's own
 * use of the same connection, which is fine because both run on this one thread and a storage
 * never interleaves them inside one transaction in a way SQLite would notice.
 */
export function createDirectPreparedQueries(connection: BetterSqlite3.Database, beforeRun?: () => void): RunPrepared {
  return createRunner((_db, entry, values) => {
    beforeRun?.()
    const statement = (entry.statement ??= prepareDirect(connection, entry))
    if (entry.toRow) return Promise.resolve({ rows: (statement.all(values) as unknown[][]).map(entry.toRow) })
    const { changes } = statement.run(values)
    return Promise.resolve({ rows: [], numAffectedRows: BigInt(changes) })
  })
}
