import { z } from 'zod'
import { checkValue } from './params.js'
import type { ParamRules, WorkerOptions } from './types.js'
import { DEFAULT_BODY_LIMIT } from './http-io.js'

// Worker options are checked once at startup, so a typo in a rule fails loudly at boot
// instead of turning into odd /health documents or 500s on the first task.

const ParamRuleSchema = z.strictObject({
  type: z.enum(['string', 'number', 'boolean', 'object', 'array']),
  required: z.boolean().optional(),
  default: z.unknown().optional(),
  enum: z.array(z.unknown()).min(1).optional(),
  pattern: z
    .string()
    .refine(source => {
      try {
        new RegExp(source)
        return true
      } catch {
        return false
      }
    }, 'not a valid regular expression')
    .optional(),
  min: z.number().optional(),
  max: z.number().optional(),
})

const FunctionSchema = z.object({
  params: z.record(z.string(), ParamRuleSchema),
  streams: z.boolean().optional(),
  run: z.custom<(...args: never[]) => unknown>(v => typeof v === 'function', 'must be a function'),
})

const OptionsSchema = z.object({
  group: z.string().min(1),
  contract: z.number().finite().refine(v => v !== 0, 'must not be 0 (the engine treats 0 as missing)'),
  slots: z.number().int().min(1),
  authKey: z.string().min(1),
  lbAuthKey: z.string().min(1),
  functions: z.record(z.string().min(1), FunctionSchema),
  tags: z.record(z.string(), z.string()).optional(),
  services: z.custom<() => unknown>(v => typeof v === 'function', 'must be a function').optional(),
  statsEndpoint: z.boolean().optional(),
  logLimit: z.number().int().min(1).optional(),
  maintenance: z.boolean().optional(),
  bodyLimit: z.number().int().min(1).optional(),
})

export interface ResolvedOptions extends WorkerOptions {
  tags: Record<string, string>
  statsEndpoint: boolean
  logLimit: number
  maintenance: boolean
  bodyLimit: number
  /** Compiled `pattern`s per function, per param. */
  patterns: ReadonlyMap<string, ReadonlyMap<string, RegExp>>
}

function checkDefaults(name: string, params: ParamRules): void {
  for (const [key, rule] of Object.entries(params)) {
    if (rule.default === undefined) continue
    try {
      checkValue(key, rule, rule.default)
    } catch (err) {
      throw new Error(`Invalid worker options: function ${name}: default breaks its own rule (${(err as Error).message})`, { cause: err })
    }
  }
}

export function resolveOptions(options: WorkerOptions): ResolvedOptions {
  const parsed = OptionsSchema.safeParse(options)
  // Only paths and messages are reported, never values: the keys are among them.
  if (!parsed.success) throw new Error(`Invalid worker options: ${z.prettifyError(parsed.error).replace(/\n+/g, '; ')}`)
  const patterns = new Map<string, Map<string, RegExp>>()
  for (const [name, fn] of Object.entries(options.functions)) {
    checkDefaults(name, fn.params)
    const compiled = new Map<string, RegExp>()
    for (const [key, rule] of Object.entries(fn.params)) if (rule.pattern !== undefined) compiled.set(key, new RegExp(rule.pattern))
    patterns.set(name, compiled)
  }
  return {
    ...options,
    tags: options.tags ?? {},
    statsEndpoint: options.statsEndpoint ?? false,
    logLimit: options.logLimit ?? 1000,
    maintenance: options.maintenance ?? false,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    patterns,
  }
}
