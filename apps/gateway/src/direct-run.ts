import {
  judgeWorkerAnswer,
  workerTaskRequest,
  type Logger,
  type SlotLedger,
  type TaskMetrics,
  type TaskOutcome,
  type TaskRequest,
  type WorkerClient,
  type WorkerDirectory,
} from '@slotway/shared'
import type { DirectSlots } from './direct-slots.js'

export type DirectResult =
  /** The Worker's answer, final: a result or the Worker's own refusal. */
  | { kind: 'answered'; outcome: TaskOutcome }
  /** The attempt failed in a way worth retrying: the task goes to the queue, to try elsewhere. */
  | { kind: 'retry'; status: number; cause: string; workerId: string }

/**
 * The fast path of a sync task. When nothing waits in the task's pool and one of its Workers has a
 * free slot, the gateway takes that slot — reserved in the same ledger as the dispatchers', so no
 * Worker is ever oversubscribed, and usually already held from the task before (see DirectSlots) —
 * and calls the Worker itself. That saves the queue's round trips and a process hop. A busy pool,
 * a retry, or an Idempotency-Key go through the queue, which is also what keeps priority order:
 * nothing skips a task that is waiting.
 */
export class DirectRun {
  private readonly renewal: NodeJS.Timeout

  constructor(
    private readonly deps: {
      ledger: SlotLedger
      slots: DirectSlots
      directory: WorkerDirectory
      callWorker: WorkerClient
      lbAuthKey: string
      metrics: TaskMetrics
      leaseMs: number
      logger: Logger
    },
  ) {
    // Keep the leases of long calls alive, as dispatchers do.
    this.renewal = setInterval(() => void deps.ledger.renewAll().catch(() => undefined), Math.floor(deps.leaseMs / 3))
    this.renewal.unref()
  }

  /**
   * Runs the task at once, or returns undefined when it has to queue. `waitMs` bounds the wait for
   * Redis; `lastAttempt` says a failure here is final (counted as failed, not retried).
   */
  async run(task: TaskRequest, pool: string, workerAuth: string, priority: number, signal: AbortSignal, waitMs: number, lastAttempt: boolean): Promise<DirectResult | undefined> {
    const { slots, directory, metrics } = this.deps
    // Bounded: a Redis that does not answer must not hold the request.
    const reservation = await slots.take(pool, waitMs)
    if (!reservation) return undefined
    const worker = directory.get(reservation.workerId)
    const startedAt = Date.now()
    let answer
    try {
      answer = worker
        ? await this.deps.callWorker({
            ...workerTaskRequest(worker.url, { ...task, priority, mode: 'sync' }, { workerAuth, lbAuthKey: this.deps.lbAuthKey }),
            signal,
          })
        : ({ kind: 'unreachable', cause: 'Worker left the registry' } as const)
    } finally {
      slots.give(reservation, answer?.kind === 'answered')
    }
    const verdict = judgeWorkerAnswer(answer)
    metrics.observe('queue_wait', pool, 0)
    metrics.observe('run_time', pool, (Date.now() - startedAt) / 1000)
    if (verdict.kind === 'retry') {
      metrics.count(lastAttempt ? 'failed' : 'retried', pool)
      return { kind: 'retry', status: verdict.status, cause: verdict.cause, workerId: reservation.workerId }
    }
    metrics.count(verdict.kind === 'done' ? 'completed' : 'failed', pool)
    return { kind: 'answered', outcome: { ...verdict.outcome, workerId: reservation.workerId } }
  }

  /** The task is going to the pool's queue: the direct path steps aside until it is empty. */
  queued(pool: string): void {
    this.deps.slots.queued(pool)
  }

  stop(): void {
    clearInterval(this.renewal)
    this.deps.slots.stop()
  }
}
