import { describe, expect, it } from 'vitest'
import { parseConfig } from './config.js'

const keys = { AUTH_KEY: 'wk-secret', LB_AUTH_KEY: 'lb-secret' }

describe('parseConfig', () => {
  it('applies the defaults', () => {
    expect(parseConfig(keys)).toEqual({
      port: 3000, wsPort: 3001, host: '127.0.0.1', slots: 10, group: 'default', contract: 1,
      authKey: 'wk-secret', lbAuthKey: 'lb-secret', statsEndpoint: false, extraFunction: undefined,
      servicesDown: false, maintenance: false, drainTimeoutMs: 10000,
    })
  })

  it('reads every variable', () => {
    const env = { ...keys, PORT: '0', WS_PORT: '4001', HOST: '0.0.0.0', SLOTS: '3', GROUP: 'g', CONTRACT: '2', STATS_ENDPOINT: 'true', EXTRA_FUNCTION: 'bonus' }
    expect(parseConfig(env)).toMatchObject({ port: 0, wsPort: 4001, host: '0.0.0.0', slots: 3, group: 'g', contract: 2, statsEndpoint: true, extraFunction: 'bonus' })
  })

  it('names the bad variable in one line, never echoing a value', () => {
    expect(() => parseConfig({})).toThrow('AUTH_KEY is required')
    expect(() => parseConfig({ AUTH_KEY: 'x', LB_AUTH_KEY: '' })).toThrow('LB_AUTH_KEY is required')
    expect(() => parseConfig({ ...keys, PORT: 'abc' })).toThrow('PORT must be a whole number')
    expect(() => parseConfig({ ...keys, WS_PORT: '70000' })).toThrow('WS_PORT must be <= 65535')
    expect(() => parseConfig({ ...keys, SLOTS: '0' })).toThrow('SLOTS must be >= 1')
    expect(() => parseConfig({ ...keys, STATS_ENDPOINT: 'yes' })).toThrow('STATS_ENDPOINT must be true or false')
    expect(() => parseConfig({ ...keys, CONTRACT: 'v2' })).toThrow('CONTRACT must be a positive number')
  })
})
