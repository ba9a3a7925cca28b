import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Router } from 'express'
import type { Redis } from 'ioredis'
import {
  TaskRequest,
  describeIssues,
  poolId,
  stripBearer,
  type GatewayEnv,
  type RedisKeys,
  type SecretBox,
  type TaskJobData,
  type TaskMetrics,
} from '@slotway/shared'
import { ParamError, validateParams } from '@slotway/worker-sdk'
import { HttpError, sendJson, sendJsonText } from '../http-errors.js'
import { REDIS_ANSWER_TIMEOUT_MS, withTimeout } from '../with-timeout.js'
import type { DirectRun } from '../direct-run.js'
import type { IdempotencyKeys } from '../idempotency.js'
import type { PoolCatalog } from '../pool-catalog.js'
import type { ResultWaiter, StreamFrame, WaitResult } from '../result-waiter.js'
import type { TaskQueues } from '../task-queues.js'
import type { TaskStore } from '../task-store.js'

export interface TaskRouteDeps {
  config: GatewayEnv
  keys: RedisKeys
  redis: Redis
  queues: TaskQueues
  waiter: ResultWaiter
  store: TaskStore
  catalog: PoolCatalog
  idempotency: IdempotencyKeys
  secretBox: SecretBox
  metrics: TaskMetrics
  direct: DirectRun
}

function workerKey(req: IncomingMessage): string {
  const key = stripBearer(req.headers['x-wr-auth'] as string | undefined)
  if (!key) throw new HttpError(401, 'WORKER_KEY_MISSING', "the x-wr-auth header must carry the Worker's AUTH_KEY")
  return key
}

function idempotencyKey(req: IncomingMessage): string | undefined {
  const key = req.headers['idempotency-key']
  if (key === undefined) return undefined
  if (typeof key !== 'string' || key.length === 0 || key.length > 255) {
    throw new HttpError(400, 'INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1 to 255 characters')
  }
  return key
}

/** Handles one POST /task whose body is parsed; throws an HttpError for a request it refuses. */
export type TaskSubmitter = (req: IncomingMessage, res: ServerResponse, body: unknown) => Promise<void>

/** Whether a request says its body is JSON (`application/json`, any parameters). */
export function isJsonRequest(req: IncomingMessage): boolean {
  const type = req.headers['content-type']
  return type !== undefined && /^application\/json\s*(;|$)/i.test(type)
}

/** The express route, for requests the plain endpoint leaves to express (see task-endpoint.ts). */
export function taskRoutes(submit: TaskSubmitter): Router {
  const router = Router()
  router.post('/task', (req, res) => submit(req, res, req.body))
  return router
}

