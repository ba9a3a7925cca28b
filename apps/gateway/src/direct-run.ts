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
import type { TaskQueues } from './task-queues.js'
import { withTimeout } from './with-timeout.js'

export type DirectResult =
  /** The Worker's answer, final: a result or the Worker's own refusal. */
  | { kind: 'answered'; outcome: TaskOutcome }
  /** The attempt failed in a way worth retrying: the task goes to the queue, to try elsewhere. */
  | { kind: 'retry'; status: number; cause: string; workerId: string }

/**
 * The fast path of a sync task. When nothing waits in the task's pool and one of its Workers has a
 * free slot, the gateway reserves that slot — in the same ledger, by the same Lua script as the
 * dispatchers, so no Worker is ever oversubscribed — and calls the Worker itself. That saves the
 * queue's round trips and a process hop. A busy pool, a retry, or an Idempotency-Key go through
 * the queue, which is also what keeps priority order: nothing skips a task that is waiting.
 */
export class DirectRun {
  private readonly renewal: NodeJS.Timeout

  constructor(
    private readonly deps: {
      ledger: SlotLedger
      directory: WorkerDirectory
      queues: TaskQueues
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

  /** Runs the task at once, or returns undefined when it has to queue. */
  /** `waitMs` bounds the wait for Redis; `lastAttempt` says a failure here is final (counted as failed, not retried). */
  async run(task: TaskRequest, pool: string, workerAuth: string, priority: number, signal: AbortSignal, waitMs: number, lastAttempt: boolean): Promise<DirectResult | undefined> {
    const { ledger, directory, queues, metrics } = this.deps
    const candidates = directory.readyInPool(pool).map(worker => worker.id)
    if (candidates.length === 0) return undefined
    const queue = queues.get(pool)
    // Bounded: a Redis that does not answer must not hold the request; a reservation that lands after we
    // gave up is given back at once.
    const reserving = ledger.reserve(pool, candidates, '', 1, [queue.toKey('wait'), queue.toKey('prioritized')])
    let reservation
    try {
      ;[reservation] = await withTimeout(reserving, waitMs)
    } catch (error) {
      void reserving.then(late => Promise.all(late.map(r => ledger.release(r)))).catch(() => undefined)
      throw error
    }
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
      void ledger.release(reservation).catch(error => this.deps.logger.warn('slot release failed', { error: String(error) }))
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

  stop(): void {
    clearInterval(this.renewal)
  }
}
