import { expect, it } from 'vitest'
import { generateId, generateTimeOrderedId, generateVisitorId } from './ids.js'

// Brevo's alphabet, spelt out here rather than imported: the test checks the module against the spec.
const BREVO_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz'
const BREVO_ID = /^[23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz]{17}$/

it("makes 17-character ids from Brevo's alphabet, like eYBEm3gq3zc5ayE2g", () => {
  expect('eYBEm3gq3zc5ayE2g').toMatch(BREVO_ID)
  for (let i = 0; i < 1000; i++) expect(generateId()).toMatch(BREVO_ID)
})

it('never repeats an id over many draws', () => {
  const n = 50_000
  const ids = new Set(Array.from({ length: n }, () => generateId()))
  expect(ids.size).toBe(n)
})

it('uses every symbol of the alphabet about equally often', () => {
  const counts = new Map<string, number>()
  for (let i = 0; i < 10_000; i++) for (const c of generateId()) counts.set(c, (counts.get(c) ?? 0) + 1)
  expect([...counts.keys()].sort()).toEqual([...BREVO_ALPHABET].sort())
  const mean = (10_000 * 17) / BREVO_ALPHABET.length
  for (const [symbol, count] of counts) expect(Math.abs(count - mean) / mean, symbol).toBeLessThan(0.2)
})

it('makes 32-character visitor ids and ids of any asked length', () => {
  expect(generateVisitorId()).toMatch(/^[23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz]{32}$/)
  expect(generateId(16)).toHaveLength(16)
  expect(generateId(100)).toHaveLength(100)
})

it('makes time-ordered ids in the same format that sort by their time, then at random', () => {
  const T = 1_764_900_000_000
  const ids = [T - 86_400_000, T - 1, T, T, T + 1, T + 3_600_000, 4_102_444_800_000].map(generateTimeOrderedId)
  for (const id of ids) expect(id).toMatch(BREVO_ID)
  // Sorting by the string (SQLite's BINARY collation, PostgreSQL's "C") is sorting by time.
  const byText = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  expect(byText.slice(0, 2)).toEqual(ids.slice(0, 2))
  expect(byText.slice(4)).toEqual(ids.slice(4))
  // The same millisecond shares the 8-character prefix; the rest is random.
  expect(ids[2].slice(0, 8)).toBe(ids[3].slice(0, 8))
  expect(ids[2]).not.toBe(ids[3])
  const many = new Set(Array.from({ length: 20_000 }, () => generateTimeOrderedId(T)))
  expect(many.size).toBe(20_000)
})
