import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../src/logger.js'
import { startParley, type RunningParley } from './helpers/parley.js'

describe('logs', () => {
  let parley: RunningParley
  let lines = ''
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines += chunk
        done()
      },
    })
    // The production logger at the level that logs every request.
    const logger = createLogger('debug', sink)
    parley = await startParley('sqlite', { config: { logLevel: 'debug' }, overrides: { logger } })
  })
  afterAll(() => parley?.close())

  it('are structured JSON and never contain an API key, valid or not', async () => {
    const wrongKey = 'xkeysib-not-a-real-key-but-secret-0123456789'
    for (const key of [parley.apiKey, wrongKey]) {
      await fetch(`${parley.apiUrl}/conversations/messages`, {
        method: 'POST',
        headers: { 'api-key': key, 'content-type': 'application/json' },
        body: JSON.stringify({ visitorId: 'v', text: 'hi', agentEmail: 'a@example.com', agentName: 'A', receivedFrom: 'x' }),
      })
    }
    const records = lines.trim().split('\n').map((l) => JSON.parse(l))
    expect(records.some((r) => r.req?.url === '/v3/conversations/messages')).toBe(true)
    expect(lines).not.toContain(parley.apiKey)
    expect(lines).not.toContain(wrongKey)
  })
})