/** POST /task: validate, queue in the task's pool (or run at once), and answer as the task's mode asks. */
export function createTaskSubmitter(deps: TaskRouteDeps): TaskSubmitter {
  const { config, queues, waiter, secretBox, redis, store, catalog, idempotency, keys, metrics, direct } = deps

  return async (req, res, body) => {
    const receivedAt = Date.now()
    if (!isJsonRequest(req)) throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the task as JSON (Content-Type: application/json)')
    const auth = workerKey(req)
    const parsed = TaskRequest.safeParse(body)
    if (!parsed.success) {
      const described = describeIssues(parsed.error)
      throw new HttpError(400, 'INVALID_TASK', described.error, { issues: described.issues })
    }
    const task = parsed.data
    const dedupe = idempotencyKey(req)
    // Queueing while Redis is away would hang the request; say so at once instead.
    if (redis.status !== 'ready') throw new HttpError(503, 'QUEUE_UNAVAILABLE', 'the task queue (Redis) is unreachable; try again shortly')
    const pool = poolId(task)
    const offered = await catalog.lookup(pool, task.function)
    if (!offered) {
      throw new HttpError(404, 'NO_WORKER_OFFERS_FUNCTION', `no worker offers this function: "${task.function}" in group "${task.group}", contract ${task.contract}`)
    }
    // Workers answer bad params with a 500, which would be retried in vain: check them here, by the Workers' own rules.
    try {
      validateParams(offered.params, task.input)
    } catch (error) {
      if (error instanceof ParamError) throw new HttpError(400, 'INVALID_PARAMS', error.message, { field: 'input' })
      throw error
    }

    const priority = task.priority ?? config.DEFAULT_PRIORITY
    let retryOf: { workerId: string } | undefined
    if (task.mode === 'sync' && !dedupe) {
      const abort = new AbortController()
      const onClose = () => !res.writableFinished && abort.abort()
      res.on('close', onClose)
      // Any trouble on the direct path (Redis slow or away) sends the task the ordinary way, which says so.
      const redisWait = Math.min(REDIS_ANSWER_TIMEOUT_MS, config.TASK_TIMEOUT)
      const ran = await direct.run(task, pool, auth, priority, abort.signal, redisWait, config.TASK_ATTEMPTS <= 1).catch(() => undefined)
      res.off('close', onClose)
      if (ran?.kind === 'answered') {
        metrics.count('submitted', pool)
        if (!res.destroyed) sendJsonText(res, ran.outcome.status, ran.outcome.body)
        return
      }
      if (ran?.kind === 'retry') {
        metrics.count('submitted', pool)
        if (Date.now() - receivedAt >= config.TASK_TIMEOUT) {
          sendJson(res, 504, { error: `timed out after ${config.TASK_TIMEOUT} ms`, code: 'TASK_TIMEOUT', cause: ran.cause, cancelled: false })
          return
        }
        if (config.TASK_ATTEMPTS <= 1) {
          sendJson(res, ran.status, { success: false, error: `all attempts failed: ${ran.cause}`, code: 'ALL_ATTEMPTS_FAILED', attempts: 1 })
          return
        }
        retryOf = { workerId: ran.workerId }
      }
    }

    const taskId = randomUUID()
    if (dedupe) {
      const earlier = await withTimeout(idempotency.claim(dedupe, taskId))
      if (earlier) return answerDuplicate(res, earlier, pool, task.mode)
    }
    const answersNow = task.mode === 'async' || task.mode === 'webhook'
    const data: TaskJobData = {
      group: task.group,
      function: task.function,
      contract: task.contract,
      priority,
      input: task.input,
      mode: task.mode,
      sealedWorkerAuth: secretBox.seal(auth),
      submittedAt: Date.now(),
      ...(task.webhook ? { webhook: task.webhook } : {}),
      ...(answersNow ? {} : { replyTo: waiter.gatewayId, clientDeadline: receivedAt + config.TASK_TIMEOUT }),
      // Tried once already on the direct path: the queue makes the remaining attempts, elsewhere first.
      ...(retryOf ? { lastWorkerId: retryOf.workerId, attemptsBefore: 1 } : {}),
    }
    const stream = task.mode === 'stream' ? streamTo(res) : undefined
    // The client's wait is TASK_TIMEOUT in all, a direct attempt included.
    const timeLeft = Math.max(1, config.TASK_TIMEOUT - (Date.now() - receivedAt))
    const wait = answersNow ? undefined : waiter.wait(taskId, pool, timeLeft, stream ? { onStream: stream } : {})
    const adding = queues.add(pool, taskId, data, {
      priority: data.priority,
      attempts: retryOf ? config.TASK_ATTEMPTS - 1 : config.TASK_ATTEMPTS,
      backoff: { type: 'exponential', delay: config.TASK_BACKOFF },
      removeOnComplete: { age: config.RESULT_TTL, count: config.RESULT_MAX_COUNT },
      removeOnFail: { age: config.RESULT_TTL, count: config.RESULT_MAX_COUNT },
    })
    try {
      // Whatever the direct attempt took comes off this wait too: the client waits TASK_TIMEOUT at most.
      await withTimeout(adding, Math.min(REDIS_ANSWER_TIMEOUT_MS, Math.max(1, config.TASK_TIMEOUT - (Date.now() - receivedAt))))
    } catch (error) {
      wait?.cancel()
      // The client hears "not queued": make it true even if the add lands later, then free the key for its retry.
      void adding
        .then(() => store.cancel(taskId))
        .catch(() => undefined)
        .then(() => (dedupe ? idempotency.release(dedupe, taskId) : undefined))
        .catch(() => undefined)
      if (error instanceof HttpError) throw error
      throw new HttpError(503, 'QUEUE_UNAVAILABLE', `could not queue the task: ${(error as Error).message}`)
    }
    wait?.queued()
    direct.queued(pool)
    if (!retryOf) metrics.count('submitted', pool)
    if (!wait) {
      sendJson(res, 202, task.mode === 'webhook' ? { success: true, taskId, status: 'queued' } : { taskId, status: 'queued' })
      return
    }
    // The body stays the Worker's own; the id travels in a header, for GET /task/:id.
    res.setHeader('x-slotway-task-id', taskId)
    res.on('close', () => {
      if (res.writableFinished) return
      // The client left: stop waiting, take the task back if it has not started, and abort a running stream.
      wait.cancel()
      // Unless a retry of the same request (Idempotency-Key) still waits for it.
      if (waiter.isAwaited(taskId)) return
      void store.cancel(taskId).catch(() => undefined)
      if (task.mode === 'stream') void redis.publish(keys.cancels, taskId).catch(() => undefined)
    })
    await answer(res, taskId, await wait.result)
  }

  /** A retry of a submission already made: the same task, never a second run. */
  async function answerDuplicate(res: ServerResponse, taskId: string, pool: string, mode: TaskRequest['mode']): Promise<void> {
    if (mode === 'async' || mode === 'webhook') {
      sendJson(res, 202, { ...(mode === 'webhook' ? { success: true } : {}), taskId, status: 'queued', duplicate: true })
      return
    }
    if (mode === 'stream') throw new HttpError(409, 'DUPLICATE_STREAM', 'this Idempotency-Key was already used; a stream cannot be replayed', { taskId })
    const wait = waiter.wait(taskId, pool, config.TASK_TIMEOUT, { checkNow: true })
    res.on('close', () => !res.writableFinished && wait.cancel())
    await answer(res, taskId, await wait.result)
  }

  async function answer(res: ServerResponse, taskId: string, result: WaitResult): Promise<void> {
    if (res.destroyed) return
    switch (result.kind) {
      case 'outcome':
        if (res.headersSent) return void res.end()
        // The Worker's JSON, byte for byte.
        sendJsonText(res, result.outcome.status, result.outcome.body)
        return
      case 'streamed':
        // Headers are out already; a broken stream can only be cut short.
        if (result.error) res.destroy(new Error(result.error))
        else res.end()
        return
      case 'timeout': {
        const cancelled = (await withTimeout(store.cancel(taskId)).catch(() => 'unknown')) === 'cancelled'
        // One that started is stopped too: its client has gone, so no Worker should go on with it, nor retry it.
        if (!cancelled) void redis.publish(keys.cancels, taskId).catch(() => undefined)
        if (res.headersSent) return void res.destroy()
        sendJson(res, 504, { error: `timed out after ${config.TASK_TIMEOUT} ms`, code: 'TASK_TIMEOUT', taskId, cancelled })
        return
      }
      case 'shutdown':
        if (res.headersSent) return void res.destroy()
        sendJson(res, 503, { error: 'the gateway is shutting down; the task goes on: read it with GET /task/:id', code: 'SHUTTING_DOWN', taskId })
        return
      case 'vanished':
        if (res.headersSent) return void res.destroy()
        sendJson(res, 410, { error: 'the task was cancelled, or lost from Redis, before it finished', code: 'TASK_VANISHED', taskId })
        return
      case 'cancelled':
        return
    }
  }

}

/** Writes stream frames to the client as they arrive. */
function streamTo(res: ServerResponse): (frame: StreamFrame) => void {
  return frame => {
    if (res.destroyed) return
    if (frame.kind === 'stream-head') {
      res.statusCode = frame.status
      res.setHeader('content-type', frame.contentType)
      res.flushHeaders()
    } else {
      res.write(frame.chunk)
    }
  }
}
