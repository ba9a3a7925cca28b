// Public types of the SDK. They mirror the Worker protocol (docs/worker-protocol.md), so a
// function set defined here is described on /health exactly as the deployed engine describes its own.

export type ParamType = 'string' | 'number' | 'boolean' | 'object' | 'array'

/** One input parameter, published verbatim in /health `functions[].params`. */
export interface ParamRule {
  readonly type: ParamType
  readonly required?: boolean
  readonly default?: unknown
  readonly enum?: readonly unknown[]
  /** A RegExp source, tested (unanchored) against string values. */
  readonly pattern?: string
  /** Bounds for number values. */
  readonly min?: number
  readonly max?: number
}

export type ParamRules = Readonly<Record<string, ParamRule>>

interface ParamTypeMap {
  string: string
  number: number
  boolean: boolean
  object: Record<string, unknown>
  array: unknown[]
}

type ValueOf<R extends ParamRule> = R extends { enum: readonly (infer E)[] } ? E : ParamTypeMap[R['type']]
// A value is always present when it is required or has a default.
type Present<R> = R extends { required: true } ? true : R extends { default: NonNullable<unknown> } ? true : false
type Simplify<T> = { [K in keyof T]: T[K] } & {}

/** The validated input a function receives, inferred from its rules (see `defineFunction`). */
export type InputOf<P extends ParamRules> = Simplify<
  { -readonly [K in keyof P as Present<P[K]> extends true ? K : never]: ValueOf<P[K]> } & {
    -readonly [K in keyof P as Present<P[K]> extends true ? never : K]?: ValueOf<P[K]>
  }
>

export type TaskMode = 'sync' | 'stream' | 'webhook'

export interface TaskContext {
  readonly function: string
  readonly mode: TaskMode
  readonly priority: number
  /** Aborted when the HTTP client goes away (or the Worker closes): stop work early. */
  readonly signal: AbortSignal
  /** Present only in stream mode: sends one text/plain chunk to the client. */
  readonly write?: (chunk: string) => void
  /** Appends a line to the Worker's /logs. */
  log(line: string): void
}

export interface WorkerFunction<P extends ParamRules = ParamRules> {
  readonly params: P
  /** The function can answer mode "stream" (it then writes chunks via ctx.write). */
  readonly streams?: boolean
  // Method syntax on purpose: lets a function with narrower inferred input sit in a plain function map.
  run(input: InputOf<P>, ctx: TaskContext): Promise<unknown>
}

export type ServiceStateName = 'up' | 'down' | 'restarting'

export interface ServiceState {
  name: string
  status: unknown
  state: ServiceStateName
}

export interface SlotsSnapshot {
  used: number
  available: number
  limit: number
  queue: number
}

export interface WorkerOptions {
  group: string
  contract: number
  /** How many tasks run at once; more wait inside the Worker in priority order. */
  slots: number
  /** The key callers must present to run tasks (`Authorization`). */
  authKey: string
  /** The load balancer's key (`x-lb-auth`, WebSocket subprotocol). */
  lbAuthKey: string
  functions: Record<string, WorkerFunction>
  tags?: Record<string, string>
  /** Probed on every /health and WebSocket push. */
  services?: () => ServiceState[]
  /** Exposes GET /stats without auth. For tests only. */
  statsEndpoint?: boolean
  /** How many lines /logs keeps (default 1000). */
  logLimit?: number
  /** Start in maintenance (default false). */
  maintenance?: boolean
  /** Largest accepted request body in bytes (default 1 MiB). */
  bodyLimit?: number
}

export interface ListenOptions {
  port: number
  wsPort: number
  /** Default 127.0.0.1. */
  host?: string
}

export interface ListenResult {
  port: number
  wsPort: number
}

export interface SlotwayWorker {
  /** Starts the HTTP and WebSocket servers; port 0 picks a free port, the real ones are returned. */
  listen(options: ListenOptions): Promise<ListenResult>
  /** Closes WebSockets, connections and both servers; running tasks see ctx.signal aborted. */
  /** Stops the Worker; with `drainMs`, first enters maintenance and lets running tasks finish (up to that long). */
  close(options?: { drainMs?: number }): Promise<void>
  /** Same effect as POST /off (true) and POST /on (false). */
  setMaintenance(on: boolean): void
  readonly maintenance: boolean
  slots(): SlotsSnapshot
}
