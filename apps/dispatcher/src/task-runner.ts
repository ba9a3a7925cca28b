import { UnrecoverableError, type Job } from 'bullmq'
import type { Redis } from 'ioredis'
import {
  encodeFailure,
  encodeReply,
  type Logger,
  type RedisKeys,
  type SecretBox,
  type TaskJobData,
  type TaskOutcome,
  type WorkerDirectory,
} from '@slotway/shared'
import type { Reservation, SlotLedger } from './slot-ledger.js'
import type { WorkerCallResult } from './worker-client.js'

export interface TaskRunnerDeps {
  redis: Redis
  keys: RedisKeys
  ledger: SlotLedger
  directory: WorkerDirectory
  secretBox: SecretBox
  lbAuthKey: string
  callWorker: (url: string, headers: Record<string, string>, body: string) => Promise<WorkerCallResult>
  logger: Logger
}

/** What a Worker's answer means for the task. */
type Verdict =
  | { kind: 'done'; outcome: TaskOutcome }
  /** The Worker refused the task itself (4xx): the client's mistake, never retried. */
  | { kind: 'rejected'; outcome: TaskOutcome }
  /** Worth another attempt, preferably elsewhere. */
  | { kind: 'retry'; status: number; cause: string }

function judge(result: WorkerCallResult): Verdict {
  if (result.kind === 'unreachable') return { kind: 'retry', status: 502, cause: result.cause }
  if (result.kind === 'timed-out') return { kind: 'retry', status: 504, cause: result.cause }
  if (result.status >= 200 && result.status < 300) return { kind: 'done', outcome: { status: result.status, body: result.body } }
  if (result.status >= 400 && result.status < 500) return { kind: 'rejected', outcome: { status: result.status, body: result.body } }
  return { kind: 'retry', status: result.status, cause: workerError(result.body) ?? `Worker answered ${result.status}` }
}

function workerError(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: unknown }
    return typeof parsed.error === 'string' ? parsed.error : undefined
  } catch {
    return undefined
  }
}

/** Runs one task on the Worker its slot is on, then records and reports the outcome. */
export class TaskRunner {
  constructor(private readonly deps: TaskRunnerDeps) {}

  async run(job: Job<TaskJobData>, token: string, reservation: Reservation): Promise<void> {
    const { deps } = this
    const data = job.data
    const worker = deps.directory.get(reservation.workerId)
    let result: WorkerCallResult
    try {
      if (!worker) {
        result = { kind: 'unreachable', cause: 'Worker left the registry' }
      } else {
        const headers = {
          authorization: deps.secretBox.open(data.sealedWorkerAuth),
          'x-lb-auth': deps.lbAuthKey,
        }
        const body = JSON.stringify({
          function: data.function,
          input: data.input,
          contract: data.contract,
          priority: data.priority,
          mode: 'sync',
        })
        result = await deps.callWorker(`${worker.url}/task`, headers, body)
      }
    } finally {
      // The slot is free the moment the Worker has answered, whatever we do next.
      void deps.ledger.release(reservation).catch(error => deps.logger.warn('slot release failed', { error: String(error) }))
    }

    const verdict = judge(result)
    const workerId = reservation.workerId
    if (verdict.kind === 'done') {
      await Promise.all([
        this.reply(job, { ...verdict.outcome, workerId }),
        job.moveToCompleted({ ...verdict.outcome, workerId }, token, false),
      ])
      return
    }
    if (verdict.kind === 'rejected') {
      const outcome = { ...verdict.outcome, workerId }
      await Promise.all([this.reply(job, outcome), job.moveToFailed(new UnrecoverableError(encodeFailure(outcome)), token, false)])
      return
    }

    const attempts = job.opts.attempts ?? 1
    const finalAttempt = job.attemptsMade + 1 >= attempts
    deps.logger.debug('task attempt failed', { taskId: job.id, workerId, cause: verdict.cause, finalAttempt })
    if (!finalAttempt) {
      // Remember where it failed, so the next attempt prefers another Worker.
      await job.updateData({ ...data, lastWorkerId: workerId })
      await job.moveToFailed(new Error(verdict.cause), token, false)
      return
    }
    const outcome: TaskOutcome = {
      status: verdict.status,
      body: JSON.stringify({
        success: false,
        error: `all attempts failed: ${verdict.cause}`,
        taskId: job.id,
        attempts,
      }),
      workerId,
    }
    await Promise.all([this.reply(job, outcome), job.moveToFailed(new UnrecoverableError(encodeFailure(outcome)), token, false)])
  }

  /** Sends a finished task's outcome to the one gateway holding its client, if any. */
  reply(job: Job<TaskJobData>, outcome: TaskOutcome): Promise<unknown> {
    const gateway = job.data.replyTo
    if (!gateway || !job.id) return Promise.resolve()
    return this.deps.redis.publish(this.deps.keys.replies(gateway), encodeReply({ taskId: job.id, ...outcome }))
  }
}
