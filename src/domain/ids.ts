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

/** A random id in Brevo's format: `eYBEm3gq3zc5ayE2g` (17 characters). */
export function generateId(length = 17): string {
  let out = ''
  while (out.length < length) {
    const byte = randomByte()
    if (byte < LIMIT) out += ALPHABET[byte % ALPHABET.length]
  }
  return out
}

/** Generated visitor ids are 32 characters, like Brevo's. */
export function generateVisitorId(): string {
  return generateId(32)
}
