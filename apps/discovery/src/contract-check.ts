import type { WorkerFunction, WorkerState } from '@slotway/shared'

/** The same function set always gives the same text, whatever the order of names or param keys. */
export function functionSignature(functions: WorkerFunction[]): string {
  const sorted = [...functions]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map(f => [f.name, Object.keys(f.params).sort().map(key => [key, sortKeys(f.params[key])])])
  return JSON.stringify(sorted)
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value && typeof value === 'object') return Object.fromEntries(Object.keys(value).sort().map(k => [k, sortKeys((value as Record<string, unknown>)[k])]))
  return value
}

function describeDifference(expected: WorkerFunction[], actual: WorkerFunction[]): string {
  const want = new Map(expected.map(f => [f.name, functionSignature([f])]))
  const have = new Map(actual.map(f => [f.name, functionSignature([f])]))
  const missing = [...want.keys()].filter(name => !have.has(name))
  const extra = [...have.keys()].filter(name => !want.has(name))
  const changed = [...want.keys()].filter(name => have.has(name) && have.get(name) !== want.get(name))
  return [
    missing.length ? `missing ${missing.join(', ')}` : '',
    extra.length ? `extra ${extra.join(', ')}` : '',
    changed.length ? `different params for ${changed.join(', ')}` : '',
  ].filter(Boolean).join('; ')
}

/**
 * All Workers of one group and contract must expose the same functions. The pool's contract is the
 * function set it already has; it is kept while any answering Worker still has it, so one Worker
 * that changes does not turn the others invalid. A Worker that differs is marked invalid (and gets
 * no task) until it matches again.
 */
export class ContractCheck {
  private readonly contracts = new Map<string, { signature: string; functions: WorkerFunction[] }>()

  /** Returns the states to publish, with any Worker that breaks its pool's contract marked invalid. */
  apply(states: WorkerState[]): WorkerState[] {
    const byPool = new Map<string, WorkerState[]>()
    for (const state of states) {
      if (!state.pool || !state.functions || state.status === 'invalid' || state.status === 'offline' || state.status === 'unknown') continue
      byPool.set(state.pool, [...(byPool.get(state.pool) ?? []), state])
    }
    for (const [pool, members] of byPool) {
      const known = this.contracts.get(pool)
      if (!known || !members.some(m => functionSignature(m.functions!) === known.signature)) {
        this.contracts.set(pool, { signature: functionSignature(members[0]!.functions!), functions: members[0]!.functions! })
      }
    }
    return states.map(state => {
      const contract = state.pool ? this.contracts.get(state.pool) : undefined
      if (!contract || !state.functions || !byPool.get(state.pool!)?.includes(state)) return state
      if (functionSignature(state.functions) === contract.signature) return state
      return { ...state, status: 'invalid', reason: `functions differ from the pool's contract: ${describeDifference(contract.functions, state.functions)}` }
    })
  }
}
