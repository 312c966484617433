import { randomBytes } from 'node:crypto'

// Brevo's id alphabet: no 0/1/O/I/l/U/V and friends that read alike.
const ALPHABET = '23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz'

/** A random id in Brevo's format: `eYBEm3gq3zc5ayE2g` (17 characters). */
export function generateId(length = 17): string {
  // Rejection sampling keeps the distribution uniform: 55 symbols do not divide 256.
  const limit = 256 - (256 % ALPHABET.length)
  let out = ''
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit) out += ALPHABET[byte % ALPHABET.length]
      if (out.length === length) break
    }
  }
  return out
}

/** Generated visitor ids are 32 characters, like Brevo's. */
export function generateVisitorId(): string {
  return generateId(32)
}
