import { describe, expect, it } from 'vitest'
import { validateParams } from './params.js'
import type { ParamRules } from './types.js'

const rules: ParamRules = {
  name: { type: 'string', required: false, default: 'World' },
  ms: { type: 'number', required: true, min: 0, max: 10 },
  color: { type: 'string', enum: ['red', 'blue'] },
  code: { type: 'string', pattern: '^[A-Z]{3}$' },
  list: { type: 'array' },
  obj: { type: 'object' },
  flag: { type: 'boolean', default: false },
}

describe('validateParams', () => {
  it('applies defaults and keeps given values', () => {
    expect(validateParams(rules, { ms: 3 })).toEqual({ name: 'World', ms: 3, flag: false })
    expect(validateParams(rules, { ms: 0, name: 'x', list: [], obj: {}, color: 'red', code: 'ABC' })).toEqual({
      name: 'x', ms: 0, list: [], obj: {}, color: 'red', code: 'ABC', flag: false,
    })
  })

  it('uses the engine messages, unexpected keys first', () => {
    expect(() => validateParams(rules, { y: 1 })).toThrow('Unexpected param: y')
    expect(() => validateParams(rules, {})).toThrow('Missing required param: ms')
    expect(() => validateParams(rules, { ms: '1' })).toThrow('Invalid type for param: ms, expected number')
    expect(() => validateParams(rules, { ms: -1 })).toThrow('Value for param: ms must be >= 0')
    expect(() => validateParams(rules, { ms: 11 })).toThrow('Value for param: ms must be <= 10')
    expect(() => validateParams(rules, { ms: 1, list: {} })).toThrow('Invalid type for param: list, expected array')
    expect(() => validateParams(rules, { ms: 1, obj: [] })).toThrow('Invalid type for param: obj, expected object')
    expect(() => validateParams(rules, { ms: 1, obj: null })).toThrow('Invalid type for param: obj, expected object')
  })

  it('checks enum and pattern', () => {
    expect(() => validateParams(rules, { ms: 1, color: 'green' })).toThrow('Invalid value for param: color, expected one of "red", "blue"')
    expect(() => validateParams(rules, { ms: 1, code: 'abc' })).toThrow('Invalid value for param: code, must match pattern ^[A-Z]{3}$')
  })

  it('does not take prototype keys for declared params', () => {
    expect(() => validateParams({}, JSON.parse('{"__proto__":1}') as object)).toThrow('Unexpected param: __proto__')
    expect(() => validateParams({}, { toString: 1 })).toThrow('Unexpected param: toString')
  })

  it('hands out a fresh copy of object defaults', () => {
    const r: ParamRules = { o: { type: 'object', default: { a: 1 } } }
    const first = validateParams(r, undefined)
    ;(first.o as Record<string, unknown>).a = 2
    expect(validateParams(r, undefined)).toEqual({ o: { a: 1 } })
  })
})
