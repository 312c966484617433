import { describe, expect, it } from 'vitest'
import { checkWebhookTarget, ipv6Bytes, isPublicAddress, WebhookTargetError, type Lookup } from './target-guard.js'

describe('isPublicAddress', () => {
  it('refuses internal IPv4 ranges and allows the public internet', () => {
    const internal = [
      '0.0.0.0',
      '10.1.2.3',
      '100.64.0.1', // carrier-grade NAT
      '100.127.255.254',
      '127.0.0.1',
      '127.255.255.255',
      '169.254.169.254', // cloud metadata
      '172.16.0.1',
      '172.31.255.255',
      '192.0.0.8',
      '192.0.2.10',
      '192.168.1.1',
      '198.18.0.1',
      '224.0.0.1',
      '240.0.0.1',
      '255.255.255.255',
    ]
    for (const address of internal) expect(isPublicAddress(address), address).toBe(false)
    for (const address of ['8.8.8.8', '1.1.1.1', '93.184.215.14', '100.63.255.255', '100.128.0.0', '172.15.255.255', '172.32.0.0', '192.169.0.1', '223.255.255.255']) {
      expect(isPublicAddress(address), address).toBe(true)
    }
  })

  it('refuses internal IPv6 ranges and allows global unicast', () => {
    const internal = ['::', '::1', 'fe80::1', 'fe80::1%eth0', 'febf::1', 'fc00::1', 'fd12:3456:789a::1', 'ff02::1', 'fec0::1', '2001:db8::1', '2001:0:4136:e378::1', '100::1']
    for (const address of internal) expect(isPublicAddress(address), address).toBe(false)
    for (const address of ['2606:4700:4700::1111', '2a00:1450:4001:80b::200e', 'fe00::1', '2001:4860:4860::8888']) {
      expect(isPublicAddress(address), address).toBe(true)
    }
  })

  it('judges IPv6 forms that carry an IPv4 address by that address', () => {
    const internal = [
      '::ffff:127.0.0.1', // IPv4-mapped, dotted
      '::ffff:7f00:1', // the same, hex
      '::ffff:10.0.0.1',
      '::ffff:a9fe:a9fe', // 169.254.169.254
      '::127.0.0.1', // IPv4-compatible
      '64:ff9b::10.0.0.1', // NAT64
      '64:ff9b::c0a8:101', // NAT64, 192.168.1.1
      '2002:7f00:1::', // 6to4 of 127.0.0.1
      '2002:c0a8:0101::1', // 6to4 of 192.168.1.1
    ]
    for (const address of internal) expect(isPublicAddress(address), address).toBe(false)
    for (const address of ['::ffff:8.8.8.8', '::ffff:808:808', '64:ff9b::808:808', '2002:808:808::1']) {
      expect(isPublicAddress(address), address).toBe(true)
    }
  })

  it('is not fooled by what is not an IP address', () => {
    expect(isPublicAddress('localhost')).toBe(false)
    expect(isPublicAddress('')).toBe(false)
    expect(isPublicAddress('1.2.3')).toBe(false)
  })

  it('reads IPv6 text into its 16 bytes', () => {
    expect(ipv6Bytes('::1')).toEqual([...new Array(15).fill(0), 1])
    expect(ipv6Bytes('2001:db8::ff00:42:8329')).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0x00, 0, 0x42, 0x83, 0x29])
    expect(ipv6Bytes('::ffff:192.168.1.1')).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 1])
  })
})

describe('checkWebhookTarget', () => {
  const dns: Record<string, string[]> = {
    'hooks.example.com': ['93.184.215.14'],
    'v6.example.com': ['2606:4700:4700::1111'],
    'internal.example.com': ['10.0.0.5'],
    // A rebinding server might answer one public and one private address.
    'mixed.example.com': ['93.184.215.14', '127.0.0.1'],
    'mapped.example.com': ['::ffff:169.254.169.254'],
  }
  let lookups: string[] = []
  const lookup: Lookup = async (hostname) => {
    lookups.push(hostname)
    const answers = dns[hostname]
    if (!answers) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
    return answers.map((address) => ({ address, family: address.includes(':') ? (6 as const) : (4 as const) }))
  }
  const check = (url: string, allowPrivate = false) => checkWebhookTarget(url, { allowPrivate, lookup })
  const refused = async (url: string, message: RegExp) => {
    const outcome = await check(url).then(
      () => undefined,
      (err: unknown) => err,
    )
    expect(outcome, url).toBeInstanceOf(WebhookTargetError)
    expect((outcome as WebhookTargetError).code).toBe('invalid_parameter')
    expect((outcome as Error).message).toMatch(message)
  }

  it('accepts public http(s) targets and returns the address checked, to connect to', async () => {
    lookups = []
    expect(await check('https://hooks.example.com/parley?x=1')).toMatchObject({ address: { address: '93.184.215.14', family: 4 } })
    expect(await check('http://v6.example.com:8080/')).toMatchObject({ address: { address: '2606:4700:4700::1111', family: 6 } })
    expect(await check('https://8.8.8.8/hook')).toMatchObject({ address: { address: '8.8.8.8', family: 4 } })
    expect(await check('https://[2606:4700:4700::1111]/hook')).toMatchObject({ address: { address: '2606:4700:4700::1111', family: 6 } })
    // IP literals need no lookup.
    expect(lookups).toEqual(['hooks.example.com', 'v6.example.com'])
  })

  it('refuses other schemes and what is not a URL', async () => {
    await refused('ftp://hooks.example.com/x', /http or https/)
    await refused('file:///etc/passwd', /http or https/)
    await refused('javascript:alert(1)', /http or https/)
    await refused('hooks.example.com/x', /absolute URL/)
    await refused('', /absolute URL/)
  })

  it('refuses private, loopback and link-local targets, however the address is spelt', async () => {
    for (const url of [
      'http://127.0.0.1:3000/',
      'http://2130706433/', // 127.0.0.1 as one number
      'http://0x7f.1/', // and in hex
      'http://0/',
      'http://[::1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[::ffff:a9fe:a9fe]/latest/meta-data',
      'http://169.254.169.254/latest/meta-data',
      'http://10.0.0.1/',
      'http://100.100.100.200/',
      'http://[fd00::1]/',
    ]) {
      await refused(url, /private, loopback or otherwise internal.*PARLEY_WEBHOOKS_ALLOW_PRIVATE_TARGETS/)
    }
  })

  it('refuses a hostname when any address it resolves to is internal', async () => {
    await refused('https://internal.example.com/', /10\.0\.0\.5/)
    await refused('https://mixed.example.com/', /127\.0\.0\.1/)
    await refused('https://mapped.example.com/', /169\.254\.169\.254/)
  })

  it('refuses a hostname that does not resolve', async () => {
    await refused('https://nowhere.invalid/', /does not resolve \(ENOTFOUND\)/)
  })

  it('allows private targets when told to, without resolving', async () => {
    lookups = []
    expect(await check('http://127.0.0.1:3000/hook', true)).toEqual({ url: new URL('http://127.0.0.1:3000/hook') })
    expect(await check('http://internal.example.com/', true)).toEqual({ url: new URL('http://internal.example.com/') })
    expect(lookups).toEqual([])
    await expect(check('ftp://127.0.0.1/', true)).rejects.toBeInstanceOf(WebhookTargetError)
  })
})
