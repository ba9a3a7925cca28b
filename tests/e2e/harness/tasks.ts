import { callGateway } from './cluster.js'

export interface TaskView {
  taskId: string
  status: 'queued' | 'active' | 'completed' | 'failed' | 'cancelled'
  attempts: number
  result?: unknown
  error?: string
  worker?: string | null
  webhook?: { state: string; attempts: number }
  [field: string]: unknown
}

/** Reads a task the way a client does. */
export async function getTask(gatewayUrl: string, taskId: string, lb: string): Promise<TaskView> {
  const response = await callGateway(gatewayUrl, 'GET', `/task/${taskId}`, lb)
  if (response.status !== 200) throw new Error(`GET /task/${taskId} answered ${response.status}`)
  return response.json() as TaskView
}

/**
 * Polls GET /task/:id, as an async client must, until `done` holds. Bounded in time; the
 * interval is short because the state is read from Redis, not computed.
 */
export async function waitForTask(gatewayUrl: string, taskId: string, lb: string, done: (task: TaskView) => boolean = t => t.status === 'completed' || t.status === 'failed', timeoutMs = 20_000): Promise<TaskView> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const task = await getTask(gatewayUrl, taskId, lb)
    if (done(task)) return task
    if (Date.now() > deadline) throw new Error(`task ${taskId} still ${task.status} after ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

/** Polls a test Worker's counters until `done` holds (the Worker offers no push for them). */
export async function waitForStats<T>(read: () => Promise<T>, done: (stats: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const stats = await read()
    if (done(stats)) return stats
    if (Date.now() > deadline) throw new Error(`Worker stats never matched: ${JSON.stringify(stats)}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}
