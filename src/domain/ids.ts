import { randomFillSync } from 'node:crypto'

// Brevo's id alphabet: no 0/1/O/I/l/U/V and friends that read alike.
const ALPHABET = '23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz'

// Rejection sampling keeps the distribution uniform: 55 symbols do not divide 256.
const LIMIT = 256 - (256 % ALPHABET.length)

// One call into the CSPRNG per 4 KiB rather than per id: the call, not the bytes, is what costs.
const pool = Buffer.alloc(4096)
let position = pool.length

function randomByte(): number {
  if (position === pool.length) {
    randomFillSync(pool)
    position = 0
  }
  return pool[position++]
}

/** Brevo's ids are 17 characters. */
const ID_LENGTH = 17

/** A random id in Brevo's format: `eYBEm3gq3zc5ayE2g` (17 characters). */
export function generateId(length = ID_LENGTH): string {
  let out = ''
  while (out.length < length) {
    const byte = randomByte()
    if (byte < LIMIT) out += ALPHABET[byte % ALPHABET.length]
  }
  return out
}

const TIME_DIGITS = 8
// 55^8 ms is about 2,650 years: epoch milliseconds fit until long after anyone reads this.
const TIME_SPAN = ALPHABET.length ** TIME_DIGITS

/**
 * An id in Brevo's format whose first 8 characters are the time `at` (epoch ms) in the alphabet's
 * base, the other 9 random (55^9 ≈ 4.6e15 per millisecond). The alphabet is in ASCII order, so ids
 * sort by time: rows keyed by them are appended at one end of their index instead of landing on a
 * random page, which is what a write of a message or a webhook delivery spends most of its WAL
 * frames on. The time was never hidden: the same rows carry it in `createdAt`.
 */
export function generateTimeOrderedId(at: number): string {
  let time = Math.max(0, Math.floor(at)) % TIME_SPAN
  let prefix = ''
  for (let i = 0; i < TIME_DIGITS; i++) {
    prefix = ALPHABET[time % ALPHABET.length] + prefix
    time = Math.floor(time / ALPHABET.length)
  }
  return prefix + generateId(ID_LENGTH - TIME_DIGITS)
}

/** Generated visitor ids are 32 characters, like Brevo's. */
export function generateVisitorId(): string {
  return generateId(32)
}
