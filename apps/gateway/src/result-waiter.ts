import type { Redis } from 'ioredis'
import { decodeFailure, decodeReply, type RedisKeys, type TaskOutcome } from '@slotway/shared'
import type { TaskQueues } from './task-queues.js'

interface Waiter {
  pool: string
  resolve: (outcome: TaskOutcome | undefined) => void
  deadline: NodeJS.Timeout
  recheck: NodeJS.Timeout
}

/**
 * Sync requests wait here for their task's outcome. Dispatchers publish each outcome on this
 * gateway's own channel (the task carries our id), so no gateway reads another's results. Because
 * pub/sub can drop a message (e.g. during a reconnect), each waiter also re-reads its task's stored
 * state on a timer. Every waiter is removed on every path: outcome, timeout, or cancel.
 */
export class ResultWaiter {
  private readonly waiters = new Map<string, Waiter>()

  constructor(
    private readonly subscriber: Redis,
    private readonly keys: RedisKeys,
    readonly gatewayId: string,
    private readonly queues: TaskQueues,
    private readonly recheckMs: number,
  ) {}

  async start(): Promise<void> {
    const channel = this.keys.replies(this.gatewayId)
    this.subscriber.on('message', (from: string, message: string) => {
      if (from !== channel) return
      const reply = decodeReply(message)
      if (reply) this.settle(reply.taskId, reply)
    })
    await this.subscriber.subscribe(channel)
  }

  /** Must be called before the task is queued, so that even an instant outcome finds its waiter. */
  wait(taskId: string, pool: string, timeoutMs: number): Promise<TaskOutcome | undefined> {
    return new Promise(resolve => {
      const waiter: Waiter = {
        pool,
        resolve,
        deadline: setTimeout(() => this.settle(taskId, undefined), timeoutMs),
        recheck: setInterval(() => void this.recheck(taskId), this.recheckMs),
      }
      this.waiters.set(taskId, waiter)
    })
  }

  cancel(taskId: string): void {
    this.settle(taskId, undefined)
  }

  get pending(): number {
    return this.waiters.size
  }

  private settle(taskId: string, outcome: TaskOutcome | undefined): void {
    const waiter = this.waiters.get(taskId)
    if (!waiter) return
    this.waiters.delete(taskId)
    clearTimeout(waiter.deadline)
    clearInterval(waiter.recheck)
    waiter.resolve(outcome)
  }

  private async recheck(taskId: string): Promise<void> {
    const waiter = this.waiters.get(taskId)
    if (!waiter) return
    try {
      const job = await this.queues.get(waiter.pool).getJob(taskId)
      if (!job?.finishedOn) return
      if (job.returnvalue) this.settle(taskId, job.returnvalue as TaskOutcome)
      else if (job.failedReason) this.settle(taskId, decodeFailure(job.failedReason))
    } catch {
      // Redis away; the next tick tries again, the deadline still holds.
    }
  }

  /** Ends every wait (on shutdown) so no request is left hanging. */
  stop(): void {
    for (const taskId of [...this.waiters.keys()]) this.settle(taskId, undefined)
  }
}
