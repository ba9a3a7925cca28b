import type { Redis } from 'ioredis'
import { decodeFailure, decodeReply, type RedisKeys, type TaskOutcome, type TaskReply } from '@slotway/shared'
import type { TaskQueues } from './task-queues.js'

export type StreamFrame = Extract<TaskReply, { kind: 'stream-head' | 'stream-chunk' }>

export type WaitResult =
  | { kind: 'outcome'; outcome: TaskOutcome }
  | { kind: 'streamed'; error?: string }
  | { kind: 'timeout' }
  | { kind: 'cancelled' }
  /** This gateway is stopping; the task itself goes on. */
  | { kind: 'shutdown' }

interface Waiter {
  pool: string
  settle: (result: WaitResult) => void
  onStream: ((frame: StreamFrame) => void) | undefined
  streaming: boolean
  deadline: NodeJS.Timeout
  recheck: NodeJS.Timeout
}

/**
 * Requests wait here for their task's outcome (or its stream). Dispatchers publish on this
 * gateway's own channel (the task carries our id), so no gateway reads another's results.
 * Because pub/sub can drop a message (e.g. during a reconnect), each waiter also re-reads its
 * task's stored state on a timer. Every waiter is removed on every path.
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
      if (reply) this.deliver(reply)
    })
    await this.subscriber.subscribe(channel)
  }

  /**
   * Register before the task is queued, so that even an instant outcome finds its waiter.
   * With `onStream`, stream frames go there and the deadline stops once the stream has begun.
   * `checkNow` re-reads the stored state at once (for a task that may already be finished).
   */
  wait(taskId: string, pool: string, timeoutMs: number, options: { onStream?: (frame: StreamFrame) => void; checkNow?: boolean } = {}): Promise<WaitResult> {
    return new Promise(resolve => {
      const waiter: Waiter = {
        pool,
        settle: resolve,
        onStream: options.onStream,
        streaming: false,
        deadline: setTimeout(() => this.settle(taskId, { kind: 'timeout' }), timeoutMs),
        recheck: setInterval(() => void this.recheck(taskId), this.recheckMs),
      }
      this.waiters.set(taskId, waiter)
      if (options.checkNow) void this.recheck(taskId)
    })
  }

  /** Stops waiting (the client left, or the task was cancelled). */
  cancel(taskId: string): void {
    this.settle(taskId, { kind: 'cancelled' })
  }

  get pending(): number {
    return this.waiters.size
  }

  private deliver(reply: TaskReply): void {
    const waiter = this.waiters.get(reply.taskId)
    if (!waiter) return
    switch (reply.kind) {
      case 'result':
        if (!waiter.streaming) this.settle(reply.taskId, { kind: 'outcome', outcome: reply })
        return
      case 'stream-head':
        waiter.streaming = true
        clearTimeout(waiter.deadline)
        waiter.onStream?.(reply)
        return
      case 'stream-chunk':
        waiter.onStream?.(reply)
        return
      case 'stream-end':
        this.settle(reply.taskId, reply.error ? { kind: 'streamed', error: reply.error } : { kind: 'streamed' })
        return
    }
  }

  private settle(taskId: string, result: WaitResult): void {
    const waiter = this.waiters.get(taskId)
    if (!waiter) return
    this.waiters.delete(taskId)
    clearTimeout(waiter.deadline)
    clearInterval(waiter.recheck)
    waiter.settle(result)
  }

  private async recheck(taskId: string): Promise<void> {
    const waiter = this.waiters.get(taskId)
    if (!waiter) return
    try {
      const job = await this.queues.get(waiter.pool).getJob(taskId)
      if (!job?.finishedOn || !this.waiters.has(taskId)) return
      const outcome = job.returnvalue ? (job.returnvalue as TaskOutcome) : job.failedReason ? decodeFailure(job.failedReason) : undefined
      if (!outcome) return
      this.settle(taskId, waiter.streaming ? { kind: 'streamed' } : { kind: 'outcome', outcome })
    } catch {
      // Redis away; the next tick tries again, the deadline still holds.
    }
  }

  /** Ends every wait (on shutdown) so no request is left hanging. */
  stop(): void {
    for (const taskId of [...this.waiters.keys()]) this.settle(taskId, { kind: 'shutdown' })
  }
}
