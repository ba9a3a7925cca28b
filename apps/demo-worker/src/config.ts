import { z } from 'zod'

// Environment → typed config. Empty variables count as unset, so `PORT=` means the default.

const whole = (name: string, fallback: number, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .default(String(fallback))
    .transform(Number)
    .pipe(z.number().min(min, `${name} must be >= ${min}`).max(max, `${name} must be <= ${max}`))

const required = (name: string) =>
  z.string({ error: issue => (issue.input === undefined ? `${name} is required` : `${name} must be a string`) })

const EnvSchema = z.object({
  PORT: whole('PORT', 3000, 0, 65535),
  WS_PORT: whole('WS_PORT', 3001, 0, 65535),
  HOST: z.string().default('127.0.0.1'),
  SLOTS: whole('SLOTS', 10, 1, 100000),
  GROUP: z.string().default('default'),
  CONTRACT: z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'CONTRACT must be a positive number')
    .default('1')
    .transform(Number)
    .pipe(z.number().positive('CONTRACT must be a positive number')),
  AUTH_KEY: required('AUTH_KEY'),
  LB_AUTH_KEY: required('LB_AUTH_KEY'),
  STATS_ENDPOINT: z
    .enum(['true', 'false'], { error: 'STATS_ENDPOINT must be true or false' })
    .default('false')
    .transform(v => v === 'true'),
  EXTRA_FUNCTION: z.string().optional(),
  /** Starts with a dependency reported down (a test aid: such a Worker must get no task). */
  SERVICES_DOWN: z
    .enum(['true', 'false'], { error: 'SERVICES_DOWN must be true or false' })
    .default('false')
    .transform(v => v === 'true'),
  DRAIN_TIMEOUT: whole('DRAIN_TIMEOUT', 10000, 0, 600000),
  /** Starts in maintenance. */
  MAINTENANCE: z
    .enum(['true', 'false'], { error: 'MAINTENANCE must be true or false' })
    .default('false')
    .transform(v => v === 'true'),
})

export interface Config {
  port: number
  wsPort: number
  host: string
  slots: number
  group: string
  contract: number
  authKey: string
  lbAuthKey: string
  statsEndpoint: boolean
  extraFunction: string | undefined
  servicesDown: boolean
  maintenance: boolean
  drainTimeoutMs: number
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Throws a ConfigError whose message is one line naming the offending variable (never its value). */
export function parseConfig(env: NodeJS.ProcessEnv): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = EnvSchema.safeParse(present)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const variable = String(issue?.path[0] ?? 'environment')
    const message = issue?.message ?? 'invalid'
    throw new ConfigError(message.startsWith(variable) ? message : `${variable}: ${message}`)
  }
  const e = parsed.data
  return {
    port: e.PORT,
    wsPort: e.WS_PORT,
    host: e.HOST,
    slots: e.SLOTS,
    group: e.GROUP,
    contract: e.CONTRACT,
    authKey: e.AUTH_KEY,
    lbAuthKey: e.LB_AUTH_KEY,
    statsEndpoint: e.STATS_ENDPOINT,
    extraFunction: e.EXTRA_FUNCTION,
    servicesDown: e.SERVICES_DOWN,
    maintenance: e.MAINTENANCE,
    drainTimeoutMs: e.DRAIN_TIMEOUT,
  }
}
