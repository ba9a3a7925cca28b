import { randomUUID } from 'node:crypto'
import { Router, type Request } from 'express'
import type { Redis } from 'ioredis'
import {
  TaskRequest,
  describeIssues,
  poolId,
  stripBearer,
  type GatewayEnv,
  type SecretBox,
  type TaskJobData,
} from '@slotway/shared'
import { HttpError } from '../http-errors.js'
import type { ResultWaiter } from '../result-waiter.js'
import type { TaskQueues } from '../task-queues.js'

export interface TaskRouteDeps {
  config: GatewayEnv
  redis: Redis
  queues: TaskQueues
  waiter: ResultWaiter
  secretBox: SecretBox
}

function workerKey(req: Request): string {
  const key = stripBearer(req.headers['x-wr-auth'] as string | undefined)
  if (!key) throw new HttpError(401, 'WORKER_KEY_MISSING', "the x-wr-auth header must carry the Worker's AUTH_KEY")
  return key
}

/** POST /task: validate, queue in the task's pool, and (in sync mode) answer with the Worker's result. */
export function taskRoutes(deps: TaskRouteDeps): Router {
  const { config, queues, waiter, secretBox, redis } = deps
  const router = Router()

  router.post('/task', async (req, res) => {
    if (!req.is('application/json')) throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the task as JSON (Content-Type: application/json)')
    const auth = workerKey(req)
    const parsed = TaskRequest.safeParse(req.body)
    if (!parsed.success) {
      const described = describeIssues(parsed.error)
      throw new HttpError(400, 'INVALID_TASK', described.error, { issues: described.issues })
    }
    const task = parsed.data
    if (task.mode === 'stream' || task.mode === 'webhook') {
      throw new HttpError(501, 'MODE_NOT_SUPPORTED', `mode "${task.mode}" is not supported yet`)
    }
    // Queueing while Redis is away would hang the request; say so at once instead.
    if (redis.status !== 'ready') throw new HttpError(503, 'QUEUE_UNAVAILABLE', 'the task queue (Redis) is unreachable; try again shortly')

    const pool = poolId(task)
    const taskId = randomUUID()
    const sync = task.mode === 'sync'
    const data: TaskJobData = {
      group: task.group,
      function: task.function,
      contract: task.contract,
      priority: task.priority ?? config.DEFAULT_PRIORITY,
      input: task.input,
      mode: task.mode,
      sealedWorkerAuth: secretBox.seal(auth),
      submittedAt: Date.now(),
      ...(sync ? { replyTo: waiter.gatewayId } : {}),
    }
    const outcome = sync ? waiter.wait(taskId, pool, config.TASK_TIMEOUT) : undefined
    try {
      await queues.add(pool, taskId, data, {
        priority: data.priority,
        attempts: config.TASK_ATTEMPTS,
        backoff: { type: 'exponential', delay: config.TASK_BACKOFF },
        removeOnComplete: { age: config.RESULT_TTL },
        removeOnFail: { age: config.RESULT_TTL },
      })
    } catch (error) {
      waiter.cancel(taskId)
      throw new HttpError(503, 'QUEUE_UNAVAILABLE', `could not queue the task: ${(error as Error).message}`)
    }
    if (!outcome) {
      res.status(202).json({ taskId, status: 'queued' })
      return
    }
    res.on('close', () => waiter.cancel(taskId))
    const result = await outcome
    if (res.writableEnded || res.destroyed) return
    if (!result) {
      res.status(504).json({ error: `timed out after ${config.TASK_TIMEOUT} ms`, code: 'TASK_TIMEOUT', taskId })
      return
    }
    // The Worker's JSON, byte for byte.
    res.status(result.status).type('application/json').send(result.body)
  })

  return router
}
