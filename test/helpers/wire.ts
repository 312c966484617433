/** A 17-character id in Brevo's alphabet, spelt out here rather than imported from the code under test. */
export const BREVO_ID = /^[23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz]{17}$/

/** Paths of every `null` in a JSON value: Brevo leaves a field out rather than sending null. */
export function nullPaths(value: unknown, path = '$'): string[] {
  if (value === null) return [path]
  if (Array.isArray(value)) return value.flatMap((v, i) => nullPaths(v, `${path}[${i}]`))
  if (typeof value === 'object' && value !== undefined) {
    return Object.entries(value as object).flatMap(([k, v]) => nullPaths(v, `${path}.${k}`))
  }
  return []
}
