import { describe, expect, it } from 'vitest'
import { keyMatcher, keysMatch, stripBearer } from './auth.js'
import { createSecretBox } from './secret-box.js'

describe('auth helpers', () => {
  it('strips a Bearer prefix in any case, and nothing else', () => {
    expect(stripBearer('Bearer abc')).toBe('abc')
    expect(stripBearer('bearer   abc ')).toBe('abc')
    expect(stripBearer('abc')).toBe('abc')
    expect(stripBearer('Bearerabc')).toBe('Bearerabc')
    expect(stripBearer(undefined)).toBeUndefined()
  })

  it('matches keys exactly, whatever their lengths', () => {
    expect(keysMatch('secret-key', 'secret-key')).toBe(true)
    expect(keysMatch('secret-ke', 'secret-key')).toBe(false)
    expect(keysMatch('secret-key-longer', 'secret-key')).toBe(false)
    expect(keysMatch('', 'secret-key')).toBe(false)
    expect(keysMatch(undefined, 'secret-key')).toBe(false)
  })

  it('matches a fixed key the same way, its digest made once', () => {
    const match = keyMatcher('secret-key')
    expect(match('secret-key')).toBe(true)
    expect(match('secret-ke')).toBe(false)
    expect(match(undefined)).toBe(false)
  })
})

describe('the secret box', () => {
  it('opens what it sealed, and nothing sealed under another key', () => {
    const box = createSecretBox('lb-key-one')
    const sealed = box.seal('worker-key')
    expect(sealed).not.toContain('worker-key')
    expect(box.open(sealed)).toBe('worker-key')
    expect(() => createSecretBox('lb-key-two').open(sealed)).toThrow()
  })

  it('refuses a sealed value that was tampered with', () => {
    const box = createSecretBox('lb-key-one')
    const sealed = Buffer.from(box.seal('worker-key'), 'base64url')
    sealed[sealed.length - 1]! ^= 1
    expect(() => box.open(sealed.toString('base64url'))).toThrow()
  })
})
