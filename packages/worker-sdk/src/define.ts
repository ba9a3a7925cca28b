import type { ParamRules, WorkerFunction } from './types.js'

/**
 * Identity helper that infers `input`'s type from `params` (the `const` type parameter keeps
 * literal rule values such as `required: true`), so function bodies get typed input for free.
 */
export function defineFunction<const P extends ParamRules>(fn: WorkerFunction<P>): WorkerFunction<P> {
  return fn
}
