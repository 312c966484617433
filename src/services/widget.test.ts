import { describe, expect, it } from 'vitest'
import type { WidgetAccount } from './widget.js'
import { identifyVisitor, issueVisitorToken, normaliseOrigin, originAllowed, readVisitorToken, signVisitorId } from './widget.js'

const account: WidgetAccount = {
  account: { id: 'acc1', name: 'Acme', widgetId: 'w1', createdAt: 0 },
  settings: { tokenSecret: 'token-secret', identitySecret: 'identity-secret', verifiedBinding: false, allowedOrigins: [] },
}
const verified: WidgetAccount = { ...account, settings: { ...account.settings, verifiedBinding: true } }

describe('visitor tokens', () => {
  it('name the visitor they were issued for, in that account only', () => {
    const token = issueVisitorToken('s', 'acc1', 'visitor-1')
    expect(readVisitorToken('s', 'acc1', token)).toBe('visitor-1')
    expect(readVisitorToken('s', 'acc2', token)).toBeUndefined()
    expect(readVisitorToken('other', 'acc1', token)).toBeUndefined()
  })

  it('cannot be altered to name someone else', () => {
    const token = issueVisitorToken('s', 'acc1', 'visitor-1')
    const [v, , mac] = token.split('.')
    const forged = `${v}.${Buffer.from('visitor-2').toString('base64url')}.${mac}`
    expect(readVisitorToken('s', 'acc1', forged)).toBeUndefined()
    for (const junk of ['', 'v1', 'v1..', 'v2.x.y', `${token}.extra`]) expect(readVisitorToken('s', 'acc1', junk)).toBeUndefined()
  })
})

describe('identifying a visitor', () => {
  it('starts a new visitor without a token, and continues one with it', () => {
    const first = identifyVisitor(account, {})
    expect(first.visitorId).toHaveLength(32)
    expect(first.continued).toBe(false)
    const again = identifyVisitor(account, { visitorToken: first.visitorToken })
    expect(again).toMatchObject({ visitorId: first.visitorId, continued: true })
  })

  it("lets the site's visitorId win over the browser's token", () => {
    const anonymous = identifyVisitor(account, {})
    const bound = identifyVisitor(account, { visitorToken: anonymous.visitorToken, visitorId: 'customer-9' })
    expect(bound).toMatchObject({ visitorId: 'customer-9', continued: false })
  })

  it('requires the HMAC of the visitorId under verified binding', () => {
    expect(() => identifyVisitor(verified, { visitorId: 'c9' })).toThrow(/missing/)
    expect(() => identifyVisitor(verified, { visitorId: 'c9', visitorIdSignature: signVisitorId('identity-secret', 'c10') })).toThrow(
      /does not match/,
    )
    const signature = signVisitorId('identity-secret', 'c9')
    expect(signature).toMatch(/^[0-9a-f]{64}$/)
    expect(identifyVisitor(verified, { visitorId: 'c9', visitorIdSignature: signature.toUpperCase() }).visitorId).toBe('c9')
    expect(identifyVisitor(verified, {}).visitorId).toHaveLength(32)
  })
})

describe('origins', () => {
  it('normalises origins and refuses anything else', () => {
    expect(normaliseOrigin('HTTPS://Shop.Example:443/')).toBe('https://shop.example')
    expect(normaliseOrigin('http://localhost:8080')).toBe('http://localhost:8080')
    for (const bad of ['shop.example', 'ftp://shop.example', 'https://shop.example/path', 'https://shop.example/?q=1']) {
      expect(() => normaliseOrigin(bad)).toThrow(/not an origin/)
    }
  })

  it('admits every origin while the list is empty', () => {
    expect(originAllowed(account.settings, undefined)).toBe(true)
    const listed = { ...account.settings, allowedOrigins: ['https://shop.example'] }
    expect(originAllowed(listed, 'https://shop.example')).toBe(true)
    expect(originAllowed(listed, 'https://evil.example')).toBe(false)
    expect(originAllowed(listed, undefined)).toBe(false)
  })
})
