import { z } from 'zod'

// Every service is configured by environment variables only. Each one is parsed here, once,
// at start; a bad value stops the service with one line naming the variable.

const ms = z.coerce.number().int().min(0)
const positiveInt = z.coerce.number().int().min(1)
const port = z.coerce.number().int().min(0).max(65535)

const common = {
  NODE_ENV: z.string().default('development'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(),
  REDIS_HOST: z.string().optional(),
  REDIS_PORT: port.optional(),
  /** Prefix of every Redis key, so several installations (or test runs) share one Redis. */
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]+$/).default('slotway'),
  // Workers take the LB key as a WebSocket subprotocol, which allows only these characters.
  LB_AUTH_KEY: z.string().min(1, 'is required').regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, "may hold only letters, digits and !#$%&'*+-.^_`|~ (it travels as a WebSocket subprotocol)"),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),
  /** `pretty` for people at a terminal, `json` for log collectors; default: pretty on a TTY. */
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  /** How long a service may take to finish what it holds after SIGTERM. */
  DRAIN_TIMEOUT: ms.default(10_000),
  /** How many log lines of all services together are kept in Redis for GET /logs. */
  MAX_LOGS: z.coerce.number().int().min(0).max(100_000).default(1000),
}

const bool = z.enum(['true', 'false', '1', '0']).transform(v => v === 'true' || v === '1')

/** A short LB key is guessable: refuse one anywhere but on a developer's machine. */
function strongKey<T extends { NODE_ENV: string; LB_AUTH_KEY: string }>(schema: z.ZodType<T>) {
  return schema.refine(env => env.NODE_ENV === 'development' || env.NODE_ENV === 'test' || env.LB_AUTH_KEY.length >= 16, {
    path: ['LB_AUTH_KEY'],
    message: 'must be at least 16 characters outside development (NODE_ENV=development)',
  })
}

export const GatewayEnv = strongKey(z.object({
  ...common,
  PORT: port.default(4000),
  HOST: z.string().default('0.0.0.0'),
  /** How long a sync client waits for its result, in ms. */
  TASK_TIMEOUT: positiveInt.default(30_000),
  /** How many times a task is tried on Workers before it fails. */
  TASK_ATTEMPTS: positiveInt.default(3),
  /** First retry delay in ms; doubles each attempt. */
  TASK_BACKOFF: ms.default(200),
  /** The priority of a task that gives none (1 = highest). */
  DEFAULT_PRIORITY: z.coerce.number().int().min(1).max(2097152).default(1000),
  /** How long finished tasks stay readable, in seconds. */
  RESULT_TTL: positiveInt.default(3600),
  /** A slot reservation lapses this long after its last renewal (gateways hold some too, on the direct path). */
  SLOT_LEASE: positiveInt.default(15_000),
  /** How long a gateway may keep the slot of a finished direct task for its next one, in ms (0: never keep one). */
  DIRECT_SLOT_HOLD: ms.default(250),
  /** Largest answer accepted from a Worker, in bytes. */
  MAX_RESULT_SIZE: positiveInt.default(16 * 1024 * 1024),
  /** At most this many finished tasks are kept per pool (oldest go first), whatever their age. */
  RESULT_MAX_COUNT: positiveInt.default(100_000),
  REQUEST_BODY_LIMIT: z.string().default('1mb'),
  /** How often a waiting sync request re-reads its task's state, in case an event was missed. */
  RESULT_RECHECK_INTERVAL: positiveInt.default(2000),
  BULL_BOARD_ENABLED: bool.default(true),
  /** A second key that may read /metrics only (for a Prometheus scraper). */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Comma-separated origins allowed by CORS; unset: no cross-origin access. */
  CORS_ORIGINS: z.string().optional(),
  /** Failed authentications per client address and window (seconds) before 429. */
  AUTH_FAILURE_LIMIT: positiveInt.default(20),
  AUTH_FAILURE_WINDOW: positiveInt.default(60),
  /** Trust X-Forwarded-For from this many proxies in front (express "trust proxy"). */
  TRUST_PROXY: z.coerce.number().int().min(0).default(0),
}))
export type GatewayEnv = z.infer<typeof GatewayEnv>

export const DispatcherEnv = strongKey(z.object({
  ...common,
  /** Longest a single call to a Worker may take, in ms. */
  TASK_TIMEOUT: positiveInt.default(30_000),
  /** A slot reservation expires this long after its last renewal, so a dead dispatcher's slots come back. */
  SLOT_LEASE: positiveInt.default(15_000),
  /** How often an idle dispatcher re-checks pools for capacity without a notification, in ms. */
  CAPACITY_RECHECK_INTERVAL: positiveInt.default(1000),
  /** How long BullMQ's lock on an active task lasts before another replica may take it over, in ms. */
  JOB_LOCK_DURATION: positiveInt.default(10_000),
  /** Largest answer accepted from a Worker, in bytes. */
  MAX_RESULT_SIZE: positiveInt.default(16 * 1024 * 1024),
  /** Key of the HMAC-SHA256 signature on webhook deliveries; unset sends them unsigned. */
  WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Delivery attempts per webhook, and the first retry delay (doubling) in ms. */
  WEBHOOK_ATTEMPTS: positiveInt.default(5),
  WEBHOOK_BACKOFF: ms.default(1000),
  WEBHOOK_TIMEOUT: positiveInt.default(10_000),
}))
export type DispatcherEnv = z.infer<typeof DispatcherEnv>

export const DiscoveryEnv = strongKey(z.object({
  ...common,
  WORKERS_FILE: z.string().default('workers.json'),
  WORKER_DISCOVERY_INTERVAL: positiveInt.default(5000),
  WORKER_DISCOVERY_TIMEOUT: positiveInt.default(3000),
  WORKER_DISCOVERY_RETRIES: z.coerce.number().int().min(0).default(2),
  WS_HEARTBEAT_INTERVAL: positiveInt.default(5000),
  WS_HEARTBEAT_TIMEOUT: positiveInt.default(3000),
  /** The leadership lock's lifetime; a standby replica takes over after it lapses. */
  DISCOVERY_LOCK_TTL: positiveInt.default(10_000),
}))
export type DiscoveryEnv = z.infer<typeof DiscoveryEnv>

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID'
}

/** Parses `env` with `schema`; throws a ConfigError whose message is one line naming the variable. */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env)
  if (!result.success) {
    const issue = result.error.issues[0]!
    const name = issue.path.map(String).join('.')
    throw new ConfigError(`Configuration error: ${name} ${issue.message} (got ${JSON.stringify(env[name] ?? null)})`)
  }
  return result.data
}

/** REDIS_URL wins; otherwise REDIS_HOST/REDIS_PORT; otherwise the local default. */
export function redisUrl(env: { REDIS_URL?: string | undefined; REDIS_HOST?: string | undefined; REDIS_PORT?: number | undefined }): string {
  if (env.REDIS_URL) return env.REDIS_URL
  return `redis://${env.REDIS_HOST ?? '127.0.0.1'}:${env.REDIS_PORT ?? 6379}`
}

/** For a service's entry point: the parsed configuration, or one line on stderr and exit code 1. */
export function loadConfigOrExit<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  try {
    return loadConfig(schema, env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(error.message)
    process.exit(1)
  }
}
