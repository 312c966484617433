import { expect, it } from 'vitest'
import { generateId, generateVisitorId } from './ids.js'

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
