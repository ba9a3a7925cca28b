import { Queue, type Job } from 'bullmq'
import type { Redis } from 'ioredis'
import {
  WEBHOOK_QUEUE,
  decodeFailure,
  isPoolId,
  type RedisKeys,
  type TaskJobData,
  type TaskOutcome,
  type WebhookJobData,
  type WorkerDirectory,
} from '@slotway/shared'
import type { TaskQueues } from './task-queues.js'

export type TaskStatus = 'queued' | 'active' | 'completed' | 'failed' | 'cancelled'

export interface WebhookDelivery {
  state: 'pending' | 'delivered' | 'failed'
  attempts: number
  lastError?: string
  deliveredAt?: string
}

export interface TaskView {
  taskId: string
  status: TaskStatus
  group?: string
  function?: string
  contract?: number
  priority?: number
  mode?: string
  attempts: number
  createdAt?: string
  startedAt?: string | null
  finishedAt?: string | null
  worker?: string | null
  result?: unknown
  error?: string
  httpStatus?: number
  webhook?: WebhookDelivery
}

export type CancelResult = 'cancelled' | 'started' | 'finished' | 'not-found'

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null)

/** Reads and cancels tasks by id alone; the pool is found by asking every known pool's queue at once. */
export class TaskStore {
  readonly webhooks: Queue<WebhookJobData>

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly queues: TaskQueues,
    private readonly directory: WorkerDirectory,
    private readonly resultTtlSeconds: number,
  ) {
    this.webhooks = new Queue<WebhookJobData>(WEBHOOK_QUEUE, { connection: redis, prefix: keys.bullPrefix })
  }

  async find(taskId: string): Promise<Job<TaskJobData> | undefined> {
    const pools = (await this.redis.smembers(this.keys.pools)).filter(isPoolId)
    if (pools.length === 0) return undefined
    const pipeline = this.redis.pipeline()
    for (const pool of pools) pipeline.exists(this.queues.get(pool).toKey(taskId))
    const found = (await pipeline.exec()) ?? []
    const index = found.findIndex(([, exists]) => exists === 1)
    if (index < 0) return undefined
    return (await this.queues.get(pools[index]!).getJob(taskId)) ?? undefined
  }

  async view(taskId: string): Promise<TaskView | undefined> {
    const found = await this.find(taskId)
    if (!found) {
      return (await this.redis.exists(this.keys.cancelled(taskId))) ? { taskId, status: 'cancelled', attempts: 0 } : undefined
    }
    const { job, state } = await settled(found, this.queues.get(found.queueName))
    const status: TaskStatus = state === 'active' ? 'active' : state === 'completed' ? 'completed' : state === 'failed' ? 'failed' : 'queued'
    const data = job.data
    const view: TaskView = {
      taskId,
      status,
      group: data.group,
      function: data.function,
      contract: data.contract,
      priority: data.priority,
      mode: data.mode,
      attempts: job.attemptsStarted ?? job.attemptsMade,
      createdAt: iso(job.timestamp) ?? undefined,
      startedAt: iso(job.processedOn),
      finishedAt: iso(job.finishedOn),
      worker: null,
    }
    const outcome: TaskOutcome | undefined =
      status === 'completed' ? (job.returnvalue as TaskOutcome) : status === 'failed' ? decodeFailure(job.failedReason) : undefined
    if (outcome) {
      view.httpStatus = outcome.status
      view.worker = outcome.workerId ? (this.directory.get(outcome.workerId)?.url ?? outcome.workerId) : null
      const body = parseBody(outcome.body)
      if (status === 'completed') view.result = body?.result ?? null
      else view.error = typeof body?.error === 'string' ? body.error : (job.failedReason ?? 'failed')
    }
    if (data.mode === 'webhook') view.webhook = await this.delivery(taskId, status)
    return view
  }

  private async delivery(taskId: string, status: TaskStatus): Promise<WebhookDelivery | undefined> {
    const found = await this.webhooks.getJob(taskId)
    if (!found) return status === 'completed' || status === 'failed' ? undefined : { state: 'pending', attempts: 0 }
    const { job, state } = await settled(found, this.webhooks)
    const delivery: WebhookDelivery = {
      state: state === 'completed' ? 'delivered' : state === 'failed' ? 'failed' : 'pending',
      attempts: job.attemptsMade,
    }
    if (job.failedReason) delivery.lastError = job.failedReason
    if (state === 'completed' && job.finishedOn) delivery.deliveredAt = new Date(job.finishedOn).toISOString()
    return delivery
  }

  /** Removes a task that has not started; a started or finished one is left alone. */
  async cancel(taskId: string): Promise<CancelResult> {
    const job = await this.find(taskId)
    if (!job) return (await this.redis.exists(this.keys.cancelled(taskId))) ? 'cancelled' : 'not-found'
    const state = await job.getState()
    if (state === 'active') return 'started'
    if (state === 'completed' || state === 'failed') return 'finished'
    try {
      // BullMQ refuses to remove a job a dispatcher has just locked; then it has started.
      await job.remove()
    } catch {
      return 'started'
    }
    await this.redis.set(this.keys.cancelled(taskId), '1', 'EX', this.resultTtlSeconds)
    return 'cancelled'
  }

  close(): Promise<void> {
    return this.webhooks.close()
  }
}

/**
 * A job's state together with fields that match it: a job that finished between reading it and
 * reading its state is read again, so a "completed" never comes with the figures of before.
 */
async function settled<T extends Job>(job: T, queue: { getJob(id: string): Promise<T | undefined> }): Promise<{ job: T; state: string }> {
  const state = await job.getState()
  if ((state === 'completed' || state === 'failed') && !job.finishedOn) return { job: (await queue.getJob(job.id!)) ?? job, state }
  return { job, state }
}

function parseBody(body: string): { result?: unknown; error?: unknown } | undefined {
  try {
    return JSON.parse(body) as { result?: unknown; error?: unknown }
  } catch {
    return undefined
  }
}
