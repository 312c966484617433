import { isIP } from 'node:net'
import { InvalidParameterError } from '../domain/errors.js'

/** A webhook URL Parley will not call. */
export class WebhookTargetError extends InvalidParameterError {
  name = 'WebhookTargetError'
}

export interface ResolvedAddress {
  address: string
  family: 4 | 6
}

/** Every address a hostname resolves to (dns.lookup with `all: true`, or a test's table). */
export type Lookup = (hostname: string) => Promise<ResolvedAddress[]>

export interface CheckedTarget {
  url: URL
  /** The address to connect to; absent when private targets are allowed and any address will do. */
  address?: ResolvedAddress
}

type Range = [prefix: number[], bits: number]

// @NOTE Everything that is not the public internet: loopback, private, shared (CGNAT), link-local
// (cloud metadata lives at 169.254.169.254), unspecified, multicast, reserved and documentation
// ranges. IPv6 forms that embed an IPv4 address are checked by that address.
const IPV4_BLOCKED: Range[] = [
  [[0], 8], // "this network", 0.0.0.0
  [[10], 8],
  [[100, 64], 10], // shared address space (carrier-grade NAT)
  [[127], 8],
  [[169, 254], 16],
  [[172, 16], 12],
  [[192, 0, 0], 24], // IETF protocol assignments
  [[192, 0, 2], 24], // TEST-NET-1
  [[192, 88, 99], 24], // 6to4 relay anycast
  [[192, 168], 16],
  [[198, 18], 15], // benchmarking
  [[198, 51, 100], 24], // TEST-NET-2
  [[203, 0, 113], 24], // TEST-NET-3
  [[224], 4], // multicast
  [[240], 4], // reserved, and 255.255.255.255
]

const IPV6_BLOCKED: Range[] = [
  [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 128], // ::
  [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 128], // ::1
  [[0x01, 0x00, 0, 0, 0, 0, 0, 0], 64], // 100::/64 discard-only
  [[0x20, 0x01, 0x00, 0x00], 32], // 2001::/32 Teredo: the client address inside is obfuscated
  [[0x20, 0x01, 0x0d, 0xb8], 32], // documentation
  [[0xfc], 7], // unique local
  [[0xfe, 0x80], 10], // link-local
  [[0xfe, 0xc0], 10], // site-local (deprecated)
  [[0xff], 8], // multicast
]

function inRange(bytes: number[], [prefix, bits]: Range): boolean {
  for (let i = 0; i < bits; i += 8) {
    const mask = bits - i >= 8 ? 0xff : (0xff << (8 - (bits - i))) & 0xff
    if ((bytes[i / 8] & mask) !== ((prefix[i / 8] ?? 0) & mask)) return false
  }
  return true
}

function ipv4Bytes(address: string): number[] {
  return address.split('.').map(Number)
}

/** The 16 bytes of an IPv6 address (valid per net.isIP), dotted-quad tails included. */
export function ipv6Bytes(address: string): number[] {
  let text = address.split('%')[0].toLowerCase()
  const tail: number[] = []
  const dotted = text.match(/(\d+\.\d+\.\d+\.\d+)$/)
  if (dotted) {
    tail.push(...ipv4Bytes(dotted[1]))
    text = text.slice(0, -dotted[1].length) + '0:0'
  }
  const [head, rest] = text.split('::') as [string, string | undefined]
  const groups = (part: string) => (part ? part.split(':').map((g) => parseInt(g, 16)) : [])
  const left = groups(head)
  const right = rest === undefined ? [] : groups(rest)
  const middle = rest === undefined ? [] : new Array<number>(8 - left.length - right.length).fill(0)
  const words = [...left, ...middle, ...right]
  const bytes = words.flatMap((w) => [w >> 8, w & 0xff])
  if (dotted) bytes.splice(12, 4, ...tail)
  return bytes
}

/** The IPv4 address an IPv6 one carries: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64, 6to4. */
function embeddedIpv4(bytes: number[]): number[] | undefined {
  const zeros = (from: number, to: number) => bytes.slice(from, to).every((b) => b === 0)
  if (zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12)
  if (zeros(0, 12) && !zeros(12, 16)) return bytes.slice(12)
  if (inRange(bytes, [[0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], 96])) return bytes.slice(12)
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return bytes.slice(2, 6)
  return undefined
}

/** Whether Parley may call this IP address with private targets disallowed. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address)
  if (family === 4) return !IPV4_BLOCKED.some((r) => inRange(ipv4Bytes(address), r))
  if (family !== 6) return false
  const bytes = ipv6Bytes(address)
  const v4 = embeddedIpv4(bytes)
  if (v4 && IPV4_BLOCKED.some((r) => inRange(v4, r))) return false
  return !IPV6_BLOCKED.some((r) => inRange(bytes, r))
}

/** Parses a webhook URL: absolute, http or https, no fragment tricks needed. */
export function parseWebhookUrl(raw: string): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new WebhookTargetError(`url "${raw}" is not an absolute URL such as https://example.com/webhooks`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new WebhookTargetError(`url must use http or https, not ${url.protocol.replace(/:$/, '')}`)
  }
  return url
}

/**
 * Checks that `raw` may be called and returns the address to connect to: an IP literal is
 * checked as it is, a hostname by every address it resolves to (one private answer is enough to
 * refuse, or a rebinding server could alternate). With `allowPrivate`, only the URL is checked.
 */
export async function checkWebhookTarget(raw: string, options: { allowPrivate: boolean; lookup: Lookup }): Promise<CheckedTarget> {
  const url = parseWebhookUrl(raw)
  if (options.allowPrivate) return { url }
  // The WHATWG parser has already turned 2130706433, 0x7f.1 and friends into dotted quads.
  const host = url.hostname.replace(/^\[|\]$/g, '')
  const literal = isIP(host)
  const refuse = (address: string) =>
    new WebhookTargetError(
      `url "${raw}" points to ${address}, a private, loopback or otherwise internal address; ` +
        'set PARLEY_WEBHOOKS_ALLOW_PRIVATE_TARGETS=true to allow such targets',
    )
  if (literal) {
    if (!isPublicAddress(host)) throw refuse(host)
    return { url, address: { address: host, family: literal as 4 | 6 } }
  }
  let addresses: ResolvedAddress[]
  try {
    addresses = await options.lookup(host)
  } catch (err) {
    throw new WebhookTargetError(`the host of url "${raw}" does not resolve (${(err as NodeJS.ErrnoException).code ?? 'lookup failed'})`)
  }
  if (addresses.length === 0) throw new WebhookTargetError(`the host of url "${raw}" does not resolve`)
  const internal = addresses.find((a) => !isPublicAddress(a.address))
  if (internal) throw refuse(internal.address)
  return { url, address: addresses[0] }
}
