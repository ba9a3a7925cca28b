import { UnrecoverableError, type Job, type Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import {
  INLINE_REPLY_LIMIT,
  encodeFailure,
  encodeReply,
  type Logger,
  type RedisKeys,
  type SecretBox,
  type TaskJobData,
  type TaskOutcome,
  type TaskMetrics,
  type TaskReply,
  type WebhookJobData,
  type WorkerDirectory,
  type Reservation,
  type SlotLedger,
  type WorkerCallResult,
  type WorkerClient,
  type Verdict,
  judgeWorkerAnswer,
  workerTaskRequest,
} from '@slotway/shared'

export interface TaskRunnerDeps {
  redis: Redis
  keys: RedisKeys
  ledger: SlotLedger
  directory: WorkerDirectory
  secretBox: SecretBox
  lbAuthKey: string
  callWorker: WorkerClient
  webhooks: Queue<WebhookJobData>
  webhookAttempts: number
  webhookBackoffMs: number
  metrics: TaskMetrics
  /** A sync task older than this has had its answer (a 504): retrying it would serve nobody. */
  syncTimeoutMs: number
  logger: Logger
}

/**
 * A task that completed hands its slot straight to the next task waiting in the pool: the next job
 * comes back from the same Redis call that completes this one, already taken for us, so a busy
 * pool costs one queue script per task, and no slot release, reservation or wake-up.
 */
export interface Handover {
  next: unknown[]
  reservation: Reservation
}

/** Runs one task on the Worker its slot is on, then records and reports the outcome. */
export class TaskRunner {
  /** Worker calls in flight, so a client that leaves can abort its own. */
  private readonly inFlight = new Map<string, AbortController>()

  constructor(private readonly deps: TaskRunnerDeps) {}

  /** A client gave up on `taskId`; if this process runs it, stop the Worker call. */
  cancel(taskId: string): void {
    this.inFlight.get(taskId)?.abort()
  }

  /** When `fetchNext()` says so as the task ends, a task that completes may return the pool's next task, on the same slot. */
  async run(job: Job<TaskJobData>, token: string, reservation: Reservation, fetchNext: () => boolean = () => false): Promise<Handover | undefined> {
    const { deps } = this
    const data = job.data
    const taskId = job.id!
    const worker = deps.directory.get(reservation.workerId)
    const abort = new AbortController()
    this.inFlight.set(taskId, abort)
    const startedAt = Date.now()
    let result: WorkerCallResult
    let answered = false
    let workerAuth: string
    try {
      workerAuth = deps.secretBox.open(data.sealedWorkerAuth)
    } catch {
      // Sealed under another LB_AUTH_KEY (or damaged): no attempt can ever succeed, so fail it now.
      this.release(reservation)
      this.inFlight.delete(taskId)
      await this.fail(job, token, {
        status: 500,
        body: JSON.stringify({ success: false, error: "the task's Worker key cannot be read (was it queued under another LB_AUTH_KEY?)", taskId }),
      })
      return undefined
    }
    try {
      if (!worker) {
        result = { kind: 'unreachable', cause: 'Worker left the registry' }
      } else {
        const streaming = data.mode === 'stream'
        result = await deps.callWorker({
          // Webhooks are delivered by Slotway itself (signed, retried), so the Worker runs them as sync.
          ...workerTaskRequest(worker.url, { ...data, mode: streaming ? 'stream' : 'sync' }, { workerAuth, lbAuthKey: deps.lbAuthKey }),
          signal: abort.signal,
          ...(streaming
            ? {
                stream: {
                  onHead: (status, contentType) => void this.reply(job, { kind: 'stream-head', taskId, status, contentType }),
                  onChunk: chunk => void this.reply(job, { kind: 'stream-chunk', taskId, chunk }),
                },
              }
            : {}),
        })
      }
      answered = true
    } finally {
      this.inFlight.delete(taskId)
      if (!answered) this.release(reservation)
    }

    const verdict = judgeWorkerAnswer(result)
    // The slot is free the moment the Worker has answered: given back now, unless it passes to the next task.
    const handingOver = verdict.kind === 'done' && fetchNext()
    if (!handingOver) this.release(reservation)
    const workerId = reservation.workerId
    const attempts = job.opts.attempts ?? 1
    const clientGone = (data.mode === 'sync' || data.mode === 'stream') && Date.now() >= (data.clientDeadline ?? job.timestamp + deps.syncTimeoutMs)
    const finalAttempt = job.attemptsMade + 1 >= attempts || clientGone
    this.measure(job, verdict, startedAt, finalAttempt)
    let handedOn = false
    try {
      if (result.kind === 'streamed') await this.reply(job, { kind: 'stream-end', taskId, ...(result.error ? { error: result.error } : {}) })
      if (verdict.kind === 'done') {
        const outcome = { ...verdict.outcome, workerId }
        if (data.mode === 'webhook') await this.scheduleWebhook(job, outcome)
        // A stream's client already has everything, through the stream frames.
        const [, next] = await Promise.all([result.kind === 'streamed' ? undefined : this.replyOutcome(job, outcome), job.moveToCompleted(outcome, token, handingOver)])
        handedOn = handingOver && Array.isArray(next) && Boolean(next[0])
        return handedOn ? { next: next as unknown[], reservation } : undefined
      }
    } finally {
      // A slot meant for the next task, but no next task (or an error on the way): back to the ledger.
      if (handingOver && !handedOn) this.release(reservation)
    }
    if (verdict.kind === 'rejected') {
      await this.fail(job, token, { ...verdict.outcome, workerId })
      return undefined
    }

    const attemptsInAll = (data.attemptsBefore ?? 0) + attempts
    deps.logger.debug('task attempt failed', { taskId, workerId, cause: verdict.cause, finalAttempt })
    if (!finalAttempt) {
      // Remember where it failed, so the next attempt prefers another Worker.
      await job.updateData({ ...data, lastWorkerId: workerId })
      await job.moveToFailed(new Error(verdict.cause), token, false)
      return undefined
    }
    await this.fail(job, token, {
      status: verdict.status,
      body: JSON.stringify({ success: false, error: `all attempts failed: ${verdict.cause}`, taskId, attempts: attemptsInAll }),
      workerId,
    })
    return undefined
  }

  private release(reservation: Reservation): void {
    void this.deps.ledger.release(reservation).catch(error => this.deps.logger.warn('slot release failed', { error: String(error) }))
  }

  /** Counts the attempt's end (in memory; TaskMetrics writes it out in batches). */
  private measure(job: Job<TaskJobData>, verdict: Verdict, startedAt: number, finalAttempt: boolean): void {
    const pool = job.queueName
    const metrics = this.deps.metrics
    // Queue wait is counted once per task: a task a gateway already tried directly had its count there.
    if (job.attemptsMade === 0 && !job.data.attemptsBefore) metrics.observe('queue_wait', pool, Math.max(0, startedAt - job.timestamp) / 1000)
    metrics.observe('run_time', pool, (Date.now() - startedAt) / 1000)
    if (verdict.kind === 'done') metrics.count('completed', pool)
    else if (verdict.kind === 'rejected' || finalAttempt) metrics.count('failed', pool)
    else metrics.count('retried', pool)
  }

  private async fail(job: Job<TaskJobData>, token: string, outcome: TaskOutcome): Promise<void> {
    await Promise.all([this.replyOutcome(job, outcome), job.moveToFailed(new UnrecoverableError(encodeFailure(outcome)), token, false)])
  }

  /** Queues the delivery of a webhook task's result: the Worker engine's body (the bare result), retried by BullMQ. */
  private async scheduleWebhook(job: Job<TaskJobData>, outcome: TaskOutcome): Promise<void> {
    const webhook = job.data.webhook
    if (!webhook) return
    let result: unknown
    try {
      result = (JSON.parse(outcome.body) as { result?: unknown }).result ?? null
    } catch {
      result = null
    }
    await this.deps.webhooks.add(
      'deliver',
      { taskId: job.id!, url: webhook.url, sealedHeaders: this.deps.secretBox.seal(JSON.stringify(webhook.headers)), body: JSON.stringify(result) },
      {
        jobId: job.id!,
        attempts: this.deps.webhookAttempts,
        backoff: { type: 'exponential', delay: this.deps.webhookBackoffMs },
        removeOnComplete: { age: 24 * 3600 },
        removeOnFail: { age: 24 * 3600 },
      },
    )
  }

  /** Sync and stream clients are waiting on a gateway; the others read the stored outcome when they like. */
  private replyOutcome(job: Job<TaskJobData>, outcome: TaskOutcome): Promise<unknown> {
    if (job.data.mode !== 'sync' && job.data.mode !== 'stream') return Promise.resolve()
    if (outcome.body.length > INLINE_REPLY_LIMIT) return this.reply(job, { kind: 'stored', taskId: job.id! })
    return this.reply(job, { kind: 'result', taskId: job.id!, ...outcome })
  }

  private reply(job: Job<TaskJobData>, reply: TaskReply): Promise<unknown> {
    const gateway = job.data.replyTo
    if (!gateway) return Promise.resolve()
    return this.deps.redis.publish(this.deps.keys.replies(gateway), encodeReply(reply))
  }
}
