import type { ParamRule, ParamRules } from './types.js'

/** A bad input; answered as 500 `{"success":false,"error":…}` like the deployed engine does. */
export class ParamError extends Error {
  override name = 'ParamError'
}

function hasType(value: unknown, type: ParamRule['type']): boolean {
  if (type === 'array') return Array.isArray(value)
  if (type === 'object') return value !== null && typeof value === 'object' && !Array.isArray(value)
  return typeof value === type
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true
  // Enum members that are objects/arrays compare by their JSON form (inputs arrive as JSON anyway).
  return typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && JSON.stringify(a) === JSON.stringify(b)
}

/** Checks one present value against its rule; the messages are the wire contract. */
export function checkValue(key: string, rule: ParamRule, value: unknown, pattern?: RegExp): void {
  if (!hasType(value, rule.type)) throw new ParamError(`Invalid type for param: ${key}, expected ${rule.type}`)
  if (rule.enum !== undefined && !rule.enum.some(option => sameValue(option, value))) {
    throw new ParamError(`Invalid value for param: ${key}, expected one of ${rule.enum.map(o => JSON.stringify(o)).join(', ')}`)
  }
  if (rule.pattern !== undefined && typeof value === 'string' && !(pattern ?? new RegExp(rule.pattern)).test(value)) {
    throw new ParamError(`Invalid value for param: ${key}, must match pattern ${rule.pattern}`)
  }
  if (rule.min !== undefined && typeof value === 'number' && value < rule.min) throw new ParamError(`Value for param: ${key} must be >= ${rule.min}`)
  if (rule.max !== undefined && typeof value === 'number' && value > rule.max) throw new ParamError(`Value for param: ${key} must be <= ${rule.max}`)
}

/**
 * Validates `input` against `rules` in the engine's order: unexpected keys first, then each rule in
 * declaration order (missing → default → type → enum → pattern → min → max). Returns a fresh object.
 */
export function validateParams(
  rules: ParamRules,
  input: object | undefined,
  patterns: ReadonlyMap<string, RegExp> = new Map(),
): Record<string, unknown> {
  const given = (input ?? {}) as Record<string, unknown>
  // Own keys only: "toString" or "__proto__" must not pass as declared params.
  for (const key of Object.keys(given)) if (!Object.hasOwn(rules, key)) throw new ParamError(`Unexpected param: ${key}`)
  const out: Record<string, unknown> = {}
  for (const [key, rule] of Object.entries(rules)) {
    let value = Object.hasOwn(given, key) ? given[key] : undefined
    if (value === undefined) {
      if (rule.required === true) throw new ParamError(`Missing required param: ${key}`)
      // Cloned so a function mutating its input cannot change the default for later tasks.
      value = rule.default === undefined ? undefined : structuredClone(rule.default)
    }
    if (value === undefined) continue
    checkValue(key, rule, value, patterns.get(key))
    out[key] = value
  }
  return out
}
