import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'

export type ParsedFrame<T> = { ok: true; frame: T } | { ok: false; message: string }

/**
 * A parser for one socket kind's client frames: JSON, an object with a known `type`, and that
 * type's schema. Dispatching on `type` first gives errors about the frame the client meant to
 * send, not about every member of a union.
 */
export function createFrameParser<T extends { type: string }>(schemas: readonly TSchema[]): (raw: string) => ParsedFrame<T> {
  const byType = new Map<string, ReturnType<typeof Compile>>()
  for (const schema of schemas) {
    const type = (schema as { properties: { type: { const: string } } }).properties.type.const
    byType.set(type, Compile(schema))
  }
  const known = [...byType.keys()].join(', ')
  return (raw) => {
    let value: unknown
    try {
      value = JSON.parse(raw)
    } catch {
      return { ok: false, message: 'frame is not valid JSON' }
    }
    const type = (value as { type?: unknown } | null)?.type
    const validator = typeof type === 'string' ? byType.get(type) : undefined
    if (!validator) return { ok: false, message: `frame needs a "type", one of: ${known}` }
    if (validator.Check(value)) return { ok: true, frame: value as T }
    const errors = validator.Errors(value)
    const extra = errors.find((e) => e.keyword === 'additionalProperties')
    if (extra) {
      const names = (extra.params as { additionalProperties?: string[] }).additionalProperties ?? []
      return { ok: false, message: `${type} frame: unknown field ${names.join(', ')} (no additional properties allowed)` }
    }
    const first = errors[0]
    const where = first?.instancePath ? first.instancePath.slice(1).replaceAll('/', '.') : type
    return { ok: false, message: `${type} frame: ${where} ${first?.message ?? 'is invalid'}` }
  }
}
