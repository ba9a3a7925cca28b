import type { TaskMode, WorkerFunction } from './types.js'

// Turns a POST /task body into a runnable request, or the 400/404 the engine answers. The checks,
// their order and their coercions (Number(priority), falsy mode = sync, …) copy the deployed engine,
// because clients and the load balancer already depend on exactly these answers.

export const MAX_PRIORITY = 2097152
const MODES: readonly string[] = ['sync', 'stream', 'webhook']

export interface Webhook {
  url: string
  headers: Record<string, string>
}

export interface TaskRequest {
  name: string
  fn: WorkerFunction
  input: object | undefined
  priority: number
  mode: TaskMode
  webhook: Webhook | undefined
}

export interface TaskRejection {
  status: 400 | 404
  error: string
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null

function webhookHeaders(value: unknown): Record<string, string> {
  if (!isObject(value) || Array.isArray(value)) return {}
  const out: Record<string, string> = {}
  for (const [name, v] of Object.entries(value)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[name] = String(v)
  }
  return out
}

export function parseTaskRequest(
  body: unknown,
  functions: Readonly<Record<string, WorkerFunction>>,
  workerContract: number,
): TaskRequest | TaskRejection {
  // A JSON body that is not an object (null, 5, "x") carries no fields: the checks below reject it.
  const b = isObject(body) ? body : {}
  const { function: name, input, contract, mode, webhook } = b
  const priority = Number(b.priority ?? 1)
  if (!Number.isInteger(priority) || priority < 1 || priority > MAX_PRIORITY) {
    return { status: 400, error: `Invalid priority: must be between 1 and ${MAX_PRIORITY}` }
  }
  if (!name || typeof name !== 'string') return { status: 400, error: 'Missing or invalid function name' }
  if (!contract || typeof contract !== 'number') return { status: 400, error: 'Missing or invalid contract' }
  if (contract !== workerContract) {
    return { status: 400, error: `Contract version mismatch: requested ${contract}, worker is ${workerContract}` }
  }
  if (input !== undefined && !isObject(input)) return { status: 400, error: 'Invalid input: must be an object' }
  if (mode && (typeof mode !== 'string' || !MODES.includes(mode))) return { status: 400, error: 'Invalid mode' }
  // Own keys only, so "toString" is an unknown function rather than Object.prototype's.
  const fn = Object.hasOwn(functions, name) ? functions[name] : undefined
  if (!fn) return { status: 404, error: `Function '${name}' not found` }
  const taskMode = (mode || 'sync') as TaskMode
  if (taskMode === 'stream' && fn.streams !== true) return { status: 400, error: `Function '${name}' does not support streaming` }
  let hook: Webhook | undefined
  if (taskMode === 'webhook') {
    const url = isObject(webhook) ? webhook.url : undefined
    if (typeof url !== 'string') return { status: 400, error: 'Missing or invalid webhook.url for mode webhook' }
    hook = { url, headers: webhookHeaders(isObject(webhook) ? webhook.headers : undefined) }
  }
  return { name, fn, input, priority, mode: taskMode, webhook: hook }
}
